"""What an answer's rate-limit headers say about the server's quota.

Three families are read, on every answer (429s included):

- the IETF fields (draft-ietf-httpapi-ratelimit-headers): ``RateLimit-Policy:
  "default";q=100;w=60`` and ``RateLimit: "default";r=42;t=17``, and the older drafts'
  ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (with ``100, 100;w=60`` policies);
- the de-facto ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (and ``X-Rate-Limit-*``);
  a reset above 10^9 is an epoch time, otherwise seconds from now;
- the remaining-calls and total-calls headers an API gateway such as Azure API
  Management adds when told to (their names are the API owner's choice: ``Remaining-Calls``
  and ``Total-Calls`` unless the client is given others).

Where several policies are stated, the most restrictive one counts. A field that does not
parse is ignored: headers help pacing, they never break a request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Quota", "read_quota"]

_EPOCH = 1e9
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")
_PARAM = re.compile(r";\s*([a-z]+)\s*=\s*(\d+(?:\.\d+)?)")

_LIMIT = ("ratelimit-limit", "x-ratelimit-limit", "x-rate-limit-limit", "total-calls")
_REMAINING = (
    "ratelimit-remaining",
    "x-ratelimit-remaining",
    "x-rate-limit-remaining",
    "remaining-calls",
)
_RESET = ("ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset")


@dataclass(frozen=True, slots=True)
class Quota:
    """The server's statement of its limit, as far as the headers tell it."""

    limit: float | None = None
    """Requests allowed per ``window``."""
    window: float | None = None
    """Seconds the ``limit`` counts over; None when not stated."""
    remaining: float | None = None
    """Requests left before the quota resets."""
    reset: float | None = None
    """Seconds until it resets."""

    @property
    def rate(self) -> float | None:
        """Requests per second the policy allows over time, when limit and window are known."""
        if self.limit is None or not self.window:
            return None
        return self.limit / self.window


def read_quota(headers: Mapping[str, str], *, wall_clock: float | None = None) -> Quota | None:
    """The quota the headers state, or None when they state none."""
    policy = headers.get("ratelimit-policy")
    current = headers.get("ratelimit")
    limit = window = remaining = reset = None
    if policy:
        limit, window = _tightest_policy(policy)
    if current:
        remaining, reset = _tightest_current(current)
    if limit is None:
        limit_field = _first(headers, _LIMIT)
        if limit_field is not None:
            limit = _number(limit_field)
            # The older drafts: "100, 100;w=60" (the first item, then policies).
            if "w=" in limit_field:
                limit, window = _tightest_policy(limit_field)
    if remaining is None:
        remaining = _number(_first(headers, _REMAINING))
    if reset is None:
        reset = _number(_first(headers, _RESET))
        if reset is not None and reset > _EPOCH:
            reset = max(reset - (time.time() if wall_clock is None else wall_clock), 0.0)
    if limit is None and remaining is None:
        return None
    return Quota(limit=limit, window=window, remaining=remaining, reset=reset)


def _first(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            return value
    return None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    match = _NUMBER.match(value)
    return float(match.group(1)) if match else None


def _items(field: str) -> list[tuple[str, dict[str, float]]]:
    """The comma-separated items of a structured field: (bare value, numeric params)."""
    items = []
    for item in field.split(","):
        head, _, _ = item.partition(";")
        params = {key: float(value) for key, value in _PARAM.findall(item.lower())}
        items.append((head.strip(), params))
    return items


def _tightest_policy(field: str) -> tuple[float | None, float | None]:
    """(quota, window) of the policy allowing the fewest requests per second."""
    best: tuple[float, float] | None = None
    for head, params in _items(field):
        quota = params.get("q")
        if quota is None:
            quota = _number(head)  # the older drafts: "100;w=60"
        window = params.get("w")
        if quota is None or not window:
            continue
        if best is None or quota / window < best[0] / best[1]:
            best = (quota, window)
    return best if best is not None else (None, None)


def _tightest_current(field: str) -> tuple[float | None, float | None]:
    """(remaining, reset) of the item with the fewest requests left."""
    best: tuple[float, float | None] | None = None
    for _, params in _items(field):
        remaining = params.get("r")
        if remaining is not None and (best is None or remaining < best[0]):
            best = (remaining, params.get("t"))
    return best if best is not None else (None, None)
