"""The public surface: what users import is there, sorted, and nothing private leaks."""

from __future__ import annotations

import importlib.resources

import pytest

import buildingminds_async
from buildingminds_async import models

CONTRACT = [
    "AsyncClient",
    "ClientCredentials",
    "OnboardingReport",
    "BuildingMindsError",
    "AuthenticationError",
    "RateLimitError",
    "BatchTimeoutError",
]
ENTITY_CLASSES = [
    "Address",
    "Site",
    "Building",
    "Land",
    "Floor",
    "Space",
    "RentalUnit",
    "AreaMeasurement",
    "OperationalMeasurement",
    "RentalContract",
    "RentalPayment",
    "RentalOption",
    "Certificate",
    "Valuation",
    "EnergyRating",
    "Meter",
    "ResourceConsumption",
]


# Exactly what users touch: what a public signature takes or returns, and the errors.
PUBLIC = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchAcceptedEvent",
    "BatchError",
    "BatchFinishedEvent",
    "BatchId",
    "BatchResult",
    "BatchTimeoutError",
    "BuildingMindsError",
    "ChunkSizes",
    "ClientCredentials",
    "ClientStatistics",
    "ConfigurationError",
    "CredentialsError",
    "DeleteGuardError",
    "EventHooks",
    "InternalServerError",
    "Journal",
    "MethodNotAllowedError",
    "NotFoundError",
    "OnboardOptions",
    "OnboardingReport",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
    "RateLimitedEvent",
    "RecordFailure",
    "RecordValidationError",
    "RequestEvent",
    "RetryEvent",
    "RunStatistics",
    "ServiceUnavailableError",
    "SizeChange",
    "SourceRecord",
    "SyncOptions",
    "SyncReport",
    "TokenEvent",
    "TokenStatistics",
    "__version__",
    "read_in_thread",
]


def test_the_package_exports_exactly_the_public_names() -> None:
    """__all__ is the public surface, no more (RateGate, RetryPolicy ... stay private)."""
    assert buildingminds_async.__all__ == PUBLIC


@pytest.mark.parametrize("name", [n for n in PUBLIC if not n.startswith("__")])
def test_public_names_belong_to_the_public_module(name: str) -> None:
    """Each export reports buildingminds_async as its module, not a private one."""
    assert getattr(buildingminds_async, name).__module__ == "buildingminds_async"


def test_the_client_and_the_function_take_the_same_onboard_options() -> None:
    """AsyncClient.onboard and onboard() are typed by one OnboardOptions: they cannot drift."""
    import inspect

    from buildingminds_async.onboarding import onboard

    for function in (buildingminds_async.AsyncClient.onboard, onboard):
        last = list(inspect.signature(function).parameters.values())[-1]
        assert last.kind is inspect.Parameter.VAR_KEYWORD
        assert last.annotation == "Unpack[OnboardOptions]"
    options = buildingminds_async.OnboardOptions.__annotations__
    assert {"max_pending_records", "max_retries", "journal", "chunk_size"} <= set(options)


@pytest.mark.parametrize("module", [buildingminds_async, models])
def test_all_is_importable(module: object) -> None:
    """Every name in __all__ exists (ruff's RUF022 keeps it sorted)."""
    names = list(module.__all__)  # type: ignore[attr-defined]
    for name in names:
        assert hasattr(module, name), name


def test_the_contract_names_are_exported() -> None:
    """The names DESIGN section 5 promises are importable from the package root."""
    assert set(CONTRACT) <= set(buildingminds_async.__all__)


def test_every_entity_model_is_exported_by_its_pascal_case_name() -> None:
    """Every entity of the API has its model in buildingminds_async.models."""
    assert set(ENTITY_CLASSES) <= set(models.__all__)
    assert len({spec.model for spec in models.ENTITIES.values()}) == len(ENTITY_CLASSES)


def test_the_package_is_typed() -> None:
    """py.typed ships with the package, so mypy users get our annotations."""
    package = importlib.resources.files("buildingminds_async")
    assert package.joinpath("py.typed").is_file()


def test_importing_the_package_does_not_import_the_sandbox_server() -> None:
    """The core import does not pull in uvicorn (httpx alone imports rich when present)."""
    import subprocess
    import sys

    code = (
        "import sys, buildingminds_async, buildingminds_async.models;"
        "print('uvicorn' in sys.modules)"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter, a literal script)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# The old httpx is in the test environment only because respx depends on it; the tests
# alias it to httpx2 (tests/conftest.py), so these checks run in a clean interpreter.
_RUN_A_JOB_WITHOUT_THE_ALIAS = """
import asyncio, sys
from buildingminds_async import AsyncClient
from buildingminds_async.sandbox import Sandbox

async def main():
    sandbox = Sandbox()
    async with AsyncClient(
        credentials=sandbox.credentials(), base_url=sandbox.base_url,
        transport=sandbox.transport()
    ) as client:
        report = await client.onboard([{"eventType": "AddressAdded", "addressId": "a-1",
            "city": "Berlin", "country": "DE", "postalCode": "10115"}])
    print(report.completed, "httpx" in sys.modules, "httpcore" in sys.modules)

asyncio.run(main())
"""


def _run_clean(code: str) -> str:
    import subprocess
    import sys

    done = subprocess.run(  # noqa: S603 (our own interpreter, a literal script)
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_package_never_imports_the_old_httpx() -> None:
    """A whole job (token, push, polls) runs on httpx2 alone: neither httpx nor httpcore
    is imported, though both are installed here."""
    assert _run_clean(_RUN_A_JOB_WITHOUT_THE_ALIAS) == "1 False False"


def test_objects_of_the_old_httpx_are_refused_saying_what_to_pass() -> None:
    """A transport, client, timeout or limits of the old httpx is a ConfigurationError at
    construction naming the httpx2 class to use (not a failure at the first request)."""
    code = """
import httpx
from buildingminds_async import AsyncClient, ClientCredentials, ConfigurationError
credentials = ClientCredentials(client_id="c", client_secret="s", scope="x",
    token_url="http://127.0.0.1/token")
for given in ({"transport": httpx.AsyncHTTPTransport()}, {"http_client": httpx.AsyncClient()},
              {"timeout": httpx.Timeout(5.0)}, {"limits": httpx.Limits()}):
    try:
        AsyncClient(credentials=credentials, base_url="http://127.0.0.1/api", **given)
    except ConfigurationError as exc:
        print(exc)
"""
    lines = _run_clean(code).splitlines()
    assert len(lines) == 4, lines
    assert lines[0] == (
        "transport= is a AsyncHTTPTransport of the old httpx library; buildingminds-async "
        "runs on httpx2 (its maintained successor, same API): pass httpx2.AsyncHTTPTransport "
        "instead"
    )
    assert all("httpx2." in line for line in lines)
