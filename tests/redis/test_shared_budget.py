"""Several clients (each standing for a process) sharing one tenant's budget through Redis.

A real redis-server on loopback and an in-process sandbox whose rate limit the clients
share; real time (Redis's clock paces), so each test lasts about a second or two.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import pytest
from conftest import RedisServer

from buildingminds_async import AsyncClient, ConfigurationError
from buildingminds_async.redis_backend import RedisRateBackend
from buildingminds_async.sandbox import Sandbox

pytestmark = [pytest.mark.looptime(False), pytest.mark.slow]

RATE = 60.0
PUSHES = 20  # per client


def records(n: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "eventType": "AddressAdded",
            "addressId": f"{prefix}{i}",
            "city": "Berlin",
            "country": "DE",
            "postalCode": "10115",
        }
        for i in range(n)
    ]


def client_of(sandbox: Sandbox, backend: str | RedisRateBackend | bool | None) -> AsyncClient:
    return AsyncClient(
        credentials=sandbox.credentials(),
        base_url=sandbox.base_url,
        transport=sandbox.transport(),
        rate_backend=backend,
    )


async def push_together(sandbox: Sandbox, backends: list[Any]) -> tuple[float, int]:
    """Each client pushes PUSHES one-record chunks at the told rate; (seconds, 429s)."""
    clients = [client_of(sandbox, backend) for backend in backends]
    try:
        for client in clients:
            await client.authenticate()
        started = time.monotonic()
        reports = await asyncio.gather(
            *(
                client.onboard(records(PUSHES, f"P{n}-"), chunk_size=1, rate=RATE, wait=False)
                for n, client in enumerate(clients)
            )
        )
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            await client.aclose()
    for report in reports:
        assert report.submitted == PUSHES
        assert report.not_sent == 0
    counts = sandbox.ledger.receive_counts("address")
    assert len(counts) == PUSHES * len(clients)
    assert set(counts.values()) == {1}
    return elapsed, sandbox.ledger.responses.get(429, 0)


async def test_clients_sharing_redis_push_at_the_tenant_rate_together(redis_url: str) -> None:
    """Three clients told the tenant's rate R: through Redis they send at about R together
    with at most one 429; on their own each starts at R and draws 429s (the same run, side
    by side)."""
    shared_sandbox = Sandbox(rate_limit=RATE, burst=2, rate_limit_scope="push")
    elapsed, throttled = await push_together(shared_sandbox, [redis_url] * 3)
    rate = 3 * PUSHES / elapsed
    assert 0.85 * RATE <= rate <= 1.05 * RATE, rate
    assert throttled <= 1

    alone_sandbox = Sandbox(rate_limit=RATE, burst=2, rate_limit_scope="push")
    _, throttled_alone = await push_together(alone_sandbox, [None] * 3)
    assert throttled_alone >= 3  # at least one per client: what the shared budget prevents


async def test_a_429_seen_by_one_process_pauses_the_others(redis_url: str) -> None:
    """One lane records a 429 with Retry-After 2 s: another process's next slot is after
    it, though that process knows no rate."""
    one, other = RedisRateBackend(redis_url, prefix="t"), RedisRateBackend(redis_url, prefix="t")
    try:
        await one.lane("push").throttled(2.0, learn=False)
        reservation = await other.lane("push").reserve(None)
    finally:
        await one.aclose()
        await other.aclose()
    assert 1.8 <= reservation.wait <= 2.0


async def test_a_told_rate_paces_the_processes_that_were_not_told(redis_url: str) -> None:
    """One process told 10/s takes a slot; one told nothing takes the next, a tenth of a
    second later, and learns the rate."""
    told, untold = RedisRateBackend(redis_url, prefix="t"), RedisRateBackend(redis_url, prefix="t")
    try:
        await told.lane("push").reserve(10.0)
        follower = await untold.lane("push").reserve(None)
    finally:
        await told.aclose()
        await untold.aclose()
    assert 0.09 <= follower.wait <= 0.1
    assert follower.rate == pytest.approx(10.0)


async def test_a_process_that_joins_later_takes_the_next_slot_instead_of_bursting(
    redis_url: str,
) -> None:
    """Ten slots at 10/s taken by one process: a newcomer's first slot is a second away."""
    first, late = RedisRateBackend(redis_url, prefix="t"), RedisRateBackend(redis_url, prefix="t")
    try:
        waits = [(await first.lane("push").reserve(10.0)).wait for _ in range(10)]
        joined = await late.lane("push").reserve(10.0)
    finally:
        await first.aclose()
        await late.aclose()
    assert waits[0] < 0.05
    assert 0.85 <= waits[-1] <= 0.9
    assert 0.95 <= joined.wait <= 1.0


def test_a_password_in_the_url_is_never_shown() -> None:
    from buildingminds_async.redis_backend import shown_url

    assert shown_url("redis://:s3cret@h:6379/0") == "redis://***@h:6379/0"
    assert "s3cret" not in shown_url("redis://h:6379/0?password=s3cret&db=1")


