"""What every scenario shares: records, helper processes, pinning, timing and statistics.

Layout of a measurement: the server (a sandbox process, nginx) runs pinned to
``SERVER_CPU``, each client run is a fresh Python process pinned to ``CLIENT_CPU``
(``benchmarks._child``), and repeated runs of several configurations are interleaved
(run 0 of each, then run 1, ...), so that a slow period of this shared machine hits all
of them alike. Only ratios between configurations of the same invocation are claimed.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable

# The sandbox's demo client (buildingminds_async.sandbox._config).
CLIENT_ID = "buildingminds-sandbox-client"
CLIENT_SECRET = "sandbox-secret-primary"
SCOPE = "api://buildingminds-sandbox"
TENANT = "buildingminds-sandbox.onmicrosoft.com"
API_PATH = "/api/digitaltwinintegration"
ENTITY = "address"  # no parents: every record completes without waiting for another


class BenchError(RuntimeError):
    """A benchmark could not run (a helper process failed, nginx is missing, ...)."""


# -- CPUs -------------------------------------------------------------------------------


def _cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


_AVAILABLE = _cpus()
PINNING = len(_AVAILABLE) >= 2 and shutil.which("taskset") is not None
SERVER_CPU = str(_AVAILABLE[0])
CLIENT_CPU = str(_AVAILABLE[1]) if len(_AVAILABLE) >= 2 else SERVER_CPU


def pinned(cpu: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run on one CPU (taskset), when the machine has two CPUs to separate."""
    return ["taskset", "-c", cpu, *argv] if PINNING else list(argv)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- records ----------------------------------------------------------------------------

_CITIES = (
    ("Berlin", "DE", "{:05d}", 10115),
    ("Hamburg", "DE", "{:05d}", 20095),
    ("Wien", "AT", "{:04d}", 1010),
    ("Zürich", "CH", "{:04d}", 8001),
    ("Amsterdam", "NL", "{:04d} AB", 1011),
    ("Paris", "FR", "{:05d}", 75001),
)
_STREETS = ("Friedrichstraße", "Hauptstraße", "Herengracht", "Rue de Rivoli", "Seestrasse")


def address(i: int, prefix: str = "A") -> dict[str, Any]:
    """The ``i``-th benchmark record: a valid address in wire form, about 330 bytes of JSON.

    Addresses have no parent entity, so every one completes in the sandbox.
    """
    city, country, postcode, base = _CITIES[i % len(_CITIES)]
    return {
        "addressId": f"{prefix}-{i:08d}",
        "eventType": "AddressAdded",
        "streetName": _STREETS[i % len(_STREETS)],
        "houseNumber": str(1 + i % 240),
        "postalCode": postcode.format(base + i % 90),
        "city": city,
        "district": f"District {i % 12 + 1}",
        "stateProvincePrefecture": "State",
        "country": country,
        "type": "Postal address",
        "additionalInformation": f"Entrance {i % 4 + 1}, benchmark record {i}",
        "extensionData": {"source": "benchmark", "row": i},
    }


def addresses(n: int, *, start: int = 0, prefix: str = "A") -> list[dict[str, Any]]:
    return [address(i, prefix) for i in range(start, start + n)]


def write_ndjson(path: Path, n: int) -> Path:
    """Write ``n`` records to ``path`` once (kept in the cache while its size matches)."""
    marker = path.with_suffix(path.suffix + ".count")
    if path.exists() and marker.exists() and marker.read_text() == str(n):
        return path
    import orjson

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for start in range(0, n, 10_000):
            lines = [orjson.dumps(address(i)) for i in range(start, min(start + 10_000, n))]
            out.write(b"\n".join(lines) + b"\n")
    tmp.replace(path)
    marker.write_text(str(n))
    return path


