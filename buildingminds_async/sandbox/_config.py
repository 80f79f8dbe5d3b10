"""The knobs of a sandbox: one frozen value, replaced as a whole by ``configure()``.

Each default is chosen for the sandbox's main users (tests and the demo) and says why.
The real API documents no limits at all (REFERENCE section 10): where the sandbox sets
one by default it is a limit a well-behaved client must cope with anyway.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

__all__ = ["RateLimitHeaders", "RateLimitScope", "SandboxConfig", "SecretSlot"]

RateLimitScope = Literal["all", "push"]
RateLimitHeaders = Literal["ietf", "x-ratelimit", "gateway"]
SecretSlot = Literal["primary", "secondary"]

API_BASE_PATH: Final = "/api/digitaltwinintegration"
DEFAULT_CLIENT_ID: Final = "buildingminds-sandbox-client"
DEFAULT_CLIENT_SECRET: Final = "sandbox-secret-primary"
DEFAULT_SECONDARY_CLIENT_SECRET: Final = "sandbox-secret-secondary"
DEFAULT_SCOPE: Final = "api://buildingminds-sandbox"
DEFAULT_TENANT: Final = "buildingminds-sandbox.onmicrosoft.com"

# Paging of the batch endpoints (undocumented by the API): 100 by default, as the SDK
# pages; at most 1000 so one answer stays small. A larger limit is a 400.
DEFAULT_PAGE_LIMIT: Final = 100
MAX_PAGE_LIMIT: Final = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """What a sandbox does; every field can be changed while it runs.

    Attributes:
        client_secret: the primary secret of the demo client.
        secondary_client_secret: the second valid secret (rotation), or None.
        expired_secrets: slots whose secret is answered with Entra's "secret expired"
            error (AADSTS7000222) instead of a token.
        token_lifetime: ``expires_in`` of new tokens, in seconds. 3599 as Entra ID
            answers for a one-hour token.
        processing_delay: seconds from a push to its records' final status (New for the
            first part, InProgress, GeoCodingSuccessful for addresses, then Completed).
            0 by default, so tests need no waiting: records settle on the next request
            or ledger read. The command line uses 1 s so a human sees the statuses.
        bad_postcodes: addresses with one of these postal codes end FailedGeoCoding.
            "00000" by default, so a demo can show a geocoding failure.
        failed_probability: chance that a record ends Failed (seeded by
            ``processing_seed``).
        transformation_failed_probability: chance that a record ends
            TransformationFailed.
        retrying_probability: chance that a record goes through Retrying once before
            its outcome.
        processing_seed: seed of the random draws above (reproducible runs).
        rate_limit: allowed API requests per second per client (a token bucket), or
            None for no limit. None by default: the real API documents no rate limit
            and the benchmarks push as fast as they can.
        burst: capacity of the token bucket. 1 by default, like nginx ``limit_req``
            without ``burst=``: the strictest realistic server, so a client that paces
            evenly passes here and anywhere else.
        rate_limit_window: None for a token bucket; a number of seconds for a fixed
            window instead, letting ``rate_limit x rate_limit_window`` requests through
            per window (counted from its first request, as an API gateway's
            ``rate-limit`` policy does) and refusing the rest with ``Retry-After`` until
            the window ends. ``burst`` does not apply to it.
        rate_limit_headers: None (the default, like nginx), or the family of rate-limit
            headers every answer the limiter counted carries: ``"ietf"``
            (``RateLimit-Policy`` and ``RateLimit``), ``"x-ratelimit"``
            (``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset``) or ``"gateway"``
            (``Remaining-Calls`` and ``Total-Calls``).
        rate_limit_scope: ``"all"`` API requests (pushes and batch queries, as an API
            gateway limits a key) or only ``"push"`` requests. The token endpoint and
            the ``/_sandbox`` admin endpoints are never limited.
        max_records: most records in one push (413 above it), or None. 1000 by default:
            twice the SDK's default chunk, so the default SDK never sees a 413 and an
            oversized chunk is caught.
        max_body_bytes: largest push body in bytes (413 above it), or None. 4 MiB by
            default, within common API gateway limits.
    """

    client_secret: str = DEFAULT_CLIENT_SECRET
    secondary_client_secret: str | None = DEFAULT_SECONDARY_CLIENT_SECRET
    expired_secrets: frozenset[SecretSlot] = frozenset()
    token_lifetime: int = 3599
    processing_delay: float = 0.0
    bad_postcodes: frozenset[str] = frozenset({"00000"})
    failed_probability: float = 0.0
    transformation_failed_probability: float = 0.0
    retrying_probability: float = 0.0
    processing_seed: int = 0
    rate_limit: float | None = None
    burst: int = 1
    rate_limit_scope: RateLimitScope = "all"
    rate_limit_window: float | None = None
    rate_limit_headers: RateLimitHeaders | None = None
    max_records: int | None = 1000
    max_body_bytes: int | None = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        _check(bool(self.client_secret), "client_secret must not be empty")
        _check(
            self.secondary_client_secret is None or bool(self.secondary_client_secret),
            "secondary_client_secret must be None or a non-empty string",
        )
        object.__setattr__(self, "expired_secrets", frozenset(self.expired_secrets))
        bad_slots = set(self.expired_secrets) - set(get_args(SecretSlot))
        _check(not bad_slots, f"expired_secrets holds slots 'primary'/'secondary', got {bad_slots}")
        _check(self.token_lifetime >= 1, "token_lifetime must be at least 1 second")
        _check(
            math.isfinite(self.processing_delay) and self.processing_delay >= 0,
            "processing_delay must be a finite number >= 0",
        )
        postcodes: Any = self.bad_postcodes  # a lone string is one postcode, not characters
        if isinstance(postcodes, str):
            postcodes = {postcodes}
        object.__setattr__(self, "bad_postcodes", frozenset(postcodes))
        for name in ("failed_probability", "transformation_failed_probability"):
            value = getattr(self, name)
            _check(0.0 <= value <= 1.0, f"{name} must be within [0, 1], got {value}")
        _check(
            self.failed_probability + self.transformation_failed_probability <= 1.0,
            "failed_probability + transformation_failed_probability must not exceed 1",
        )
        _check(
            0.0 <= self.retrying_probability <= 1.0,
            f"retrying_probability must be within [0, 1], got {self.retrying_probability}",
        )
        _check(
            self.rate_limit is None or (math.isfinite(self.rate_limit) and self.rate_limit > 0),
            f"rate_limit must be None or a positive number of requests/s, got {self.rate_limit}",
        )
        _check(self.burst >= 1, f"burst must be at least 1, got {self.burst}")
        _check(
            self.rate_limit_scope in get_args(RateLimitScope),
            f"rate_limit_scope must be 'all' or 'push', got {self.rate_limit_scope!r}",
        )
        _check(
            self.rate_limit_window is None
            or (math.isfinite(self.rate_limit_window) and self.rate_limit_window >= 1),
            f"rate_limit_window must be None or at least 1 second, got {self.rate_limit_window}",
        )
        _check(
            self.rate_limit_headers is None
            or self.rate_limit_headers in get_args(RateLimitHeaders),
            "rate_limit_headers must be None, 'ietf', 'x-ratelimit' or 'gateway', "
            f"got {self.rate_limit_headers!r}",
        )
        _check(
            self.max_records is None or self.max_records >= 1,
            f"max_records must be None or at least 1, got {self.max_records}",
        )
        _check(
            self.max_body_bytes is None or self.max_body_bytes >= 2,
            f"max_body_bytes must be None or at least 2, got {self.max_body_bytes}",
        )

    def replace(self, **changes: Any) -> SandboxConfig:
        """A copy with ``changes``; raises ValueError naming an unknown or bad knob."""
        unknown = set(changes) - set(knob_names())
        if unknown:
            raise ValueError(
                f"unknown sandbox setting(s): {', '.join(sorted(unknown))}; "
                f"known: {', '.join(knob_names())}"
            )
        try:
            return dataclasses.replace(self, **changes)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON object (camelCase keys; secrets left out)."""
        out: dict[str, Any] = {}
        for name in knob_names():
            if name in ("client_secret", "secondary_client_secret"):
                continue
            value = getattr(self, name)
            if isinstance(value, frozenset):
                value = sorted(value)
            out[_camel(name)] = value
        return out

    @classmethod
    def knobs_from_json(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword changes from a JSON object with camelCase or snake_case keys."""
        by_camel = {_camel(n): n for n in knob_names()}
        changes: dict[str, Any] = {}
        for key, value in data.items():
            name = by_camel.get(key, key)
            if name in ("expired_secrets", "bad_postcodes") and isinstance(value, list):
                value = frozenset(str(v) for v in value)
            changes[name] = value
        return changes


def knob_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(SandboxConfig))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
