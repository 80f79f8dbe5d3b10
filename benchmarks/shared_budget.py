"""Several processes, one tenant: the rate budget shared through Redis, or not at all.

A sandbox process limits pushes to R/s (a bucket of 2) for everyone; PROCESSES client
processes, each told ``rate=R`` (the tenant's limit, as a user would configure every
job), onboard their own records at the same time with the defaults otherwise
(``wait=True``), chunks of 100. Cases, each against a fresh sandbox and, for Redis, an
emptied redis-server, in alternating rounds:

- ``redis``: ``AsyncClient(rate_backend=REDIS_URL)``: one pacer, cooldown and token;
- ``alone``: no backend: each process paces at R on its own;
- ``redis killed``: as ``redis``, the redis-server killed a few seconds in;
- ``redis rate unknown``, ``alone rate unknown``: the same, no process told the rate (the
  lane learns it in Redis from every process's 429s; alone, each process learns its own).

Figures: accepted pushes/s of all processes together over the push phase (first to last
accepted push) ÷ R, 429s ÷ push requests, token requests, and every record stored once.

    python -m benchmarks.shared_budget [--rounds 2] [--processes 4] [--rate 20]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any

from benchmarks._common import (
    BenchError,
    Endpoint,
    SandboxProcess,
    apt_install,
    run_together,
    sdk_client,
)

CHUNK = 100


async def client_run(params: dict[str, Any]) -> dict[str, Any]:
    """One process's job: its records, rate told, through Redis or not."""
    from buildingminds_async import BatchAcceptedEvent, EventHooks, RateLimitedEvent

    endpoint = Endpoint(**params["endpoint"])
    accepted: list[float] = []
    throttled_at: list[float] = []

    def seen(event: BatchAcceptedEvent) -> None:
        accepted.append(time.time())

    def throttled(event: RateLimitedEvent) -> None:
        throttled_at.append(time.time())

    start, n = params["start"], params["records"]
    records = [
        {
            "eventType": "AddressAdded",
            "addressId": f"A{i}",
            "city": "Berlin",
            "country": "DE",
            "postalCode": "10115",
        }
        for i in range(start, start + n)
    ]
    options: dict[str, Any] = {}
    if params["redis"]:
        options["rate_backend"] = params["redis"]
    async with sdk_client(endpoint, **options) as client:
        report = await client.onboard(
            records,
            chunk_size=CHUNK,
            rate=params["rate"] if params["told"] else None,
            hooks=EventHooks(on_batch_accepted=seen, on_rate_limited=throttled),
            timeout=600,
        )
    return {
        "pushes": report.stats.pushes,
        "throttled": report.stats.rate_limited,
        "completed": report.completed,
        "first": min(accepted, default=0.0),
        "last": max(accepted, default=0.0),
        "throttled_at": throttled_at,
    }


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        apt_install("redis-server", "the shared-budget benchmark")
        binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise BenchError("redis-server did not start")


def one_case(case: str, processes: int, rate: float, records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        alone = case.startswith("alone")
        redis_proc, redis_url = start_redis(tmp) if not alone else (None, None)
        killer = None
        if case == "redis killed" and redis_proc is not None:
            proc = redis_proc
            killer = threading.Timer(3.0, proc.kill)
            killer.start()
        try:
            with SandboxProcess(rate_limit=rate, burst=2, scope="push") as sandbox:
                jobs = [
                    (
                        "shared_budget",
                        "client_run",
                        {
                            "endpoint": sandbox.endpoint.to_json(),
                            "redis": redis_url,
                            "rate": rate,
                            "told": "unknown" not in case,
                            "start": p * records,
                            "records": records,
                        },
                    )
                    for p in range(processes)
                ]
                results = run_together(jobs, timeout=900)
                ledger = sandbox.ledger()
        finally:
            if killer is not None:
                killer.cancel()
            if redis_proc is not None:
                redis_proc.kill()
                redis_proc.wait()
    pushes = sum(r["pushes"] for r in results)
    throttled = sum(r["throttled"] for r in results)
    phase = max(r["last"] for r in results) - min(r["first"] for r in results)
    received = ledger["received"]["address"]
    assert received["distinctIds"] == processes * records, received
    assert received["duplicateIds"] == 0, received
    assert sum(r["completed"] for r in results) == processes * records
    start = min(r["first"] for r in results)
    when = sorted(round(t - start, 1) for r in results for t in r["throttled_at"])
    print(f"{case}: 429s at {when} s after the first accepted push", flush=True)
    return {
        "rate_ratio": (pushes - 1) / phase / rate if phase > 0 else 0.0,
        "throttled_share": throttled / max(pushes + throttled, 1),
        "tokens": ledger["counters"].get("tokens_issued", 0),
        "stored_once": received["duplicateIds"] == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--records", type=int, default=4_000, help="per process")
    parser.add_argument(
        "--cases", default="redis,alone,redis killed,redis rate unknown,alone rate unknown"
    )
    args = parser.parse_args()
    cases = args.cases.split(",")
    figures: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    for _ in range(args.rounds):
        for case in cases:
            figures[case].append(one_case(case, args.processes, args.rate, args.records))
    print(
        f"\n{args.processes} processes x {args.records:,} records (chunks of {CHUNK}), "
        f"rate told R={args.rate:g}/s each, sandbox limiting pushes to R (bucket 2), "
        f"{args.rounds} round(s)\n"
    )
    print("| case | accepted pushes/s ÷ R | 429s ÷ pushes | token requests | stored once |")
    print("|---|---|---|---|---|")
    for case in cases:
        rows = figures[case]
        ratios = [r["rate_ratio"] for r in rows]
        shares = [r["throttled_share"] for r in rows]
        tokens = sorted({r["tokens"] for r in rows})
        print(
            f"| {case} | {min(ratios):.2f}-{max(ratios):.2f} | "
            f"{min(shares):.1%}-{max(shares):.1%} | {', '.join(map(str, tokens))} | "
            f"{'yes' if all(r['stored_once'] for r in rows) else 'NO'} |"
        )


if __name__ == "__main__":
    main()
