"""Scenario 5: status requests it takes to see 1,000 batches through to completion.

Each client pushes the same 1,000 batches (5 address records each) on the same schedule,
one batch every 5 ms (records come from an async generator that releases 5 every 5 ms),
to a fresh sandbox process (no rate limit); the clients run one after the other. While
it pushes, a driver in the client process sets the sandbox's ``processing_delay`` to a
new value drawn uniformly from 2-5 s every 0.25 s (same seed for every client), so that
batches finish spread over time and not in push order. Clients:

- ``sdk onboard``: ``client.onboard(records, chunk_size=5)``, which watches every batch
  as soon as it is accepted, with its own poller;
- ``sdk batches.wait``: the same pushes with ``wait=False``, then
  ``client.batches.wait_many(batch_ids)``;
- ``naive 1 s``: after each push, a task polls that batch's ``GET /batch/{id}/inbound``
  every second until all its records are final (aiohttp, so that hundreds of pollers
  cost little and the pushes keep to the schedule).

Figures: status requests per batch (the SDK's ÷ the naive client's), and how late each
batch is seen done: the poll that found it done, minus the later of the moment it was
done (push answered + its processing delay) and the moment the client started watching
it. The naive client is at most ~1 s late by construction; the SDK trades lateness for
requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from benchmarks._common import (
    ENTITY,
    Endpoint,
    Exchange,
    RecordingTransport,
    SandboxProcess,
    ScenarioResult,
    Stat,
    Table,
    Target,
    addresses,
    fetch_token,
    ratio_stat,
    run_child,
    sdk_client,
)

BATCHES = 1000
PER_BATCH = 5
INTERVAL = 0.005  # seconds between batches: 1,000 batches over 5 s
DELAY_RANGE = (2.0, 5.0)
DELAY_EVERY = 0.25
NAIVE_INTERVAL = 1.0
CLIENTS = ("sdk-onboard", "sdk-wait", "naive")
LABELS = {
    "sdk-onboard": "SDK onboard() (its own poller)",
    "sdk-wait": "SDK onboard(wait=False) + batches.wait(ids)",
    "naive": f"naive: each batch polled every {NAIVE_INTERVAL:g} s",
}
FINAL = frozenset(
    {
        "Completed",
        "Published",
        "Failed",
        "FailedValidation",
        "FailedGeoCoding",
        "TransformationFailed",
    }
)


# -- client runs (each in its own process) ---------------------------------------------


async def _paced(records: list[dict[str, Any]], t0: float) -> AsyncIterator[dict[str, Any]]:
    for b in range(BATCHES):
        for record in records[b * PER_BATCH : (b + 1) * PER_BATCH]:
            yield record
        pause = t0 + (b + 1) * INTERVAL - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)


async def _drive_delays(
    url: str, changes: list[list[float]], started: asyncio.Event, stop: asyncio.Event
) -> None:
    """Change the sandbox's processing delay every DELAY_EVERY s; note when each took effect."""
    rng = random.Random(7)
    async with httpx2.AsyncClient() as admin:
        while not stop.is_set():
            delay = round(rng.uniform(*DELAY_RANGE), 3)
            before = time.monotonic()
            response = await admin.post(f"{url}/_sandbox/config", json={"processingDelay": delay})
            response.raise_for_status()
            changes.append([before, time.monotonic(), delay])
            started.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), DELAY_EVERY)


async def client_run(params: dict[str, Any]) -> dict[str, Any]:
    endpoint = Endpoint(**params["endpoint"])
    kind: str = params["client"]
    records = addresses(BATCHES * PER_BATCH)
    log: list[Exchange] = []
    changes: list[list[float]] = []
    started, stop = asyncio.Event(), asyncio.Event()
    driver = asyncio.create_task(_drive_delays(endpoint.url, changes, started, stop))
    await started.wait()  # the first delay is set before the first push
    wait_started: float | None = None
    t0 = time.monotonic()
    if kind.startswith("sdk"):
        transport = RecordingTransport.like_the_sdk(log)
        async with sdk_client(endpoint, transport=transport) as client:
            t0 = time.monotonic()
            report = await client.onboard(
                _paced(records, t0), entity=ENTITY, chunk_size=PER_BATCH, wait=kind == "sdk-onboard"
            )
            stop.set()
            if kind == "sdk-wait":
                wait_started = time.monotonic()
                await client.batches.wait_many(report.batch_ids, timeout=120)
    else:
        async with httpx2.AsyncClient() as http:
            token = await fetch_token(http, endpoint)
        t0 = time.monotonic()
        await _naive(endpoint, token, records, t0, stop, log)
    wall = time.monotonic() - t0
    stop.set()
    await driver
    return {
        "client": kind,
        "wall_s": wall,
        "wait_started": None if wait_started is None else wait_started - t0,
        "log": [[e.start - t0, e.end - t0, e.method, e.path, e.status, e.batch_id] for e in log],
        "delays": [[a - t0, b - t0, d] for a, b, d in changes],
    }


