"""Helpers of the client tests: constants, credentials and a scriptable token endpoint.

Every test controls the responses exactly: the router answers the API routes a test
registers, and ``TokenEndpoint`` issues ``tok-1``, ``tok-2``, ... (or refuses) while
recording every token request it got.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx2

from buildingminds_async import ClientCredentials

BASE_URL = "https://api.test.example/api/digitaltwinintegration"
TOKEN_URL = "https://login.test.example/tenant-1/oauth2/v2.0/token"
CLIENT_ID = "client-0f1e"
SCOPE = "api://3c5d-scope"
PRIMARY = "primary-SECRET-value-111"
SECONDARY = "secondary-SECRET-value-222"


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def make_credentials(**changes: Any) -> ClientCredentials:
    options: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": PRIMARY,
        "scope": SCOPE,
        "token_url": TOKEN_URL,
    }
    options.update(changes)
    return ClientCredentials(**options)


def form_of(request: httpx2.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


def oauth_error(status: int, error: str, description: str = "") -> httpx2.Response:
    body = {"error": error, "error_description": description}
    return httpx2.Response(status, json=body)


@dataclass
class TokenCall:
    """One request to the token endpoint."""

    at: float
    slot: str
    form: dict[str, str]
    headers: httpx2.Headers


@dataclass
class TokenEndpoint:
    """The side effect of the token route.

    Answers with the queued ``responses`` first, then 503 while the loop time is within
    ``unavailable`` (start, end), then refuses secrets listed in ``refused`` (secret value
    -> response), then issues ``tok-N`` valid for ``expires_in`` seconds, each answer
    after ``delay`` seconds (of loop time).
    """

    expires_in: float = 3600.0
    delay: float = 0.0
    unavailable: tuple[float, float] | None = None
    responses: deque[httpx2.Response | Callable[[], httpx2.Response | None]] = field(
        default_factory=deque
    )
    refused: dict[str, httpx2.Response] = field(default_factory=dict)
    calls: list[TokenCall] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)
    """Token value -> loop time it was issued."""

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        form = form_of(request)
        secret = form.get("client_secret")
        slot = {PRIMARY: "primary", SECONDARY: "secondary"}.get(secret or "", "other")
        self.calls.append(TokenCall(loop_time(), slot, form, request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.responses:
            scripted = self.responses.popleft()
            answer = scripted() if callable(scripted) else scripted
            if answer is not None:
                return answer
        if self.unavailable is not None:
            start, end = self.unavailable
            if start <= loop_time() < end:
                return httpx2.Response(503, text="token service down")
        if secret in self.refused:
            return self.refused[secret]
        token = f"tok-{len(self.issued) + 1}"
        self.issued[token] = loop_time()
        return httpx2.Response(
            200,
            json={"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in},
        )

    @property
    def count(self) -> int:
        return len(self.calls)


def bearer(request: httpx2.Request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")
