"""Environments, defaults and settings read from ``BUILDINGMINDS_*`` environment variables.

Every default the SDK applies is named here, with the reason it has that value. The API
documents no limits (REFERENCE section 10), so the bulk defaults are chosen to be safe
for an unknown server and cheap for httpx, and each of them can be overridden per call.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote, urlsplit

import httpx2

from ._errors import ConfigurationError

EnvironmentName = Literal["production", "development"]


@dataclass(frozen=True, slots=True)
class Environment:
    """A BuildingMinds environment: where its API lives and which tenant issues its tokens."""

    name: EnvironmentName
    base_url: str
    tenant: str


ENVIRONMENTS: Final[Mapping[str, Environment]] = {
    "production": Environment(
        name="production",
        base_url="https://api.onbuildingminds.com/api/digitaltwinintegration",
        tenant="buildingminds.onmicrosoft.com",
    ),
    "development": Environment(
        name="development",
        base_url="https://api.dev.onbuildingminds.com/api/digitaltwinintegration",
        tenant="tstbuildingminds.onmicrosoft.com",
    ),
}
DEFAULT_ENVIRONMENT: Final = "production"
TOKEN_URL_TEMPLATE: Final = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"  # noqa: S105

# A bulk POST of a few hundred records can take the server a while to read and store;
# connecting should be quick. The pool timeout bounds the wait for a free connection.
DEFAULT_TIMEOUT: Final = httpx2.Timeout(60.0, connect=10.0, pool=60.0)

# httpx 0.28 burns about 1 ms of CPU per request at up to 8 requests in flight and
# collapses above about 16 (httpcore's pool assignment is quadratic). The client never
# has more than this many requests in flight, however many tasks call it.
DEFAULT_MAX_IN_FLIGHT: Final = 8


def pool_limits(max_in_flight: int) -> httpx2.Limits:
    """Connections for ``max_in_flight`` requests, the token endpoint and a spare."""
    return httpx2.Limits(
        max_connections=max_in_flight + 2,
        max_keepalive_connections=max_in_flight + 2,
        keepalive_expiry=30.0,
    )


# Retries of a single call (push, batch listing) outside a bulk run: three attempts, as
# most SDKs do. Bulk runs allow more, bounded by a retry budget and a deadline.
DEFAULT_MAX_RETRIES: Final = 2

# Bulk defaults. 500 records keep a body near 250 KB for typical records: big enough to
# amortise the per-request cost of httpx, small enough for common 1-4 MB gateway limits.
# It is where chunk_size="auto" (the default) starts; it grows while a rate limit binds,
# up to 5,000 records and 1 MiB (nginx's default client_max_body_size). A 413 teaches
# the ceiling for the rest of the run.
DEFAULT_CHUNK_SIZE: Final = 500
DEFAULT_MAX_CHUNK_SIZE: Final = 5_000
DEFAULT_MAX_CHUNK_BYTES: Final = 1024 * 1024
# Four pushers keep the server busy without entering httpx's slow zone.
DEFAULT_CONCURRENCY: Final = 4
# A Retry-After longer than this is capped: a misconfigured server must not park a job
# for an hour. The cap is a setting, not a silent rule.
DEFAULT_MAX_RETRY_AFTER: Final = 60.0
# The overall deadline of `onboard()` (push and wait), in seconds.
DEFAULT_ONBOARD_TIMEOUT: Final = 3600.0

ENV_PREFIX: Final = "BUILDINGMINDS_"


@dataclass(frozen=True, slots=True)
class EnvSettings:
    """The ``BUILDINGMINDS_*`` variables, as found (None when unset or empty)."""

    base_url: str | None = None
    environment: str | None = None
    token_url: str | None = None
    tenant: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_secret_secondary: str | None = None
    scope: str | None = None
    redis_url: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> EnvSettings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name, "").strip()
            return value or None

        return cls(
            base_url=get("BASE_URL"),
            environment=get("ENVIRONMENT"),
            token_url=get("TOKEN_URL"),
            tenant=get("TENANT"),
            client_id=get("CLIENT_ID"),
            client_secret=get("CLIENT_SECRET"),
            client_secret_secondary=get("CLIENT_SECRET_SECONDARY"),
            scope=get("SCOPE"),
            redis_url=get("REDIS_URL"),
        )


def resolve_environment(name: str | None) -> Environment:
    """The environment preset called ``name`` (production when None)."""
    key = (name or DEFAULT_ENVIRONMENT).strip().lower()
    try:
        return ENVIRONMENTS[key]
    except KeyError:
        known = ", ".join(ENVIRONMENTS)
        raise ConfigurationError(
            f"unknown environment {name!r}: use one of {known}, or give base_url= "
            f"(BUILDINGMINDS_BASE_URL) for any other deployment"
        ) from None


def is_loopback_host(host: str) -> bool:
    """True for localhost names and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_url(url: str | httpx2.URL, *, what: str) -> httpx2.URL:
    """Parse ``url`` and refuse what the SDK must never send credentials to.

    HTTPS is required, except for loopback hosts (the sandbox, a local proxy); URLs
    with embedded user info are refused because httpx would log them. A query, a
    fragment or a ``.``/``..`` path segment is refused too: the URL would be normalised
    or extended, and token-bearing requests would go to another path than the one given.
    """
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"{what} {str(url)!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise ConfigurationError(
            f"{what} {str(url)!r} must be an absolute https:// URL "
            f"(for example {ENVIRONMENTS[DEFAULT_ENVIRONMENT].base_url})"
        )
    if parsed.userinfo:
        raise ConfigurationError(
            f"{what} must not carry a user name or password; credentials go in ClientCredentials"
        )
    raw = urlsplit(str(url))
    if raw.query or raw.fragment or str(url).rstrip().endswith(("?", "#")):
        raise ConfigurationError(
            f"{what} {str(url)!r} must not carry a query or a fragment: give the scheme, "
            f"host and path only (for example {ENVIRONMENTS[DEFAULT_ENVIRONMENT].base_url})"
        )
    if any(segment in (".", "..") for segment in unquote(raw.path).split("/")):
        raise ConfigurationError(
            f"{what} {str(url)!r} has a '.' or '..' path segment: give the path as it is "
            "meant, without relative segments"
        )
    if parsed.scheme == "http" and not is_loopback_host(parsed.host):
        raise ConfigurationError(
            f"{what} {str(url)!r} uses plain http:// to a remote host, which would expose "
            f"the bearer token: use https:// (plain http is allowed for loopback hosts only)"
        )
    return parsed
