"""Scenario 6: how many pushes per second the sandbox accepts on one core.

Requirement (the sandbox issue): with rate limiting off, the sandbox accepts at least
5,000 requests/s of 1 KB bodies on one core, so that it is never the bottleneck of our
own benchmarks. Measured with wrk, not with a Python client, which would be the limit.

- ``sandbox``: ``python -m buildingminds_async.sandbox --port 0`` with no rate limit and
  no processing delay (as scenarios 2-5 run it), pinned to the server CPU. wrk, pinned to
  the client CPU, POSTs ``/api/digitaltwinintegration/address`` over 64 keep-alive
  connections from one thread, with a bearer token from the token endpoint and a 1,024
  byte JSON array of 3 valid address records (so every push is validated and stored,
  and every record completes). Each run is a fresh sandbox; after it, the sandbox's
  ledger must show every push answered 200 and stored as a batch.
- ``ceiling``: ``benchmarks._asgi_ceiling``, a raw ASGI app that only reads the body and
  answers 200 ``{}``, served with the sandbox's own uvicorn settings (httptools and uvloop
  when importable) on the same CPU: what the server stack alone allows.

Three rounds, each a sandbox run then a ceiling run (the order alternates), wrk for 6 s
on the sandbox and 4 s on the ceiling. Figures: requests/s (median, min-max), wrk's
latency p50/p99, non-2xx answers and socket errors (both must be 0), and sandbox ÷
ceiling, paired by round. Target: sandbox ≥ 5,000 requests/s.

``python -m benchmarks.sandbox_speed --against REV`` (not part of ``make bench``) runs
the sandbox of this checkout and the sandbox of git revision REV side by side, in
alternating rounds, and reports their requests/s and the ratio per round pair: how to
tell whether a change to the sandbox made it faster on a machine whose speed drifts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._common import (
    API_PATH,
    CLIENT_CPU,
    CLIENT_ID,
    CLIENT_SECRET,
    ENTITY,
    PINNING,
    PYTHON,
    ROOT,
    SCOPE,
    SERVER_CPU,
    TENANT,
    BenchError,
    SandboxProcess,
    ScenarioResult,
    Stat,
    Table,
    Target,
    addresses,
    apt_install,
    pinned,
    ratio_stat,
)

TARGET_RPS = 5_000
BODY_BYTES = 1_024
CONNECTIONS = 64
ROUNDS = 3
SANDBOX_SECONDS = 6
CEILING_SECONDS = 4
QUICK_SECONDS = 2


# -- wrk ------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The wrk binary, installing it with apt-get when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    apt_install("wrk", "the sandbox speed scenario")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk was installed but no wrk binary was found on PATH")
    return found


def push_body() -> bytes:
    """3 valid address records, padded to exactly `BODY_BYTES` of compact JSON."""
    records = addresses(3, prefix="S")

    def encode() -> bytes:
        return json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()

    missing = BODY_BYTES - len(encode())
    if missing < 0:
        raise BenchError(f"the push body is already {len(encode())} bytes")
    # additionalInformation takes up to 500 characters: still a valid record.
    records[0]["additionalInformation"] += "." * missing
    body = encode()
    assert len(body) == BODY_BYTES
    return body


_LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT {{\\"requests\\":%.0f,\\"duration_us\\":%.0f,\\"connect\\":%.0f," ..
    "\\"read\\":%.0f,\\"write\\":%.0f,\\"status\\":%.0f,\\"timeout\\":%.0f," ..
    "\\"p50_us\\":%.0f,\\"p99_us\\":%.0f}}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(directory: Path, body: bytes, token: str | None) -> Path:
    text = body.decode()
    if "]==]" in text:
        raise BenchError("the body cannot be quoted in Lua")
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    path = directory / ("push.lua" if token else "ceiling.lua")
    path.write_text(_LUA.format(body=text, auth=auth), encoding="utf-8")
    return path


def run_wrk(wrk: str, url: str, script: Path, seconds: int) -> dict[str, Any]:
    """One wrk run (one thread, `CONNECTIONS` connections) on the client CPU; its summary."""
    argv = [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script)]
    done = subprocess.run(
        pinned(CLIENT_CPU, [*argv, url]),
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 30,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("WRK-RESULT ")]
    if done.returncode != 0 or not lines:
        raise BenchError(f"wrk failed (exit {done.returncode}): {done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("WRK-RESULT "))
    result["requests_per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    result["socket_errors"] = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    result["non_2xx"] = result["status"]  # wrk counts every answer with a status > 399
    return result


# -- servers --------------------------------------------------------------------------------


class CeilingProcess(SandboxProcess):
    """``benchmarks._asgi_ceiling`` pinned to the server CPU (read and answered as a sandbox)."""

    def launch(self) -> CeilingProcess:
        argv = pinned(self.cpu, [PYTHON, "-m", "benchmarks._asgi_ceiling", "--port", "0"])
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        return self


def _token(url: str) -> str:
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": SCOPE + "/.default",
        }
    ).encode()
    request = urllib.request.Request(f"{url}/{TENANT}/oauth2/v2.0/token", data=form)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        token: str = json.load(answer)["access_token"]
    return token


def sandbox_run(
    wrk: str, tmp: Path, body: bytes, seconds: int, root: Path = ROOT
) -> dict[str, Any]:
    with SandboxProcess(root=root) as sandbox:  # no rate limit, processing delay 0
        script = wrk_script(tmp, body, _token(sandbox.url))
        result = run_wrk(wrk, f"{sandbox.url}{API_PATH}/{ENTITY}", script, seconds)
        ledger = sandbox.ledger()
    counters = ledger["counters"]
    responses = ledger["responses"]
    result["pushes"] = counters.get("pushes", 0)
    result["batches"] = counters.get("batches", 0)
    result["records"] = counters.get("records", 0)
    result["responses"] = responses
    # Every push answered 200 and stored; wrk counts only the answers of its window.
    result["ledger_ok"] = (
        set(responses) == {"200"}
        and result["batches"] == result["pushes"] >= result["requests"]
        and result["records"] == 3 * result["batches"]
    )
    return result


def ceiling_run(wrk: str, tmp: Path, body: bytes, seconds: int) -> dict[str, Any]:
    with CeilingProcess() as ceiling:
        script = wrk_script(tmp, body, None)
        return run_wrk(wrk, f"{ceiling.url}{API_PATH}/{ENTITY}", script, seconds)


# -- the scenario ---------------------------------------------------------------------------


def run(*, quick: bool = False) -> ScenarioResult:
    from buildingminds_async.sandbox._server import server_stack

    wrk = ensure_wrk()
    http, loop = server_stack()
    body = push_body()
    seconds = {
        "sandbox": QUICK_SECONDS if quick else SANDBOX_SECONDS,
        "ceiling": QUICK_SECONDS if quick else CEILING_SECONDS,
    }
    runs: dict[str, list[dict[str, Any]]] = {"sandbox": [], "ceiling": []}
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp_name:
        tmp = Path(tmp_name)
        for rnd in range(ROUNDS):
            order = ["sandbox", "ceiling"] if rnd % 2 == 0 else ["ceiling", "sandbox"]
            for kind in order:
                do = sandbox_run if kind == "sandbox" else ceiling_run
                runs[kind].append(do(wrk, tmp, body, seconds[kind]))
                time.sleep(0.2)

    def col(kind: str, key: str) -> list[float]:
        return [float(r[key]) for r in runs[kind]]

    sandbox_rps = Stat.of(col("sandbox", "requests_per_s"))
    ceiling_rps = Stat.of(col("ceiling", "requests_per_s"))
    share = ratio_stat(col("sandbox", "requests_per_s"), col("ceiling", "requests_per_s"))
    labels = {
        "sandbox": f"sandbox: POST {API_PATH}/{ENTITY}, bearer token, validated and stored",
        "ceiling": "ceiling: raw ASGI app, reads the body, answers 200 {}",
    }
    rows = []
    for kind in ("sandbox", "ceiling"):
        rows.append(
            [
                labels[kind],
                Stat.of(col(kind, "requests_per_s")).fmt(",.0f"),
                Stat.of([v / 1000 for v in col(kind, "p50_us")]).fmt(".1f", " ms"),
                Stat.of([v / 1000 for v in col(kind, "p99_us")]).fmt(".1f", " ms"),
                str(int(sum(col(kind, "non_2xx")))),
                str(int(sum(col(kind, "socket_errors")))),
                "1.00x" if kind == "ceiling" else share.fmt(".2f", "x"),
            ]
        )
    pairs = zip(col("sandbox", "requests_per_s"), col("ceiling", "requests_per_s"), strict=True)
    app_us = Stat.of([1e6 / s - 1e6 / c for s, c in pairs])
    ledger_ok = all(r["ledger_ok"] for r in runs["sandbox"])
    stored = sum(r["batches"] for r in runs["sandbox"])
    table = Table(
        f"Sandbox speed: wrk -t1 -c{CONNECTIONS}, {BODY_BYTES:,} B JSON body (3 address "
        f"records), uvicorn http={http} loop={loop}, one server CPU; {ROUNDS} rounds of "
        f"{seconds['sandbox']} s (sandbox) and {seconds['ceiling']} s (ceiling), "
        "median (min-max)",
        [
            "server",
            "requests/s",
            "latency p50",
            "latency p99",
            "non-2xx",
            "socket errors",
            "÷ ceiling",
        ],
        rows,
        notes=[
            f"Server pinned to CPU {SERVER_CPU}, wrk to CPU {CLIENT_CPU}"
            + ("" if PINNING else " (no pinning: fewer than 2 CPUs or no taskset)")
            + "; a fresh server process per run; no rate limit, processing delay 0.",
            f"Ledger after each sandbox run: {stored:,} pushes stored in all, "
            + (
                "every push answered 200 and stored as a batch of 3 records."
                if ledger_ok
                else "MISMATCH (see raw): not every push was answered 200 and stored."
            ),
            f"The sandbox's own work per push (1/sandbox - 1/ceiling): {app_us.fmt('.0f', ' µs')}.",
        ],
    )
    clean = ledger_ok and not any(
        r["non_2xx"] or r["socket_errors"] for rs in runs.values() for r in rs
    )
    met = sandbox_rps.median >= TARGET_RPS and clean
    why = ""
    if not clean:
        why = "wrk saw non-2xx answers or socket errors, or the ledger disagrees (see raw)"
    elif not met:
        why = (
            f"the server stack alone (ceiling) allows {ceiling_rps.fmt(',.0f')} requests/s; "
            f"the sandbox's own work costs {app_us.fmt('.0f', ' µs')} per push"
        )
    targets = [
        Target(
            "6 sandbox speed",
            f"pushes/s of {BODY_BYTES:,} B accepted by the sandbox on one core, no rate limit",
            sandbox_rps.fmt(",.0f"),
            f"≥ {TARGET_RPS:,} requests/s, no non-2xx",
            met,
            why,
        ),
        Target(
            "6 sandbox speed",
            "sandbox requests/s ÷ raw ASGI app on the same server stack",
            share.fmt(".2f", "x"),
            "(reported, no target)",
            None,
        ),
    ]
    return ScenarioResult(
        name="sandbox_speed",
        title="6. Sandbox speed",
        tables=[table],
        targets=targets,
        raw={
            "server_stack": {"http": http, "loop": loop},
            "body_bytes": len(body),
            "connections": CONNECTIONS,
            "seconds": seconds,
            "runs": runs,
        },
    )


# -- this checkout against another revision -------------------------------------------------


def compare(rev: str, rounds: int, seconds: int) -> int:
    """The sandbox of this checkout vs that of ``rev``, alternating; prints a table."""
    wrk = ensure_wrk()
    body = push_body()
    here, there = "this checkout", f"revision {rev}"
    rps: dict[str, list[float]] = {here: [], there: []}
    with tempfile.TemporaryDirectory(prefix="bench-rev-") as tmp_name:
        tmp = Path(tmp_name)
        tree = tmp / "tree"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
        try:
            for rnd in range(rounds):
                order = [(here, ROOT), (there, tree)]
                for label, root in order if rnd % 2 == 0 else order[::-1]:
                    result = sandbox_run(wrk, tmp, body, seconds, root=root)
                    if not result["ledger_ok"] or result["non_2xx"] or result["socket_errors"]:
                        raise BenchError(f"{label}: not every push was answered 200 and stored")
                    rps[label].append(result["requests_per_s"])
                    print(f"round {rnd + 1}, {label}: {result['requests_per_s']:,.0f} requests/s")
                    time.sleep(0.2)
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False)
    table = Table(
        f"Sandbox speed, this checkout vs {rev}: wrk -t1 -c{CONNECTIONS}, {BODY_BYTES:,} B "
        f"push body; {rounds} rounds of {seconds} s each, the order alternating",
        ["sandbox", "requests/s, median (min-max)", "÷ the other, paired by round"],
        [
            [
                here,
                Stat.of(rps[here]).fmt(",.0f"),
                ratio_stat(rps[here], rps[there]).fmt(".2f", "x"),
            ],
            [there, Stat.of(rps[there]).fmt(",.0f"), "1.00x"],
        ],
    )
    print()
    print(table.markdown())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sandbox_speed")
    parser.add_argument("--against", metavar="REV", required=True, help="git revision")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=SANDBOX_SECONDS)
    args = parser.parse_args(argv)
    return compare(args.against, args.rounds, args.seconds)


if __name__ == "__main__":
    raise SystemExit(main())
