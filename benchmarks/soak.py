"""The seeded soak: a big default job with every fault mixed in, nothing stored twice.

A sandbox process on loopback (processing 0.5 s a batch, tokens living 20 s) with faults
drawn per answer from seeded generators (``--share``, 20% of the answers by default), on
pushes and reads alike: resets after the server did the work, answers stalled past the
client's read timeout, 503s and 429s, and 503s from the token endpoint. One client
process runs ``client.onboard()`` with its defaults (``wait=True``, ``chunk_size="auto"``)
over the records, with a read timeout of 2 s (so a stalled answer is a lost one).
Checked: every record stored once (the ledger's receive counts), the report's completed
records equal the ledger's stored ones, the counts add up. Reported: faults injected by
kind, reconciled and resent chunks, retries, wall time, the client's peak RSS.

    python -m benchmarks.soak [--records 200000] [--seed 1] [--share 0.2]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import urllib.request
from typing import Any

from benchmarks._common import Endpoint, SandboxProcess, run_child, sdk_client


def faults(share: float) -> list[dict[str, Any]]:
    """``share`` of the API's answers faulted, split evenly among the four kinds, and
    twice that share of the token endpoint's answered 503."""
    each = share / 4
    return [
        {"kind": "reset", "target": "api", "probability": each},
        {"kind": "slow", "target": "api", "probability": each, "delay": 4.0},
        {"kind": "503", "target": "api", "probability": each},
        {"kind": "429", "target": "api", "probability": each},
        {"kind": "503", "target": "token", "probability": min(2 * share, 1.0)},
    ]


async def client_run(params: dict[str, Any]) -> dict[str, Any]:
    endpoint = Endpoint(**params["endpoint"])
    n = params["records"]

    def records() -> Any:
        for i in range(n):
            yield {
                "eventType": "AddressAdded",
                "addressId": f"A{i:07d}",
                "city": "Berlin",
                "country": "DE",
                "postalCode": "10115",
                "streetName": "Invalidenstraße",
                "houseNumber": str(i % 200 + 1),
            }

    started = time.perf_counter()
    async with sdk_client(endpoint, timeout=2.0) as client:
        report = await client.onboard(records(), timeout=900)
    summary = report.summary()
    summary["wall_s"] = time.perf_counter() - started
    summary["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary["polls"] = report.stats.polls
    return summary


def configure(url: str, seed: int, share: float) -> None:
    seeded = [{**fault, "seed": seed + i} for i, fault in enumerate(faults(share))]
    body = json.dumps({"faults": seeded, "token_lifetime": 20, "processing_delay": 0.5})
    request = urllib.request.Request(  # noqa: S310 - the sandbox on loopback
        url + "/_sandbox/config",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--share", type=float, default=0.2, help="of the answers faulted")
    args = parser.parse_args()
    with SandboxProcess() as sandbox:
        configure(sandbox.url, args.seed, args.share)
        result = run_child(
            "soak",
            "client_run",
            {"endpoint": sandbox.endpoint.to_json(), "records": args.records},
            timeout=1200,
        )
        ledger = sandbox.ledger()
    received = ledger["received"]["address"]
    stored = ledger["stored"].get("address", 0)
    counters = ledger["counters"]
    injected = {k.removeprefix("fault_"): v for k, v in counters.items() if k.startswith("fault_")}
    twice = received["duplicateIds"]
    adds_up = result["submitted"] + result["invalid"] == args.records
    print(
        f"\nsoak: {args.records:,} address records, seed {args.seed}, {args.share:.0%} of "
        f"the API's answers faulted (reset, slow, 503, 429 alike), "
        f"{min(2 * args.share, 1):.0%} of the token endpoint's 503\n"
    )
    print("| figure | value |")
    print("|---|---|")
    rows = [
        ("faults injected by kind", ", ".join(f"{k} {v:,}" for k, v in sorted(injected.items()))),
        (
            "token requests / tokens issued",
            f"{counters.get('token_requests', 0):,} / {counters.get('tokens_issued', 0):,}",
        ),
        ("pushes received by the sandbox", f"{counters.get('pushes', 0):,}"),
        (
            "completed / failed / pending",
            f"{result['completed']:,} / {result['failed']:,} / {result['pending']:,}",
        ),
        ("stored by the sandbox", f"{stored:,} (report completed: {result['completed']:,})"),
        ("records received twice", f"{twice:,}"),
        ("reconciled (lost answers found)", f"{result['reconciled']:,}"),
        ("resent (after a look-up)", f"{result['resent']:,} {result['resent_by_reason']}"),
        (
            "retries / 429s / polls",
            f"{result['retries']:,} / {result['rate_limited']:,} / {result['polls']:,}",
        ),
        ("wall time", f"{result['wall_s']:.1f} s"),
        ("client peak RSS", f"{result['peak_rss_mb']:.0f} MB"),
        ("counts add up", "yes" if adds_up else "NO"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    if twice or not adds_up or stored != result["completed"]:
        raise SystemExit("the soak failed: see the table")


if __name__ == "__main__":
    main()