async def _naive(
    endpoint: Endpoint,
    token: str,
    records: list[dict[str, Any]],
    t0: float,
    stop: asyncio.Event,
    log: list[Exchange],
) -> None:
    """Push on the schedule; poll each batch every NAIVE_INTERVAL s until it is final.

    aiohttp, not httpx: hundreds of pollers in flight would put httpx in its slow zone
    (httpcore's pool) and make the naive client fall behind the push schedule.
    """
    import aiohttp

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def call(session: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> Any:
        start = time.monotonic()
        async with session.request(method, endpoint.base_url + path, **kw) as response:
            payload = await response.json()
            status = response.status
        batch_id = payload.get("batchId") if method == "POST" else None
        log.append(Exchange(start, time.monotonic(), method, path, status, batch_id))
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}")
        return payload

    async def watch(session: aiohttp.ClientSession, batch_id: str) -> None:
        while True:
            await asyncio.sleep(NAIVE_INTERVAL)
            page = await call(session, "GET", f"/batch/{batch_id}/inbound", params={"limit": 100})
            statuses = [m["status"] for m in page["data"]]
            if len(statuses) >= PER_BATCH and all(s in FINAL for s in statuses):
                return

    async with aiohttp.ClientSession(headers=headers) as session:
        watchers = []
        for b in range(BATCHES):
            body = records[b * PER_BATCH : (b + 1) * PER_BATCH]
            pushed = await call(session, "POST", f"/{ENTITY}", json=body)
            watchers.append(asyncio.create_task(watch(session, pushed["batchId"])))
            pause = t0 + (b + 1) * INTERVAL - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
        stop.set()
        await asyncio.gather(*watchers)


# -- analysis ----------------------------------------------------------------------------


def analyse(run: dict[str, Any]) -> dict[str, float]:
    log = run["log"]
    delays = sorted(run["delays"])
    pushes = [e for e in log if e[2] == "POST" and e[4] == 200]
    polls = [e for e in log if e[2] == "GET" and "/inbound" in e[3]]
    last_poll: dict[str, float] = {}
    for _, end, _, path, _, _ in polls:
        batch_id = path.rsplit("/", 2)[-2]
        last_poll[batch_id] = max(last_poll.get(batch_id, 0.0), end)
    lateness = []
    for start, end, _, _, _, batch_id in pushes:
        in_effect = [d for before, after, d in delays if after <= start]
        delay = in_effect[-1] if in_effect else delays[0][2]
        done_at = end + delay
        watched_from = run["wait_started"] if run["wait_started"] is not None else end
        seen = last_poll.get(batch_id)
        if seen is not None:
            lateness.append(seen - max(done_at, watched_from))
    lateness.sort()
    return {
        "batches": len(pushes),
        "seen_done": len(lateness),
        "polls": len(polls),
        "polls_per_batch": len(polls) / max(len(pushes), 1),
        "late_mean_s": statistics.fmean(lateness) if lateness else float("nan"),
        "late_p95_s": lateness[int(0.95 * (len(lateness) - 1))] if lateness else float("nan"),
        "wall_s": run["wall_s"],
    }


# -- the scenario ------------------------------------------------------------------------


def run(*, quick: bool = False) -> ScenarioResult:
    reps = 1 if quick else 2
    figures: dict[str, list[dict[str, float]]] = {c: [] for c in CLIENTS}
    for _ in range(reps):
        for client in CLIENTS:  # one at a time: they would slow each other down
            with SandboxProcess(processing_delay=DELAY_RANGE[0]) as sandbox:
                params = {"endpoint": sandbox.endpoint.to_json(), "client": client}
                figures[client].append(analyse(run_child("polling", "client_run", params)))

    def col(client: str, key: str) -> list[float]:
        return [f[key] for f in figures[client]]

    rows = [
        [
            LABELS[client],
            Stat.of(col(client, "polls_per_batch")).fmt(".2f"),
            ratio_stat(col(client, "polls_per_batch"), col("naive", "polls_per_batch")).fmt(
                ".2f", "x"
            ),
            Stat.of(col(client, "late_mean_s")).fmt(".2f", " s"),
            Stat.of(col(client, "late_p95_s")).fmt(".2f", " s"),
            Stat.of(col(client, "wall_s")).fmt(".1f", " s"),
        ]
        for client in CLIENTS
    ]
    table = Table(
        f"Polling: {BATCHES:,} batches of {PER_BATCH} records pushed over "
        f"{BATCHES * INTERVAL:g} s, processing delay 2-5 s; median of {reps} (min-max)",
        [
            "client",
            "status requests per batch",
            "÷ naive",
            "seen done late, mean",
            "late, p95",
            "wall (first push to all seen done)",
        ],
        rows,
        notes=[
            "late = poll that saw the batch done - max(push answered + its processing delay, "
            "start of watching); the batches.wait row starts watching after the last push.",
        ],
    )
    onboard_ratio = ratio_stat(
        col("sdk-onboard", "polls_per_batch"), col("naive", "polls_per_batch")
    )
    wait_ratio = ratio_stat(col("sdk-wait", "polls_per_batch"), col("naive", "polls_per_batch"))
    targets = [
        Target(
            "5 polling",
            "status requests per batch, onboard()'s poller ÷ naive 1 s polling",
            onboard_ratio.fmt(".2f", "x"),
            "< 1x (fewer requests; no numeric target given)",
            onboard_ratio.median < 1,
        ),
        Target(
            "5 polling",
            "status requests per batch, batches.wait(ids) ÷ naive 1 s polling",
            wait_ratio.fmt(".2f", "x"),
            "< 1x (fewer requests; no numeric target given)",
            wait_ratio.median < 1,
        ),
    ]
    return ScenarioResult(
        "polling", "5. Polling cost", tables=[table], targets=targets, raw={"figures": figures}
    )