# -- the sandbox in its own process -----------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where a client finds the API (a sandbox, or nginx in front of one)."""

    url: str
    token_root: str | None = None
    """Root URL of the token endpoint when it differs from ``url`` (behind nginx)."""

    @property
    def base_url(self) -> str:
        return self.url + API_PATH

    @property
    def token_url(self) -> str:
        return f"{self.token_root or self.url}/{TENANT}/oauth2/v2.0/token"

    def env(self) -> dict[str, str]:
        """``BUILDINGMINDS_*`` variables that point the CLI at this endpoint."""
        return {
            "BUILDINGMINDS_BASE_URL": self.base_url,
            "BUILDINGMINDS_TOKEN_URL": self.token_url,
            "BUILDINGMINDS_CLIENT_ID": CLIENT_ID,
            "BUILDINGMINDS_CLIENT_SECRET": CLIENT_SECRET,
            "BUILDINGMINDS_SCOPE": SCOPE,
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SandboxProcess:
    """``python -m buildingminds_async.sandbox`` pinned to the server CPU, on a free port.

    ```python
    with SandboxProcess(rate_limit=20, scope="push") as sandbox:
        sandbox.endpoint.base_url
    ```
    """

    def __init__(
        self,
        *,
        rate_limit: float | None = None,
        burst: int = 1,
        scope: str = "all",
        processing_delay: float = 0.0,
        cpu: str = SERVER_CPU,
        root: Path = ROOT,
    ) -> None:
        self.args = ["--port", "0", "--processing-delay", str(processing_delay)]
        # The checkout whose package runs (python -m imports from the working directory).
        self.root = root
        if rate_limit is not None:
            self.args += ["--rate-limit", str(rate_limit), "--burst", str(burst)]
            self.args += ["--rate-limit-scope", scope]
        self.cpu = cpu
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.url)

    def start(self) -> SandboxProcess:
        return self.launch().ready()

    def launch(self) -> SandboxProcess:
        """Start the process without waiting for it (``ready()`` waits)."""
        argv = pinned(self.cpu, [PYTHON, "-m", "buildingminds_async.sandbox", *self.args])
        self.proc = subprocess.Popen(
            argv,
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        return self

    def ready(self) -> SandboxProcess:
        """Wait until the launched sandbox answers; its URL is then known."""
        if self.proc is None or self.proc.stdout is None:
            raise BenchError("ready() before launch()")
        first = self.proc.stdout.readline()  # "BuildingMinds sandbox listening on http://..."
        if "listening on " not in first:
            self.stop()
            raise BenchError(f"the sandbox did not start: {first!r}")
        self.url = first.rsplit(" ", 1)[1].strip()
        self.proc.stdout.close()  # the rest of the banner is not needed
        _wait_for_port(self.url)
        return self

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        _stop_process(proc)

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- admin endpoints (outside the API) ----------------------------------------------

    def ledger(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_sandbox/ledger", timeout=60) as answer:  # noqa: S310
            data: dict[str, Any] = json.load(answer)
        return data


def _stop_process(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_port(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/openapi.json", timeout=2):  # noqa: S310
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BenchError(f"{url} did not answer within {timeout:g} s") from exc
            time.sleep(0.05)


class StubServer:
    """``benchmarks._stub_server`` (a fast stand-in of the API) pinned to the server CPU."""

    def __init__(self, cpu: str = SERVER_CPU) -> None:
        self.cpu = cpu
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.url)

    def start(self) -> StubServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-stub-")
        port_file = Path(self._tmp.name) / "port"
        argv = pinned(self.cpu, [PYTHON, "-m", "benchmarks._stub_server", str(port_file)])
        self.proc = subprocess.Popen(argv, cwd=ROOT)
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BenchError("the stub server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            _stop_process(proc)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def sandboxes(count: int, **knobs: Any) -> Iterator[list[SandboxProcess]]:
    """``count`` sandbox processes with the same knobs, stopped on exit."""
    started: list[SandboxProcess] = []
    try:
        for _ in range(count):
            started.append(SandboxProcess(**knobs).launch())
        for sandbox in started:
            sandbox.ready()
        yield started
    finally:
        for sandbox in started:
            sandbox.stop()


# -- client runs in fresh processes ----------------------------------------------------


class Child:
    """A client run in a fresh process: ``python -m benchmarks._child MODULE FUNC PARAMS``.

    The function's return value (a JSON object) is read from the last line of stdout.
    """

    def __init__(
        self,
        module: str,
        func: str,
        params: Mapping[str, Any],
        *,
        cpu: str = CLIENT_CPU,
        env: Mapping[str, str] | None = None,
    ) -> None:
        argv = [PYTHON, "-m", "benchmarks._child", module, func, json.dumps(params)]
        self.label = f"{module}.{func}"
        self.proc = subprocess.Popen(
            pinned(cpu, argv),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def result(self, timeout: float) -> dict[str, Any]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise BenchError(f"{self.label} did not finish within {timeout:g} s") from None
        if self.proc.returncode != 0:
            tail = "\n".join(err.strip().splitlines()[-15:])
            raise BenchError(f"{self.label} failed (exit {self.proc.returncode}):\n{tail}")
        lines = out.strip().splitlines()
        if not lines:
            raise BenchError(f"{self.label} printed no result")
        data: dict[str, Any] = json.loads(lines[-1])
        return data

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def run_child(
    module: str, func: str, params: Mapping[str, Any], *, timeout: float = 300.0
) -> dict[str, Any]:
    """Run one client function in a fresh process pinned to the client CPU; its result."""
    return Child(module, func, params).result(timeout)


def run_together(
    jobs: Sequence[tuple[str, str, Mapping[str, Any]]], *, timeout: float
) -> list[dict[str, Any]]:
    """Run several client processes at once (all on the client CPU); their results."""
    children = [Child(module, func, params) for module, func, params in jobs]
    try:
        return [child.result(timeout) for child in children]
    finally:
        for child in children:
            child.kill()


# -- nginx -------------------------------------------------------------------------------


def apt_install(package: str, why: str) -> None:
    """``apt-get install -y PACKAGE`` (sudo when not root), updating the lists if needed."""
    if shutil.which("apt-get") is None:
        raise BenchError(f"{package} is not installed and apt-get is not available to install it")
    print(f"installing {package} (apt-get) for {why} ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    install = [*sudo, "apt-get", "install", "-y", "-q", package]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(
            [*sudo, "apt-get", "update", "-q"], env=env, capture_output=True, check=False
        )
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"apt-get install {package} failed:\n{done.stderr[-2000:]}")


def ensure_nginx() -> str:
    """The nginx binary, installing ``nginx-light`` with apt-get when it is missing."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    apt_install("nginx-light", "the rate-limit scenario")
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise BenchError("nginx-light was installed but no nginx binary was found")
    return found


@dataclass(frozen=True)
class LimitedListener:
    """One nginx ``server`` that rate-limits the API with its own ``limit_req`` zone."""

    rate: float
    burst: int
    """``burst=N nodelay``; 0: no burst at all."""


_NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 16m;
    limit_req_status 429;
    # `add_header Retry-After 1 always`, on the 429s only (an empty value adds nothing).
    map $status $retry_after {{
        429 1;
        default "";
    }}
    upstream sandbox {{
        server {upstream};
        keepalive 64;
    }}
{servers}
}}
"""

_NGINX_SERVER = """\
    limit_req_zone $server_port zone=z{port}:1m rate={rate}r/s;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            limit_req zone=z{port}{burst};
            add_header Retry-After $retry_after always;
            proxy_pass http://sandbox;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
"""


class Nginx:
    """nginx on loopback with a temporary prefix, one ``limit_req`` server per listener.

    Each listener proxies the whole API to ``upstream`` (an unlimited sandbox); 429s carry
    ``Retry-After: 1``. The token endpoint is reached directly, past nginx.
    """

    def __init__(self, upstream: str, listeners: Sequence[LimitedListener]) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.listeners = list(listeners)
        self.ports: list[int] = []
        self.proc: subprocess.Popen[str] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> Nginx:
        binary = ensure_nginx()
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-nginx-")
        prefix = self._tmp.name
        self.ports = [_free_port() for _ in self.listeners]
        servers = "".join(
            _NGINX_SERVER.format(
                port=port,
                rate=_rate_text(listener.rate),
                burst=f" burst={listener.burst} nodelay" if listener.burst else "",
            )
            for port, listener in zip(self.ports, self.listeners, strict=True)
        )
        conf = Path(prefix) / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(prefix=prefix, upstream=self.upstream, servers=servers))
        argv = pinned(SERVER_CPU, [binary, "-p", prefix, "-c", str(conf)])
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for port in self.ports:
            _wait_for_tcp(port, self.proc)
        return self

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful: the master stops its worker
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _rate_text(rate: float) -> str:
    if float(rate).is_integer():
        return str(int(rate))
    raise BenchError(f"nginx takes whole requests per second (r/s), not {rate}")


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_tcp(port: int, proc: subprocess.Popen[str], timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise BenchError(f"nginx exited at start (code {proc.returncode}): {err[-1500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BenchError(f"nginx did not listen on {port} within {timeout:g} s") from exc
            time.sleep(0.05)


# -- HTTP helpers for clients -----------------------------------------------------------


async def fetch_token(http: httpx2.AsyncClient, endpoint: Endpoint) -> str:
    """A bearer token of the sandbox's demo client (what a hand-written client does first)."""
    response = await http.post(
        endpoint.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": SCOPE + "/.default",
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def sdk_client(endpoint: Endpoint, **kwargs: Any) -> Any:
    """An SDK ``AsyncClient`` for ``endpoint`` (imported late: children pay for what they use)."""
    from buildingminds_async import AsyncClient, ClientCredentials

    credentials = ClientCredentials(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scope=SCOPE, token_url=endpoint.token_url
    )
    return AsyncClient(credentials=credentials, base_url=endpoint.base_url, **kwargs)


@dataclass
class Exchange:
    """One request as the client saw it (monotonic seconds)."""

    start: float
    end: float
    method: str
    path: str
    status: int
    batch_id: str | None = None


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Wraps a transport and notes every API request: when, what, which status, which batch.

    Token requests are left out. Push answers are read here to note their Batch ID.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport, log: list[Exchange]) -> None:
        self._inner = inner
        self.log = log

    @classmethod
    def like_the_sdk(cls, log: list[Exchange]) -> RecordingTransport:
        """Recording over an httpx transport with the pool the SDK's client would size."""
        from buildingminds_async._config import DEFAULT_MAX_IN_FLIGHT, pool_limits

        return cls(httpx2.AsyncHTTPTransport(limits=pool_limits(DEFAULT_MAX_IN_FLIGHT)), log)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        start = time.monotonic()
        response = await self._inner.handle_async_request(request)
        path = request.url.path
        if "/oauth2/" in path:
            return response
        batch_id = None
        if request.method == "POST" and response.status_code == 200:
            await response.aread()
            with contextlib.suppress(ValueError, KeyError, TypeError):
                batch_id = json.loads(response.content)["batchId"]
        self.log.append(
            Exchange(start, time.monotonic(), request.method, path, response.status_code, batch_id)
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- statistics and tables --------------------------------------------------------------


@dataclass
class Stat:
    """Median of repeated runs, with min and max."""

    median: float
    low: float
    high: float
    n: int
    values: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        vals = [float(v) for v in values]
        if not vals:
            nan = float("nan")
            return cls(nan, nan, nan, 0, [])
        return cls(statistics.median(vals), min(vals), max(vals), len(vals), vals)

    def fmt(self, spec: str = ".0f", unit: str = "") -> str:
        if self.n == 0:
            return "n/a"
        mid = f"{format(self.median, spec)}{unit}"
        if self.n == 1 or self.low == self.high:
            return mid
        return f"{mid} ({format(self.low, spec)}-{format(self.high, spec)})"


def ratio_stat(num: Sequence[float], den: Sequence[float]) -> Stat:
    """Ratios of paired runs (run i of one configuration over run i of the other)."""
    return Stat.of([a / b for a, b in zip(num, den, strict=False) if b])


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"**{self.title}**", ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "---|" * len(self.headers))
        lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
        lines.extend(["", *self.notes] if self.notes else [])
        return "\n".join(lines)

    def text(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
        out = [self.title, "-" * len(self.title)]
        out.append("  ".join(h.ljust(w) for h, w in zip(self.headers, widths, strict=False)))
        for row in self.rows:
            out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)))
        out.extend(f"  {note}" for note in self.notes)
        return "\n".join(out)


@dataclass
class Target:
    """One claim: a figure, its measured value (a ratio), the bound, met or missed."""

    scenario: str
    figure: str
    measured: str
    target: str
    met: bool | None
    """None: not measured (skipped or failed)."""
    why: str = ""


@dataclass
class ScenarioResult:
    name: str
    title: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
