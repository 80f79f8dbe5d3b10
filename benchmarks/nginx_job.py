"""The default job against nginx ``limit_req``, measured as the rate issue measured it.

40,000 address records in chunks of 100 (400 pushes), ``client.onboard()`` otherwise with
its defaults (``wait=True``: pushes, then status reads until every record is final),
through nginx in front of a sandbox process. nginx limits R = 20 requests/s with
``Retry-After: 1`` on its 429s, either the pushes only (``POST``; reads pass unlimited) or
every request, with a burst of 5 (``nodelay``) or none. The client is told ``rate=R`` or
nothing. Figure: accepted pushes/s over the push phase (first push to last accepted
push) ÷ R, and the 429s among all requests; every record must complete.

    python -m benchmarks.nginx_job [--rounds 1]
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import (
    _NGINX_CONF,
    SERVER_CPU,
    Endpoint,
    SandboxProcess,
    _free_port,
    _wait_for_tcp,
    ensure_nginx,
    pinned,
    run_child,
    sdk_client,
)

RATE = 20
RECORDS = 40_000
CHUNK = 100

# nginx's http block is _common's (temp paths, 429 status, Retry-After, the upstream); the
# server here limits by a key that is empty (not limited) for what passes.
_SERVER = """\
    map $request_method $limited {{ {key_map} }}
    limit_req_zone $limited zone=api:1m rate={rate}r/s;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            limit_req zone=api{burst};
            add_header Retry-After $retry_after always;
            proxy_pass http://sandbox;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
"""


@contextlib.contextmanager
def nginx(upstream: str, *, pushes_only: bool, burst: int) -> Any:
    binary = ensure_nginx()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as prefix:
        port = _free_port()
        key_map = 'POST "push"; default "";' if pushes_only else 'default "all";'
        conf = Path(prefix) / "nginx.conf"
        server = _SERVER.format(
            key_map=key_map, rate=RATE, port=port, burst=f" burst={burst} nodelay" if burst else ""
        )
        conf.write_text(
            _NGINX_CONF.format(
                prefix=prefix, upstream=upstream.removeprefix("http://"), servers=server
            )
        )
        proc = subprocess.Popen(
            pinned(SERVER_CPU, [binary, "-p", prefix, "-c", str(conf)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_tcp(port, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


async def client_run(params: dict[str, Any]) -> dict[str, Any]:
    from buildingminds_async import BatchAcceptedEvent, EventHooks

    endpoint = Endpoint(**params["endpoint"])
    accepted: list[float] = []
    first: list[float] = []

    def seen(event: BatchAcceptedEvent) -> None:
        accepted.append(time.monotonic())

    records = (
        {
            "eventType": "AddressAdded",
            "addressId": f"A{i}",
            "city": "Berlin",
            "country": "DE",
            "postalCode": "10115",
        }
        for i in range(RECORDS)
    )
    async with sdk_client(endpoint) as client:
        await client.authenticate()
        first.append(time.monotonic())
        report = await client.onboard(
            records,
            chunk_size=CHUNK,
            rate=RATE if params["told"] else None,
            hooks=EventHooks(on_batch_accepted=seen),
        )
        done = time.monotonic()
    return {
        "completed": report.completed,
        "pushes": report.stats.pushes,
        "requests": report.stats.requests,
        "throttled": report.stats.rate_limited,
        "phase": max(accepted) - first[0],
        "accepted": len(accepted),
        "job": done - first[0],
    }


CASES = [
    ("pushes limited, burst 5, rate told", True, 5, True),
    ("pushes limited, burst 5, rate unknown", True, 5, False),
    ("pushes limited, no burst, rate told", True, 0, True),
    ("pushes limited, no burst, rate unknown", True, 0, False),
    ("every request limited, burst 5, rate unknown", False, 5, False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    figures: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in CASES}
    for _ in range(args.rounds):
        for name, pushes_only, burst, told in CASES:
            with (
                SandboxProcess() as upstream,
                nginx(upstream.url, pushes_only=pushes_only, burst=burst) as url,
            ):
                endpoint = Endpoint(url, token_root=upstream.url)
                result = run_child(
                    "nginx_job", "client_run", {"endpoint": endpoint.to_json(), "told": told}
                )
            assert result["completed"] == RECORDS, result
            figures[name].append(result)
    print(
        f"\n{RECORDS:,} records, chunks of {CHUNK} ({RECORDS // CHUNK} pushes), wait=True, "
        f"nginx limit_req R={RATE}/s, Retry-After 1, {args.rounds} round(s)\n"
    )
    print("| case | accepted pushes/s ÷ R (push phase) | 429s ÷ requests | whole job s |")
    print("|---|---|---|---|")
    for name, *_ in CASES:
        rows = figures[name]
        ratios = [(r["accepted"] - 1) / r["phase"] / RATE for r in rows]
        shares = [r["throttled"] / max(r["requests"], 1) for r in rows]
        jobs = [r["job"] for r in rows]
        print(
            f"| {name} | {min(ratios):.2f}-{max(ratios):.2f} | "
            f"{min(shares):.1%}-{max(shares):.1%} | {min(jobs):.1f}-{max(jobs):.1f} |"
        )


if __name__ == "__main__":
    main()
