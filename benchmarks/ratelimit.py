"""Scenario 1: how much of a server's rate limit each client turns into accepted pushes.

Servers (each client gets its own limiter, so clients never share a budget):

- the sandbox in its own process, token bucket of R requests/s, ``--rate-limit-scope
  push`` (and the clients run with ``wait=False`` anyway: no polls, only pushes count):
  R = 20 with a bucket of 1 (no burst at all, the sandbox's default) and R = 100 with a
  bucket of 5 (a small burst allowance). At R = 100 a bucket of 1 is not a fair test:
  the sandbox (uvicorn + h11 on one core) stamps each request after parsing it, and that
  queueing jitter made it refuse 6% of the pushes of a client paced on a fixed schedule
  at 0.8 R (and 15% at 0.9 R);
- nginx ``limit_req`` at 20 r/s (``limit_req_status 429``, ``Retry-After: 1`` on every
  429) proxying to an unlimited sandbox, with ``burst=5 nodelay`` or with no burst.

Clients, all pushing the same fixed number of small chunks (``CHUNK`` records each, so
that pushes are many), each a fresh process on the client CPU with its own limiter; runs
share the machine as ``SLOTS`` says (the runs of one server setup at once):

- ``sdk, rate unknown``: ``client.onboard(records, wait=False)``, learning the rate from 429s;
- ``sdk, rate told``: the same with ``rate=R``;
- ``gather+semaphore``: ``asyncio.gather`` of every push under a semaphore of 4 (the
  SDK's default concurrency); a 429 sleeps its ``Retry-After`` (inside the semaphore) and
  retries: what most hand-written clients do;
- ``sequential``: one push after the other, sleeping ``Retry-After`` on a 429;
- ``reference pacer``: not a client to copy: one push every 1/(0.95 R) s on a fixed
  schedule, 429s dropped. Its 429 share is what the server's own timing costs a client
  that is as even as a Python loop can be.

Every request is timed by a recording transport in the client. Figures per run:
accepted pushes/s ÷ R and the share of pushes answered 429, over the whole run (first
push to last accepted push) and in steady state (the same, leaving out the first
``warmup`` seconds: the discovery of an unknown rate); records/s; and the wall time to
push the fixed record count (projected from records/s when a baseline hit the time cap).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx2

from benchmarks._common import (
    ENTITY,
    Endpoint,
    Exchange,
    LimitedListener,
    Nginx,
    RecordingTransport,
    SandboxProcess,
    ScenarioResult,
    Table,
    Target,
    addresses,
    fetch_token,
    run_together,
    sandboxes,
    sdk_client,
)

CHUNK = 10
NAIVE_CONCURRENCY = 4
CLIENTS = ("sdk-unknown", "sdk-told", "gather", "sequential", "pacer")
PACER_SHARE = 0.95
CLIENT_LABELS = {
    "sdk-unknown": "SDK, rate unknown",
    "sdk-told": "SDK, rate told (rate=R)",
    "gather": "gather + semaphore(4) + sleep Retry-After",
    "sequential": "sequential loop + sleep Retry-After",
    "pacer": f"reference: fixed schedule at {PACER_SHARE}·R, ignores 429s",
}


@dataclass(frozen=True)
class Setup:
    key: str
    label: str
    server: str  # "sandbox" | "nginx"
    rate: int
    burst: int
    """sandbox: bucket capacity (1 = no burst); nginx: ``burst=N nodelay`` (0 = none)."""
    seconds: float
    """Time the fixed push count takes at exactly R."""
    quick_seconds: float

    @property
    def has_burst(self) -> bool:
        return self.burst > (1 if self.server == "sandbox" else 0)


SETUPS = (
    Setup("sandbox-20", "sandbox R=20/s, no burst", "sandbox", 20, 1, 40, 12),
    Setup("sandbox-100-b5", "sandbox R=100/s, bucket of 5", "sandbox", 100, 5, 15, 6),
    Setup("nginx-20-b5", "nginx R=20/s, burst=5 nodelay", "nginx", 20, 5, 40, 12),
    Setup("nginx-20", "nginx R=20/s, no burst", "nginx", 20, 0, 40, 12),
)


# -- client runs (each in its own process) ---------------------------------------------


async def client_run(params: dict[str, Any]) -> dict[str, Any]:
    """Push ``pushes`` chunks of ``CHUNK`` records with one of the clients; its timeline."""
    endpoint = Endpoint(**params["endpoint"])
    kind: str = params["client"]
    pushes: int = params["pushes"]
    cap: float = params["cap"]
    records = addresses(pushes * CHUNK)
    log: list[Exchange] = []
    extra: dict[str, Any] = {}
    t0 = time.monotonic()
    if kind.startswith("sdk"):
        transport = RecordingTransport.like_the_sdk(log)
        async with sdk_client(endpoint, transport=transport) as client:
            t0 = time.monotonic()
            report = await client.onboard(
                records,
                entity=ENTITY,
                chunk_size=CHUNK,
                rate=params["rate"] if kind == "sdk-told" else None,
                wait=False,
                timeout=cap,
            )
        extra = {
            "final_rate": report.stats.final_rate,
            "cooldown_s": report.stats.cooldown,
            "not_sent": report.not_sent,
        }
    else:
        bodies = [
            json.dumps(records[i : i + CHUNK]).encode() for i in range(0, len(records), CHUNK)
        ]
        async with httpx2.AsyncClient(
            transport=RecordingTransport(httpx2.AsyncHTTPTransport(), log)
        ) as http:
            token = await fetch_token(http, endpoint)
            t0 = time.monotonic()
            naive = {"gather": _gather, "sequential": _sequential, "pacer": _pacer}[kind]
            try:
                await asyncio.wait_for(naive(http, endpoint, token, bodies, params["rate"]), cap)
            except TimeoutError:
                extra["capped"] = True
    wall = time.monotonic() - t0
    return {
        "client": kind,
        "wall_s": wall,
        "pushes": pushes,
        "log": [
            [round(e.start - t0, 4), round(e.end - t0, 4), e.status]
            for e in log
            if e.method == "POST"
        ],
        **extra,
    }


async def _post_until_accepted(
    http: httpx2.AsyncClient, url: str, headers: dict[str, str], body: bytes
) -> None:
    while True:
        response = await http.post(url, content=body, headers=headers)
        if response.status_code == 429:
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            continue
        response.raise_for_status()
        return


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def _gather(
    http: httpx2.AsyncClient, endpoint: Endpoint, token: str, bodies: list[bytes], rate: float
) -> None:
    url, headers = f"{endpoint.base_url}/{ENTITY}", _headers(token)
    semaphore = asyncio.Semaphore(NAIVE_CONCURRENCY)

    async def push(body: bytes) -> None:
        async with semaphore:
            await _post_until_accepted(http, url, headers, body)

    await asyncio.gather(*(push(body) for body in bodies))


async def _sequential(
    http: httpx2.AsyncClient, endpoint: Endpoint, token: str, bodies: list[bytes], rate: float
) -> None:
    url, headers = f"{endpoint.base_url}/{ENTITY}", _headers(token)
    for body in bodies:
        await _post_until_accepted(http, url, headers, body)


async def _pacer(
    http: httpx2.AsyncClient, endpoint: Endpoint, token: str, bodies: list[bytes], rate: float
) -> None:
    """Not a client to copy: one push every 1/(0.95 R) s on a fixed schedule, 429s dropped.

    It shows how many 429s the server's own timing draws from a client that is as even
    as a Python loop can be, below the limit (the server's jitter, not the client's).
    """
    url, headers = f"{endpoint.base_url}/{ENTITY}", _headers(token)
    start = time.monotonic()
    for i, body in enumerate(bodies):
        pause = start + i / (rate * PACER_SHARE) - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        await http.post(url, content=body, headers=headers)


# -- analysis ----------------------------------------------------------------------------


@dataclass
class Figures:
    pushes: int
    accepted: int
    throttled: int
    other: int
    utilisation: float
    share_429: float
    steady_utilisation: float
    steady_share_429: float
    records_per_s: float
    wall_s: float
    complete: bool

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def analyse(run: dict[str, Any], *, rate: float, warmup: float) -> Figures:
    log = sorted(run["log"])  # [start, end, status], seconds from the client's start
    accepted = [e for e in log if e[2] == 200]
    throttled = sum(1 for e in log if e[2] == 429)
    other = len(log) - len(accepted) - throttled
    if not accepted:
        nan = float("nan")
        return Figures(len(log), 0, throttled, other, 0.0, 1.0, nan, nan, 0.0, nan, False)
    first = log[0][0]
    last = max(e[1] for e in accepted)
    span = max(last - first, 1e-9)
    steady_from = first + warmup
    steady_span = last - steady_from
    steady_sent = [e for e in log if e[0] >= steady_from]
    steady_ok = sum(1 for e in accepted if e[1] >= steady_from)
    steady_429 = sum(1 for e in steady_sent if e[2] == 429)
    records = len(accepted) * CHUNK
    records_per_s = records / max(last, 1e-9)
    complete = len(accepted) >= run["pushes"]
    total_records = run["pushes"] * CHUNK
    wall = run["wall_s"] if complete else total_records / records_per_s
    return Figures(
        pushes=len(log),
        accepted=len(accepted),
        throttled=throttled,
        other=other,
        utilisation=len(accepted) / span / rate,
        share_429=throttled / len(log),
        steady_utilisation=steady_ok / steady_span / rate if steady_span > 1 else float("nan"),
        steady_share_429=steady_429 / len(steady_sent) if steady_sent else float("nan"),
        records_per_s=records_per_s,
        wall_s=wall,
        complete=complete,
    )


# -- the scenario ------------------------------------------------------------------------


# What runs at the same time: one server setup at a time, and the two SDK runs apart
# from the baselines. A crowded CPU delays wake-ups by a few milliseconds, and a limiter
# with no burst refuses a request that arrives 2.5 ms early at 0.95 R = 20/s: the naive
# clients, which send as fast as they can, would spoil the timing of the paced ones.
SLOTS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = tuple(
    slot
    for key in ("sandbox-20", "nginx-20-b5", "nginx-20", "sandbox-100-b5")
    for slot in (((key,), ("sdk-unknown", "sdk-told")), ((key,), ("gather", "sequential", "pacer")))
)


def _jobs(
    setup: Setup, clients: tuple[str, ...], endpoints: list[Endpoint], seconds: float
) -> list[tuple[str, str, dict[str, Any]]]:
    pushes = int(setup.rate * seconds)
    cap = seconds * 1.1 + 3
    return [
        (
            "ratelimit",
            "client_run",
            {
                "endpoint": endpoint.to_json(),
                "client": client,
                "pushes": pushes,
                "rate": setup.rate,
                "cap": cap,
            },
        )
        for client, endpoint in zip(clients, endpoints, strict=True)
    ]


def _endpoints(setup: Setup, count: int, stack: contextlib.ExitStack) -> list[Endpoint]:
    """Start the servers of ``setup`` (stopped with ``stack``): one limiter per client."""
    if setup.server == "sandbox":
        servers = stack.enter_context(
            sandboxes(count, rate_limit=setup.rate, burst=setup.burst, scope="push")
        )
        return [s.endpoint for s in servers]
    upstream = stack.enter_context(SandboxProcess())
    listener = LimitedListener(rate=setup.rate, burst=setup.burst)
    nginx = stack.enter_context(Nginx(upstream.url, [listener] * count))
    return [Endpoint(url, token_root=upstream.url) for url in nginx.urls()]


def _run_slot(
    setups: list[Setup], clients: tuple[str, ...], quick: bool
) -> list[tuple[Setup, dict[str, Any]]]:
    """Run ``clients`` against every setup of the slot, all at the same time."""
    seconds = max(s.quick_seconds if quick else s.seconds for s in setups)
    with contextlib.ExitStack() as stack:
        jobs = []
        for setup in setups:
            own = setup.quick_seconds if quick else setup.seconds
            jobs.extend(_jobs(setup, clients, _endpoints(setup, len(clients), stack), own))
        runs = run_together(jobs, timeout=seconds * 1.25 + 90)
    owners = [setup for setup in setups for _ in clients]
    return list(zip(owners, runs, strict=True))


def _fmt(value: float, spec: str) -> str:
    return "n/a" if value != value else format(value, spec)  # NaN check


def run(*, quick: bool = False) -> ScenarioResult:
    result = ScenarioResult("ratelimit", "1. Rate-limit utilisation")
    rows: list[list[str]] = []
    raw: dict[str, Any] = {}
    by_key = {setup.key: setup for setup in SETUPS}
    all_runs: dict[str, list[dict[str, Any]]] = {setup.key: [] for setup in SETUPS}
    for keys, clients in SLOTS:
        for setup, run_ in _run_slot([by_key[k] for k in keys], clients, quick):
            all_runs[setup.key].append(run_)
    for setup in SETUPS:
        seconds = setup.quick_seconds if quick else setup.seconds
        warmup = min(10.0, seconds / 4)
        runs = sorted(all_runs[setup.key], key=lambda r: CLIENTS.index(r["client"]))
        raw[setup.key] = {"setup": setup.__dict__, "warmup_s": warmup, "runs": []}
        for run_ in runs:
            figures = analyse(run_, rate=setup.rate, warmup=warmup)
            raw[setup.key]["runs"].append({**run_, "figures": figures.to_json()})
            wall = _fmt(figures.wall_s, ".1f") + (" s" if figures.complete else " s (proj.)")
            if run_["client"] == "pacer":
                wall = "-"
            rows.append(
                [
                    setup.label,
                    CLIENT_LABELS[run_["client"]],
                    _fmt(figures.utilisation, ".3f"),
                    _fmt(figures.share_429 * 100, ".1f") + "%",
                    _fmt(figures.steady_utilisation, ".3f"),
                    _fmt(figures.steady_share_429 * 100, ".1f") + "%",
                    _fmt(figures.records_per_s, ",.0f"),
                    wall,
                    f"{figures.accepted}/{run_['pushes']}",
                ]
            )
            result.targets.extend(_targets(setup, run_, figures))
    pushes = {s.key: int(s.rate * (s.quick_seconds if quick else s.seconds)) for s in SETUPS}
    result.tables.append(
        Table(
            f"Rate-limit utilisation: {CHUNK} records per push, wait=False, one run each, each"
            " client against its own limiter; the runs of one server setup at the same time (at"
            " R=100 the two SDK runs, then the others)",
            [
                "server",
                "client",
                "accepted/s ÷ R (whole run)",
                "429 share (whole run)",
                "accepted/s ÷ R (steady)",
                "429 share (steady)",
                "records/s",
                "wall for the fixed count",
                "pushes accepted",
            ],
            rows,
            notes=[
                "whole run: first push to last accepted push. steady: the same, leaving out the "
                "first quarter of the nominal time (at most 10 s), where an unknown rate is "
                "being discovered.",
                "Fixed counts: "
                + ", ".join(f"{s.label}: {pushes[s.key]} pushes" for s in SETUPS)
                + f" ({CHUNK} records each). A run that hit the time cap "
                "(1.1x nominal + 3 s) shows its wall time projected from its records/s.",
                "R is the configured limit; a bucket or burst lets slightly more than R·t through"
                " at the start, so a ratio can exceed 1.",
            ],
        )
    )
    result.raw = raw
    return result


def _targets(setup: Setup, run_: dict[str, Any], f: Figures) -> list[Target]:
    client = run_["client"]
    if not client.startswith("sdk"):
        return []
    told = client == "sdk-told"
    final_rate = run_.get("final_rate")
    why = (
        f"{f.throttled} 429s closed the gate for {run_.get('cooldown_s', 0):.0f} s in all "
        f"(Retry-After 1 s each = {setup.rate} pushes at R); the gate ended at "
        + (f"{final_rate:.1f}/s" if final_rate else "no pacing")
    )
    where = f"{setup.label}, {'rate told' if told else 'rate unknown'}"
    if setup.has_burst:
        floor = 0.98 if told else 0.95
        max_429 = 0.01
    else:
        floor, max_429 = 0.85, 0.03
    targets = [
        Target(
            "1 rate limit",
            f"{where}: accepted/s ÷ R (whole run)",
            _fmt(f.utilisation, ".3f"),
            f"≥ {floor}",
            f.utilisation >= floor,
            why,
        ),
        Target(
            "1 rate limit",
            f"{where}: share of pushes answered 429 (whole run)",
            _fmt(f.share_429 * 100, ".1f") + "%",
            f"≤ {max_429:.0%}",
            f.share_429 <= max_429,
            why,
        ),
    ]
    if not told:
        targets.append(
            Target(
                "1 rate limit",
                f"{where}: accepted/s ÷ R, steady state (after discovery)",
                _fmt(f.steady_utilisation, ".3f"),
                f"≥ {floor} (same bound, for reference)",
                f.steady_utilisation >= floor,
                why,
            )
        )
    return targets
