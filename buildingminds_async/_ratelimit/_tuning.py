"""The rate gate's tuning constants, in one frozen place.

Each was chosen against ``benchmarks/gate_sim.py`` and the rate benchmarks (token buckets
with and without a burst allowance, fixed windows, rate-limit headers); change one only
with those run side by side. Tests pass a ``dataclasses.replace``d copy.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TUNING", "Tuning"]


@dataclass(frozen=True, slots=True)
class Tuning:
    # -- pacing -------------------------------------------------------------------------
    strict_burst: float = 1.05
    """The pacer's burst: two requests are never sent closer than 95% of an interval, yet
    a turn that came late (timer lateness on a busy loop) makes up 5% of one."""
    min_rate: float = 0.2
    """The slowest the gate ever paces, requests/s."""

    # -- discovery of an unknown rate (AIMD with memory) ---------------------------------
    start_rate: float = 2.0
    """The lowest rate the first 429 of an unpaced run starts pacing at."""
    measure_window: float = 2.0
    """Seconds over which the accepted rate is measured (the first 429's starting point)."""
    decrease: float = 0.9
    """The multiplicative decrease when no rate is known to be sustainable."""
    settle: float = 0.95
    """A rate the gate settles at stays this share of the lowest rate that drew a 429."""
    converged: float = 0.05
    """Within this share below the throttled rate the gate stops probing upwards."""
    probe_step: float = 0.05
    """How far above the throttled rate a converged gate looks now and then."""
    probe_interval: float = 60.0
    """Seconds between those looks."""
    hold_requests: float = 3.0
    """A rate must run this many intervals without a 429 before it counts as sustainable..."""
    min_hold: float = 0.25
    """... and at least this many seconds ..."""
    max_hold: float = 2.0
    """... and at most this many (in slow start)."""
    near: float = 0.9
    """Above this share of the throttled rate the hold is long (``near_hold``)..."""
    near_hold: float = 5.0
    """... seconds: a burst allowance absorbs a small excess for ``burst / excess`` s."""

    # -- the token-bucket estimate -------------------------------------------------------
    estimate_margin: float = 0.97
    """The gate settles at this share of the rate the episodes' line estimates."""

    # -- fixed windows and rate-limit headers --------------------------------------------
    long_retry_after: float = 2.0
    """A Retry-After of this many seconds or more ends a window (a gateway counting N calls
    per period), not one interval of a bucket: the rate is what the window let through
    over the window's length, never what one long pause suggests."""
    header_margin: float = 0.98
    """The gate paces at this share of the rate a ``RateLimit-Policy`` (or the like) says,
    with a burst of exactly 1: never closer than one interval, and 2% kept for the timer
    lateness a burst of ``strict_burst`` would make up for."""


TUNING = Tuning()