async def test_another_tenant_prefix_is_another_budget(redis_url: str) -> None:
    acme, other = (
        RedisRateBackend(redis_url, prefix="acme"),
        RedisRateBackend(redis_url, prefix="x"),
    )
    try:
        for _ in range(10):
            await acme.lane("push").reserve(10.0)
        separate = await other.lane("push").reserve(10.0)
    finally:
        await acme.aclose()
        await other.aclose()
    assert separate.wait < 0.05


async def test_processes_fetch_one_token_for_all_and_the_secret_never_reaches_redis(
    redis_url: str,
) -> None:
    """Four clients of one API key authenticate at once: one token request in all; Redis
    holds the token (with a TTL), never the client secret."""
    import redis.asyncio as aioredis

    sandbox = Sandbox()
    clients = [client_of(sandbox, redis_url) for _ in range(4)]
    try:
        await asyncio.gather(*(client.authenticate() for client in clients))
        assert sandbox.ledger.tokens_issued == 1
        await clients[0].onboard(records(3, "T"), wait=False)
    finally:
        for client in clients:
            await client.aclose()
    db = aioredis.from_url(redis_url, decode_responses=True)
    try:
        values = [
            str(await db.get(key)) for key in await db.keys("*") if await db.type(key) == "string"
        ]
        ttls = [await db.pttl(key) for key in await db.keys("buildingminds:*:token:*")]
    finally:
        await db.aclose()
    assert all(sandbox.client_secret not in value for value in values)
    assert ttls
    assert all(0 < ttl < 3599_000 for ttl in ttls)


async def test_unreachable_redis_means_pacing_alone_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens where Redis should be: the run goes on, paced alone, every record
    stored once, and the warning is said once, without the URL's password."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://:s3cret@127.0.0.1:{port}/0"
    sandbox = Sandbox(rate_limit=RATE, burst=2, rate_limit_scope="push")
    with caplog.at_level(logging.WARNING, logger="buildingminds_async.redis"):
        elapsed, throttled = await push_together(sandbox, [url])
    warnings = [r for r in caplog.records if "cannot be asked" in r.getMessage()]
    assert len(warnings) == 1
    assert "s3cret" not in caplog.text
    assert throttled <= 1
    assert PUSHES / elapsed <= 1.05 * RATE


async def test_redis_killed_mid_run_loses_nothing(own_redis: RedisServer) -> None:
    """Redis dies while two clients push: they fall back, finish, store every record once."""
    sandbox = Sandbox(rate_limit=RATE, burst=2, rate_limit_scope="push")

    async def kill_soon() -> None:
        await asyncio.sleep(0.3)
        own_redis.stop()

    killer = asyncio.create_task(kill_soon())
    _, throttled = await push_together(sandbox, [own_redis.url] * 2)
    await killer
    assert throttled <= 3


