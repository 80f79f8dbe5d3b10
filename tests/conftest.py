"""Settings shared by every test directory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx2

# respx (the dev dependency the client tests mock the API with) is written against httpx
# and checks that a route's response is an `httpx.Response`. Aliasing `httpx` to httpx2
# for the test process, before anything imports it, makes respx build and accept the very
# classes the SDK uses. Only the tests do this: the package imports httpx2 and nothing
# else (test_the_package_never_imports_the_old_httpx proves it in a clean interpreter).
httpx2.alias_httpx()

import pytest  # noqa: E402
import secret_hygiene  # noqa: E402

# looptime 0.9 (a dev dependency) asks the event loop policy for the current loop around
# every test. Before the first async test of a session, Python 3.11's policy *creates* a
# loop for that question and nobody closes it: its socketpair surfaces later as a
# ResourceWarning, an error under filterwarnings=error, in whichever test is running.
# With the main thread's loop explicitly unset the policy raises instead, which looptime
# handles. (Reproduce: a sync test followed by an async test in a fresh session.)
asyncio.set_event_loop(None)


# -- secret hygiene (tests/secret_hygiene.py) --------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def _secret_hygiene() -> Iterator[None]:
    with secret_hygiene.watching():
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when != "teardown":
        return report
    for name, content in report.sections:
        secret_hygiene.scan(f"captured {name}", content)
    secret_hygiene.scan_files(getattr(item, "funcargs", {}).get("tmp_path"))
    leaks = secret_hygiene.leaks
    if leaks and report.passed:
        report.outcome = "failed"
        report.longrepr = "secret hygiene: " + "; ".join(dict.fromkeys(leaks))
    leaks.clear()
    return report
