"""Scenario 3: many small pushes (one record per request) from concurrent callers.

N callers (1, 8, 64) share one client and loop ``client.push("address", [record])`` for a
fixed time. The server is ``benchmarks._stub_server``, a bare asyncio HTTP/1.1 server that
answers every push with a Batch ID in microseconds: the sandbox (uvicorn + h11, which
validates and stores every push) costs about a millisecond per request and would limit
the faster clients and hide what many requests in flight cost a client. Clients, each
run a fresh process, in an order rotated from one round to the next:

- ``sdk``: ``AsyncClient()``, the default httpx transport, in-flight cap 8;
- ``sdk-aiohttp``: ``AsyncClient(http_backend="aiohttp")`` (httpx-aiohttp transport);
- ``httpx-aiohttp``: plain ``httpx2.AsyncClient(transport=AiohttpTransport())`` posting
  the same bodies: what the option costs before the SDK adds anything;
- ``aiohttp``: plain ``aiohttp.ClientSession`` posting the same one-record bodies,
  pre-encoded, with the bearer token: the floor for the aiohttp option;
- ``httpx``: plain ``httpx2.AsyncClient()`` (default limits) posting the same bodies: the
  baseline for the in-flight cap (at 8 and 64 callers).

Figures: client CPU µs per request (CPU seconds of the client process in the measured
window ÷ requests completed in it) and requests/s. Targets: ``sdk-aiohttp`` CPU/request
within 1.5x of ``aiohttp``; ``sdk`` requests/s at 64 callers ≥ 0.9x its requests/s at 8.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._common import (
    ENTITY,
    Endpoint,
    ScenarioResult,
    Stat,
    StubServer,
    Table,
    Target,
    addresses,
    cpu_seconds,
    fetch_token,
    ratio_stat,
    run_child,
    sdk_client,
)

CALLERS = (1, 8, 64)
CLIENTS = ("sdk", "sdk-aiohttp", "httpx-aiohttp", "aiohttp", "httpx", "old-httpx")
LABELS = {
    "sdk": "SDK, default transport (httpx2)",
    "sdk-aiohttp": 'SDK, http_backend="aiohttp"',
    "httpx-aiohttp": "plain httpx2 + httpx_aiohttp.httpx2.AiohttpTransport",
    "aiohttp": "plain aiohttp.ClientSession",
    "httpx": "plain httpx2.AsyncClient()",
    "old-httpx": "plain httpx.AsyncClient() (the old library)",
}
POOL = 4096  # distinct records cycled through
# The SDK's in-flight cap at 64 callers: the default (8) against higher caps.
IN_FLIGHT = (16, 32, 64)
SWEEP = tuple(f"sdk-{cap}" for cap in IN_FLIGHT)
LABELS.update({f"sdk-{cap}": f"SDK, default transport, max_in_flight={cap}" for cap in IN_FLIGHT})


def _configs() -> list[tuple[str, int]]:
    configs = [(client, callers) for callers in CALLERS for client in CLIENTS]
    return configs + [(client, 64) for client in SWEEP]


# What each SDK configuration is compared with to isolate the SDK's own cost.
SAME_TRANSPORT = {"sdk": "httpx", "sdk-aiohttp": "httpx-aiohttp"}


# -- client runs (each in its own process) ---------------------------------------------


async def client_run(params: dict[str, Any]) -> dict[str, Any]:
    endpoint = Endpoint(**params["endpoint"])
    kind: str = params["client"]
    callers: int = params["callers"]
    records = addresses(POOL)
    if kind.startswith("sdk"):
        backend = "aiohttp" if kind == "sdk-aiohttp" else "httpx"
        cap = int(kind.removeprefix("sdk-")) if kind in SWEEP else 8
        async with sdk_client(endpoint, http_backend=backend, max_in_flight=cap) as client:

            async def push_sdk(i: int) -> None:
                await client.push(ENTITY, [records[i % POOL]])

            return await _drive(push_sdk, callers, params)
    import orjson

    bodies = [orjson.dumps([record]) for record in records]
    url = f"{endpoint.base_url}/{ENTITY}"
    import httpx2

    async with httpx2.AsyncClient() as http:
        token = await fetch_token(http, endpoint)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    if kind == "aiohttp":
        import aiohttp

        async with aiohttp.ClientSession(headers=headers) as session:

            async def push_aiohttp(i: int) -> None:
                async with session.post(url, data=bodies[i % POOL]) as response:
                    payload = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"push answered {response.status}")
                    orjson.loads(payload)["batchId"]

            return await _drive(push_aiohttp, callers, params)
    if kind == "old-httpx":  # the library the SDK moved from: the baseline of the move
        import httpx

        async with httpx.AsyncClient(headers=headers) as old:

            async def push_old(i: int) -> None:
                response = await old.post(url, content=bodies[i % POOL])
                response.raise_for_status()
                response.json()["batchId"]

            return await _drive(push_old, callers, params)
    transport = None
    if kind == "httpx-aiohttp":
        from httpx_aiohttp.httpx2 import AiohttpTransport

        transport = AiohttpTransport()
    async with httpx2.AsyncClient(headers=headers, transport=transport) as http:

        async def push_httpx(i: int) -> None:
            response = await http.post(url, content=bodies[i % POOL])
            response.raise_for_status()
            response.json()["batchId"]

        return await _drive(push_httpx, callers, params)


async def _drive(
    push: Callable[[int], Awaitable[None]], callers: int, params: dict[str, Any]
) -> dict[str, Any]:
    """``callers`` tasks push in a loop; count and time the requests of the measured window."""
    done = 0
    stop = False

    async def caller(k: int) -> None:
        nonlocal done
        i = k
        while not stop:
            await push(i)
            done += 1
            i += callers

    tasks = [asyncio.create_task(caller(k)) for k in range(callers)]
    await asyncio.sleep(params["warmup"])
    n0, cpu0, t0 = done, cpu_seconds(), time.perf_counter()
    await asyncio.sleep(params["seconds"])
    n1, cpu1, t1 = done, cpu_seconds(), time.perf_counter()
    stop = True
    await asyncio.gather(*tasks)
    requests = n1 - n0
    wall = t1 - t0
    return {
        "requests": requests,
        "wall_s": wall,
        "requests_per_s": requests / wall,
        "cpu_us_per_request": (cpu1 - cpu0) / max(requests, 1) * 1e6,
        "utilisation": (cpu1 - cpu0) / wall,
    }


# -- the scenario ------------------------------------------------------------------------


def run(*, quick: bool = False) -> ScenarioResult:
    reps = 3
    window = {"warmup": 0.3, "seconds": 0.6 if quick else 0.8}
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {c: [] for c in _configs()}
    configs = _configs()
    with StubServer() as server:
        for rep in range(reps):
            shift = rep * len(configs) // reps  # rotate the order from one round to the next
            for client, callers in configs[shift:] + configs[:shift]:
                params = {
                    "endpoint": server.endpoint.to_json(),
                    "client": client,
                    "callers": callers,
                    **window,
                }
                runs[(client, callers)].append(run_child("small_pushes", "client_run", params))

    def col(client: str, callers: int, key: str) -> list[float]:
        return [r[key] for r in runs.get((client, callers), [])]

    rows = []
    for client, callers in _configs():
        if client in SWEEP:
            continue
        cpu = col(client, callers, "cpu_us_per_request")
        vs_aiohttp = ratio_stat(cpu, col("aiohttp", callers, "cpu_us_per_request"))
        plain = SAME_TRANSPORT.get(client)
        vs_plain = (
            ratio_stat(cpu, col(plain, callers, "cpu_us_per_request")).fmt(".2f", "x")
            if plain
            else ""
        )
        rows.append(
            [
                str(callers),
                LABELS[client],
                Stat.of(col(client, callers, "requests_per_s")).fmt(",.0f"),
                Stat.of(cpu).fmt(",.0f"),
                Stat.of(col(client, callers, "utilisation")).fmt(".2f"),
                vs_aiohttp.fmt(".2f", "x"),
                vs_plain,
            ]
        )
    scaling_rows = []
    scaling: dict[str, Stat] = {}
    for client in CLIENTS:
        scaling[client] = ratio_stat(
            col(client, 64, "requests_per_s"), col(client, 8, "requests_per_s")
        )
        per_cpu = ratio_stat(
            col(client, 8, "cpu_us_per_request"), col(client, 64, "cpu_us_per_request")
        )
        scaling_rows.append(
            [LABELS[client], scaling[client].fmt(".2f", "x"), per_cpu.fmt(".2f", "x")]
        )
    move_rows = [
        [
            str(callers),
            ratio_stat(
                col("httpx", callers, "cpu_us_per_request"),
                col("old-httpx", callers, "cpu_us_per_request"),
            ).fmt(".2f", "x"),
            ratio_stat(
                col("httpx", callers, "requests_per_s"),
                col("old-httpx", callers, "requests_per_s"),
            ).fmt(".2f", "x"),
        ]
        for callers in CALLERS
    ]
    sweep_rows = [
        [
            str(cap),
            Stat.of(col(client, 64, "requests_per_s")).fmt(",.0f"),
            Stat.of(col(client, 64, "cpu_us_per_request")).fmt(",.0f"),
            ratio_stat(
                col(client, 64, "cpu_us_per_request"), col("sdk", 64, "cpu_us_per_request")
            ).fmt(".2f", "x"),
        ]
        for cap, client in ((8, "sdk"), *zip(IN_FLIGHT, SWEEP, strict=True))
    ]
    tables = [
        Table(
            f"Small pushes: one record per request, N callers sharing one client, "
            f"{window['seconds']:g} s measured after {window['warmup']:g} s warm-up, "
            f"median of {reps} (min-max)",
            [
                "callers",
                "client",
                "requests/s",
                "client CPU µs/request",
                "client CPU util",
                "CPU/request ÷ plain aiohttp",
                "SDK CPU/request ÷ plain client, same transport",
            ],
            rows,
            notes=[
                "client CPU util = client CPU seconds per wall second; below 1 the client process"
                " did not get a whole core (the stub server is not the limit): requests/s then"
                " depends on the machine's other load, CPU per request much less.",
                "Last column: the SDK's own cost per request (validation, token, in-flight cap,"
                " retry wrapper) over a plain client of the same transport (httpx2, or httpx2 +"
                " AiohttpTransport).",
            ],
        ),
        Table(
            "max_in_flight with 64 callers, default transport (the default is 8)",
            ["max_in_flight", "requests/s", "client CPU µs/request", "CPU/request ÷ cap 8"],
            sweep_rows,
        ),
        Table(
            "The move to httpx2: plain httpx2 ÷ plain httpx (the library the SDK left)",
            ["callers", "CPU/request", "requests/s"],
            move_rows,
        ),
        Table(
            "Concurrency scaling: 64 callers ÷ 8 callers (paired runs)",
            ["client", "requests/s, 64 ÷ 8", "requests per client CPU second, 64 ÷ 8"],
            scaling_rows,
            notes=[
                "The second column divides out how much of a core the client process got, "
                "which on a shared machine varies from run to run.",
            ],
        ),
    ]
    targets = []
    for callers in CALLERS:
        r = ratio_stat(
            col("sdk-aiohttp", callers, "cpu_us_per_request"),
            col("aiohttp", callers, "cpu_us_per_request"),
        )
        transport = ratio_stat(
            col("httpx-aiohttp", callers, "cpu_us_per_request"),
            col("aiohttp", callers, "cpu_us_per_request"),
        )
        own = ratio_stat(
            col("sdk-aiohttp", callers, "cpu_us_per_request"),
            col("httpx-aiohttp", callers, "cpu_us_per_request"),
        )
        targets.append(
            Target(
                "3 small pushes",
                f'http_backend="aiohttp" CPU/request ÷ plain aiohttp, {callers} caller(s)',
                r.fmt(".2f", "x"),
                "≤ 1.5x",
                r.median <= 1.5,
                f"plain httpx2 + AiohttpTransport alone costs {transport.median:.2f}x plain "
                f"aiohttp; the SDK adds {own.median:.2f}x on top of it",
            )
        )
    growth = ratio_stat(col("sdk", 64, "cpu_us_per_request"), col("sdk", 8, "cpu_us_per_request"))
    targets.append(
        Target(
            "3 small pushes",
            "default transport: requests/s with 64 callers ÷ with 8 "
            f"(plain httpx2: {scaling['httpx'].fmt('.2f', 'x')})",
            scaling["sdk"].fmt(".2f", "x"),
            "≥ 0.9x",
            scaling["sdk"].median >= 0.9,
            f"at most 8 requests reach httpx2 either way, yet the SDK's CPU per request with 64 "
            f"callers is {growth.median:.2f}x that with 8",
        )
    )
    return ScenarioResult(
        "small_pushes",
        "3. Small pushes",
        tables=tables,
        targets=targets,
        raw={f"{client}@{callers}": v for (client, callers), v in runs.items()},
    )