async def test_a_token_the_api_refuses_is_not_taken_back_from_redis(redis_url: str) -> None:
    """Every token is revoked mid-run: the process whose request drew the 401 fetches a new
    one (the others take it from Redis); every run completes, two tokens in all."""
    sandbox = Sandbox()
    clients = [client_of(sandbox, redis_url) for _ in range(3)]
    try:
        for client in clients:
            await client.authenticate()
        sandbox.revoke_tokens()
        reports = await asyncio.gather(
            *(
                client.onboard(records(10, f"R{n}-"), chunk_size=5, wait=False)
                for n, client in enumerate(clients)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    assert all(report.submitted == 10 and report.not_sent == 0 for report in reports)
    assert sandbox.ledger.tokens_issued == 2


async def test_a_rate_nobody_told_is_learned_by_the_lane_from_every_processs_429s(
    redis_url: str,
) -> None:
    """Two processes send unpaced (no rate known); one draws a 429: the lane's rate is set
    below what they sent together per second (not one process's share), both pace at it,
    and after a quiet hold it is raised by a quarter."""
    import redis.asyncio as aioredis

    one, two = RedisRateBackend(redis_url, prefix="t"), RedisRateBackend(redis_url, prefix="t")
    try:
        for _ in range(10):
            assert (await one.lane("push").reserve(None)).wait == 0
            assert (await two.lane("push").reserve(None)).wait == 0
        await one.lane("push").throttled(1.0, learn=True)
        paced = await two.lane("push").reserve(None)
        assert paced.rate is not None
        # 85% of what both sent in that second (scaled up when the second had just begun)
        assert 0.85 * 20 * 0.98 <= paced.rate <= 0.85 * 20 / 0.25 * 1.02
        assert 0.9 <= paced.wait <= 1.0  # after the shared cooldown
        db = aioredis.from_url(redis_url)
        try:
            await db.set(one.key("push", "changed"), 0)  # the hold has passed
            await db.set(one.key("push", "cooldown"), 0)
        finally:
            await db.aclose()
        raised = await one.lane("push").reserve(None)
    finally:
        await one.aclose()
        await two.aclose()
    assert raised.rate == pytest.approx(paced.rate * 1.25, rel=0.02)


async def test_clients_that_know_no_rate_finish_without_a_429_storm(redis_url: str) -> None:
    """Three clients told no rate, one limit: the lane learns the rate, every record is
    stored once, and they draw few 429s."""
    sandbox = Sandbox(rate_limit=RATE, burst=2, rate_limit_scope="push")
    clients = [client_of(sandbox, redis_url) for _ in range(3)]
    try:
        for client in clients:
            await client.authenticate()
        await asyncio.gather(
            *(
                client.onboard(records(10, f"U{n}-"), chunk_size=1, wait=False)
                for n, client in enumerate(clients)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    assert set(sandbox.ledger.receive_counts("address").values()) == {1}
    assert len(sandbox.ledger.receive_counts("address")) == 30
    assert sandbox.ledger.responses.get(429, 0) <= 6


def test_a_rate_backend_that_is_not_redis_is_a_configuration_error() -> None:
    sandbox = Sandbox()
    with pytest.raises(ConfigurationError, match="redis://"):
        client_of(sandbox, "http://127.0.0.1:6379")


async def test_the_redis_url_comes_from_the_environment(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILDINGMINDS_REDIS_URL", redis_url)
    sandbox = Sandbox()
    clients = [client_of(sandbox, None) for _ in range(3)]
    try:
        await asyncio.gather(*(client.authenticate() for client in clients))
    finally:
        for client in clients:
            await client.aclose()
    assert sandbox.ledger.tokens_issued == 1


@pytest.mark.loopback
def test_the_cli_shares_the_budget_with_redis_and_never_shows_its_password(
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """``--redis URL`` reaches the client (two runs, one token between them); ``config``
    shows the URL without its password."""
    import json

    from buildingminds_async.cli import main

    with Sandbox().serve_in_thread() as server:
        for name, value in (
            ("BUILDINGMINDS_BASE_URL", server.base_url),
            ("BUILDINGMINDS_TOKEN_URL", server.token_url),
            ("BUILDINGMINDS_CLIENT_ID", server.sandbox.client_id),
            ("BUILDINGMINDS_CLIENT_SECRET", server.sandbox.client_secret),
            ("BUILDINGMINDS_SCOPE", server.sandbox.scope),
        ):
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        (tmp_path / "addresses.ndjson").write_text(
            "".join(json.dumps(r) + "\n" for r in records(5, "C"))
        )
        for _ in range(2):
            assert main(["onboard", "addresses.ndjson", "--redis", redis_url, "--quiet"]) == 0
        assert server.sandbox.ledger.tokens_issued == 1
    capsys.readouterr()
    assert main(["config", "--redis", "redis://:hunter2@127.0.0.1:6379/0", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["redis_url"]
    assert shown["value"] == "redis://***@127.0.0.1:6379/0"
    assert shown["source"] == "--redis-url"


async def single_pushes(backend: str | None) -> Sandbox:
    sandbox = Sandbox(rate_limit=RATE, burst=1, rate_limit_scope="push")
    workers = [client_of(sandbox, backend) for _ in range(3)]
    try:
        for worker in workers:
            await worker.authenticate()
        pushes = [
            worker.push("address", records(1, f"W{n}-{i}-"))
            for i in range(6)
            for n, worker in enumerate(workers)
        ]
        await asyncio.gather(*pushes, return_exceptions=True)
    finally:
        for worker in workers:
            await worker.aclose()
    return sandbox


async def test_single_pushes_of_several_processes_share_the_budget(redis_url: str) -> None:
    """Three FastAPI workers each pushing six records at once: through Redis they take the
    tenant's slots, learn its rate from the first 429s and all eighteen are stored; on
    their own the same pushes draw dozens of 429s and most give up."""
    shared = await single_pushes(redis_url)
    assert len(shared.ledger.receive_counts("address")) == 18
    assert set(shared.ledger.receive_counts("address").values()) == {1}
    assert shared.ledger.responses.get(429, 0) <= 3

    alone = await single_pushes(None)
    assert alone.ledger.responses.get(429, 0) >= 10


async def test_false_switches_the_shared_budget_off_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``rate_backend=False``: no Redis, though ``BUILDINGMINDS_REDIS_URL`` names one."""
    monkeypatch.setenv("BUILDINGMINDS_REDIS_URL", "redis://127.0.0.1:1/0")
    sandbox = Sandbox()
    off, on = client_of(sandbox, False), client_of(sandbox, None)
    try:
        assert off._rate_backend is None
        assert on._rate_backend is not None
    finally:
        await off.aclose()
        await on.aclose()
