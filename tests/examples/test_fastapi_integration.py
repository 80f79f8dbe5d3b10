"""buildingminds_async.fastapi on an app of its own: composing lifespans, a missing
client, and every error's answer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from asgi_lifespan import LifespanManager
from examples_support import BUILDING
from fastapi import FastAPI

from buildingminds_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    ConfigurationError,
)
from buildingminds_async.fastapi import (
    BuildingMindsClient,
    client_override,
    get_client,
    install_error_handlers,
    open_client,
)
from buildingminds_async.sandbox import Sandbox


def _app(lifespan: object = None) -> FastAPI:
    app = FastAPI(lifespan=lifespan)  # type: ignore[arg-type]
    install_error_handlers(app)

    @app.get("/requests")
    async def requests(client: BuildingMindsClient) -> dict[str, int]:
        await client.authenticate()
        return {"requests": client.statistics().tokens.requests}

    return app


async def _get(app: FastAPI, path: str) -> httpx2.Response:
    async with (
        LifespanManager(app) as manager,
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(manager.app), base_url="http://t"
        ) as http,
    ):
        return await http.get(path)


async def test_open_client_composes_with_an_apps_own_lifespan() -> None:
    """The client opened by ``open_client`` inside the app's lifespan serves the endpoints,
    with the token fetched at start-up, and is gone after shutdown."""
    sandbox = Sandbox()
    opened: list[AsyncClient | None] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_client(
            app,
            credentials=sandbox.credentials(),
            base_url=sandbox.base_url,
            transport=sandbox.transport(),
        ) as client:
            opened.append(client)
            yield

    app = _app(lifespan)
    answer = await _get(app, "/requests")
    assert answer.json() == {"requests": 1}  # the start-up token, reused
    assert sandbox.ledger.tokens_issued == 1
    assert opened[0] is not None
    assert opened[0].statistics().tokens.requests == 1
    assert not hasattr(app.state, "buildingminds_client")


async def test_without_a_client_the_endpoint_fails_saying_how_to_open_one() -> None:
    app = _app()
    with pytest.raises(RuntimeError, match=r"lifespan=buildingminds_async\.fastapi\.lifespan\(\)"):
        await _get(app, "/requests")


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (
            APITimeoutError(
                "read timed out on POST https://x/api",
                method="POST",
                url="https://x/api",
                maybe_sent=True,
            ),
            504,
            "BuildingMinds did not answer in time; retry later",
        ),
        (
            APIConnectionError(
                "refused on POST https://x/api",
                method="POST",
                url="https://x/api",
                maybe_sent=False,
            ),
            502,
            "BuildingMinds could not be reached; retry later",
        ),
        (
            ConfigurationError("base_url https://x/api?secret=1 has a query"),
            500,
            "the BuildingMinds client is misconfigured; see the service's log",
        ),
    ],
)
async def test_errors_without_an_answer_map_to_gateway_statuses_without_the_url(
    error: Exception, status: int, detail: str
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fails")
    async def fails() -> None:
        raise error

    answer = await _get(app, "/fails")
    assert answer.status_code == status
    assert answer.json() == {"detail": detail}
    assert "https://x" not in answer.text


def _readme_block(after: str) -> str:
    """The first ```python block of README.md after the line ``after``."""
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = text[text.index(after) :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("```", start)]


async def test_the_readme_fastapi_example_runs_as_written() -> None:
    """The README's snippet, executed as is, pushes a building through the sandbox."""
    namespace: dict[str, Any] = {}
    exec(_readme_block("## FastAPI"), namespace)  # noqa: S102 (our own README)
    app: FastAPI = namespace["app"]
    sandbox = Sandbox()
    async with AsyncClient(
        credentials=sandbox.credentials(), base_url=sandbox.base_url, transport=sandbox.transport()
    ) as client:
        app.dependency_overrides[get_client] = client_override(client)
        async with (
            LifespanManager(app) as manager,
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(manager.app), base_url="http://app"
            ) as http,
        ):
            answer = await http.post("/buildings", json=BUILDING)
    assert answer.status_code == 200, answer.text
    assert sandbox.ledger.batch_ids() == [answer.json()["batch_id"]]
