"""Settings shared by every test directory."""

from __future__ import annotations

import asyncio

# looptime 0.9 (a dev dependency) asks the event loop policy for the current loop around
# every test. Before the first async test of a session, Python 3.11's policy *creates* a
# loop for that question and nobody closes it: its socketpair surfaces later as a
# ResourceWarning, an error under filterwarnings=error, in whichever test is running.
# With the main thread's loop explicitly unset the policy raises instead, which looptime
# handles. (Reproduce: a sync test followed by an async test in a fresh session.)
asyncio.set_event_loop(None)
