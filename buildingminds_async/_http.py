"""How the client's HTTP client is built: httpx2, its User-Agent, the aiohttp backend, and
the refusal of objects of the old httpx library (whose classes are not httpx2's)."""

from __future__ import annotations

import platform

import httpx2

from ._errors import ConfigurationError
from ._version import __version__

USER_AGENT = (
    f"buildingminds-async/{__version__} httpx2/{httpx2.__version__} "
    f"python/{platform.python_version()}"
)


def make_http_client(
    *,
    backend: str,
    timeout: float | httpx2.Timeout,
    limits: httpx2.Limits,
    transport: httpx2.AsyncBaseTransport | None,
    trust_env: bool,
) -> httpx2.AsyncClient:
    """The client's own HTTP client: no redirects followed, the SDK's User-Agent."""
    if transport is None and backend == "aiohttp":
        transport = aiohttp_transport(limits=limits, trust_env=trust_env)
    elif backend not in ("httpx", "aiohttp"):
        raise ConfigurationError(f"http_backend must be 'httpx' or 'aiohttp', not {backend!r}")
    return httpx2.AsyncClient(
        timeout=timeout,
        limits=limits,
        transport=transport,
        follow_redirects=False,
        trust_env=trust_env,
        headers={"User-Agent": USER_AGENT},
    )


def aiohttp_transport(*, limits: httpx2.Limits, trust_env: bool) -> httpx2.AsyncBaseTransport:
    try:
        from httpx_aiohttp.httpx2 import AiohttpTransport
    except ImportError:
        raise ConfigurationError(
            "http_backend='aiohttp' needs the aiohttp extra: "
            "pip install 'buildingminds-async[aiohttp]'"
        ) from None
    return AiohttpTransport(limits=limits, trust_env=trust_env)


def refuse_old_httpx(**given: object) -> None:
    """An object of the old ``httpx`` library is refused at once, saying what to pass: its
    classes are not httpx2's (a transport would fail at the first request, a timeout be
    misread), and silently converting them would hide which library sends the requests."""
    for name, value in given.items():
        module, kind = type(value).__module__, type(value).__qualname__
        if module.startswith("httpx_aiohttp.transport"):
            instead = "httpx_aiohttp.httpx2.AiohttpTransport, or http_backend='aiohttp'"
        elif module == "httpx" or module.startswith("httpx."):
            instead = f"httpx2.{kind}"
        else:
            continue
        raise ConfigurationError(
            f"{name}= is a {kind} of the old httpx library; buildingminds-async runs on "
            f"httpx2 (its maintained successor, same API): pass {instead} instead"
        )
