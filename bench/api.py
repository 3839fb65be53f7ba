"""Ticket create/read throughput and latency against a bare-FastAPI baseline (issue §12).

    .venv/bin/python bench/api.py [--db sqlite|postgresql|both] [--requests N] [--check]

For each database it runs, alternately, the baseline (`bench/baseline_app.py`: one row
inserted / read per request) and the real app (`uvicorn api.main:app`), each as its own
uvicorn process (one worker, no access log) on 127.0.0.1, in the same fresh database.
This process is the load generator: 16 concurrent `httpx.AsyncClient` workers, a
warm-up, then `--requests` creates and `--requests` reads of what was created.
Each figure is the median over the rounds. Target (issue §12): app creates ≥ 0.8× the
baseline's throughput, with a p95 no worse than the baseline's. The exit status is 0
(it is a measurement) unless `--check` is given and a target is missed.

`--floor` adds a third server to each round, the statement floor (`POST /floor` of
`bench/baseline_app.py`: the seven statements a ticket create sends, through SQLAlchemy
Core, and nothing else), and prints floor/baseline and app/floor throughput: how far
the target is from what the database work alone allows, and how far the app is from it.

Everything it starts (servers, temporary files, the PostgreSQL database `bench_<hex>`)
is stopped and removed on exit, Ctrl-C and errors included. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
THROUGHPUT_TARGET = 0.8  # app creates/s ≥ 0.8 × baseline creates/s
P95_TARGET = 1.0  # app create p95 ≤ 1.0 × baseline create p95
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

DESCRIPTIONS = (
    "洗衣机脱水时噪音很大，机身晃动，订单 {n}。",
    "The dishwasher shows error E{n} and stops mid-cycle.",
    "冰箱冷藏室不制冷，已经三天了（第 {n} 次来电）。",
    "Delivery of order {n} arrived with a dented door; I want a replacement.",
    "空调安装师傅迟到两小时，态度也不好，工单 {n}。",
    "The water heater leaks from the bottom valve, reference {n}.",
)
NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "Alex Smith", "Maria Garcia", "赵磊")


# ---------------------------------------------------------------- measurement


@dataclass
class Phase:
    """One measured phase (creates or reads) of one round."""

    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    cpu_ms: float  # server process CPU time per request (user + system)
    timed_out: bool


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def run_phase(
    send: Callable[[int], Awaitable[httpx.Response]],
    count: int,
    concurrency: int,
    time_limit: float,
    server_cpu: Callable[[], float],
    on_success: Callable[[httpx.Response], None] | None = None,
) -> Phase:
    """`count` requests (`send(i)`) from `concurrency` workers; stops early at `time_limit`."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    cpu_before = server_cpu()
    started = time.perf_counter()
    deadline = started + time_limit

    async def worker() -> None:
        nonlocal next_index, errors
        while next_index < count and time.perf_counter() < deadline:
            index = next_index
            next_index += 1
            t0 = time.perf_counter()
            try:
                response = await send(index)
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)
            if response.is_success:
                if on_success is not None:
                    on_success(response)
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    cpu = server_cpu() - cpu_before
    latencies.sort()
    done = len(latencies)
    return Phase(
        requests=done,
        errors=errors,
        seconds=seconds,
        rps=(done - errors) / seconds if seconds else 0.0,
        p50_ms=percentile(latencies, 50) * 1000,
        p95_ms=percentile(latencies, 95) * 1000,
        cpu_ms=cpu / done * 1000 if done else math.nan,
        timed_out=next_index < count,
    )


class Workload:
    """What the load generator sends to one server kind."""

    def __init__(self, kind: str, token: str, seed: int) -> None:
        self.kind = kind  # "baseline" | "floor" | "app"
        self.token = token
        self.rng = random.Random(seed)
        self.created: list[str] = []  # ticket refs / row ids, for the reads

    def _description(self) -> str:
        template = self.rng.choice(DESCRIPTIONS)
        return template.format(n=self.rng.randrange(10_000, 99_999))

    def create(self, client: httpx.AsyncClient) -> Callable[[int], Awaitable[httpx.Response]]:
        if self.kind == "baseline":
            return lambda _i: client.post("/rows", json={"body": self._description()})
        headers = {"Authorization": f"Bearer {self.token}"}

        def send(_i: int) -> Awaitable[httpx.Response]:
            name, phone = self.rng.choice(NAMES), f"138{self.rng.randrange(10**8):08d}"
            if self.kind == "floor":
                body = {"body": self._description(), "name": name, "phone": phone}
                return client.post("/floor", json=body)
            body = {
                "kind": "complaint",
                "description": self._description(),
                "customer": {"name": name, "phone": phone},
                "channel": "web",
            }
            return client.post("/api/v1/tickets", json=body, headers=headers)

        return send

    def remember(self, response: httpx.Response) -> None:
        data = response.json()
        self.created.append(str(data["ref"] if self.kind == "app" else data["id"]))

    def read(self, client: httpx.AsyncClient) -> Callable[[int], Awaitable[httpx.Response]]:
        keys = self.created or ["0"]
        if self.kind != "app":
            return lambda i: client.get(f"/rows/{keys[i % len(keys)]}")
        headers = {"Authorization": f"Bearer {self.token}"}
        return lambda i: client.get(f"/api/v1/tickets/{keys[i % len(keys)]}", headers=headers)


async def drive(
    base_url: str, server_cpu: Callable[[], float], workload: Workload, args: argparse.Namespace
) -> dict[str, Phase]:
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=args.request_timeout, trust_env=False
    ) as client:
        n, workers, limit = args.warmup, args.concurrency, args.time_limit
        await run_phase(workload.create(client), n, workers, limit, server_cpu, workload.remember)
        await run_phase(workload.read(client), n, workers, limit, server_cpu)
        workload.created.clear()
        n = args.requests
        creates = await run_phase(
            workload.create(client), n, workers, limit, server_cpu, workload.remember
        )
        reads = await run_phase(workload.read(client), n, workers, limit, server_cpu)
    return {"create": creates, "read": reads}


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def process_cpu(pid: int) -> Callable[[], float]:
    """A function returning the CPU seconds (user + system) process `pid` has used so far
    (Linux /proc; NaN elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def read() -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    return read


@contextlib.contextmanager
def server(
    target: str, env: dict[str, str], log_path: Path
) -> Iterator[tuple[str, Callable[[], float]]]:
    """Run `uvicorn target` on a free loopback port until the block ends; yield its URL
    and a function measuring its CPU time."""
    port = free_port()
    command = [
        PYTHON,
        "-m",
        "uvicorn",
        target,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log_path.open("ab") as log:
        # its own session: a Ctrl-C in the terminal reaches us, and we stop it ourselves
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
    try:
        url = f"http://{HOST}:{port}"
        wait_ready(proc, url, log_path)
        yield url, process_cpu(proc.pid)
    finally:
        stop(proc)


def wait_ready(proc: subprocess.Popen, url: str, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).is_success:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout:.0f}s:\n{tail(log_path)}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def migrate(env: dict[str, str], log_path: Path) -> None:
    """`python -m api migrate`: the schema and seed data, as `make run` creates them."""
    with log_path.open("ab") as log:
        done = subprocess.run(
            [PYTHON, "-m", "api", "migrate"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    if done.returncode:
        raise RuntimeError(f"python -m api migrate failed:\n{tail(log_path)}")


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file under `workdir`, or `bench_<hex>` on PostgreSQL."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    admin = make_url(PG_ADMIN_URL)
    if admin.host not in LOOPBACK:
        raise SystemExit(f"refusing a non-local PostgreSQL ({admin.host}): 127.0.0.1 only")
    name = f"bench_{secrets.token_hex(4)}"
    admin_dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- the run


@dataclass
class Result:
    db: str
    endpoint: str
    server: str
    rounds: list[Phase] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(getattr(phase, name) for phase in self.rounds)


def bench_database(kind: str, args: argparse.Namespace) -> list[Result]:
    servers = [("baseline", "bench.baseline_app:app"), ("app", "api.main:app")]
    if args.floor:
        servers.insert(1, ("floor", "bench.baseline_app:app"))
    results = {
        (endpoint, name): Result(kind, endpoint, name)
        for endpoint in ("create", "read")
        for name, _target in servers
    }
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    log_path = workdir / "server.log"
    try:
        with database(kind, workdir) as url:
            token = secrets.token_urlsafe(24)
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "SECRET_KEY": secrets.token_urlsafe(32),
                "SERVICE_TOKEN": token,
                "SLA_CHECK_SECONDS": "0",
                "VAR_DIR": str(workdir / "var"),
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
                "NO_PROXY": "*",
            }
            migrate(env, log_path)
            for round_no in range(1, args.rounds + 1):
                for name, target in servers:
                    workload = Workload(name, token, seed=round_no)
                    with server(target, env, log_path) as (base_url, cpu):
                        phases = asyncio.run(drive(base_url, cpu, workload, args))
                    for endpoint, phase in phases.items():
                        results[(endpoint, name)].rounds.append(phase)
                        log(
                            f"[{kind}] round {round_no} {name:8} {endpoint:6} "
                            f"{phase.rps:7.1f} req/s  p50 {phase.p50_ms:6.1f} ms  "
                            f"p95 {phase.p95_ms:6.1f} ms  server CPU {phase.cpu_ms:5.2f} ms/req  "
                            f"errors {phase.errors}"
                            + ("  (time limit hit)" if phase.timed_out else "")
                        )
    except KeyboardInterrupt:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    except Exception:
        log(f"[{kind}] kept for inspection: {log_path}\n{tail(log_path)}")
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    return list(results.values())


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report(results: list[Result], args: argparse.Namespace) -> bool:
    """Print the tables; return whether every target was met."""
    print(
        f"\nconcurrency {args.concurrency}, {args.requests} requests per phase, "
        f"median of {args.rounds} round(s); {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}\n"
    )
    print(
        f"{'db':<11}{'endpoint':<9}{'server':<9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'CPU ms/req':>12}{'errors':>8}"
    )
    for r in results:
        errors = sum(phase.errors for phase in r.rounds)
        print(
            f"{r.db:<11}{r.endpoint:<9}{r.server:<9}{r.median('rps'):>8.1f}"
            f"{r.median('p50_ms'):>9.1f}{r.median('p95_ms'):>9.1f}{r.median('cpu_ms'):>12.2f}"
            f"{errors:>8}"
        )
    by_key = {(r.db, r.endpoint, r.server): r for r in results}
    print(f"\n{'db':<11}{'endpoint':<9}{'req/s app/base':>16}{'p95 app/base':>14}  verdict")
    ok = True
    for db, endpoint in dict.fromkeys((r.db, r.endpoint) for r in results):
        app, base = by_key[(db, endpoint, "app")], by_key[(db, endpoint, "baseline")]
        throughput = app.median("rps") / base.median("rps") if base.median("rps") else 0.0
        p95 = app.median("p95_ms") / base.median("p95_ms")
        errors = any(phase.errors for phase in app.rounds + base.rounds)
        if endpoint == "create":
            met = throughput >= THROUGHPUT_TARGET and p95 <= P95_TARGET and not errors
            ok &= met
            verdict = ("PASS" if met else "MISS") + (
                f"  (target ≥ {THROUGHPUT_TARGET:.2f}, ≤ {P95_TARGET:.2f})"
            )
        else:
            verdict = "info (no target)"
        if errors:
            verdict += "  — errors, see above"
        print(f"{db:<11}{endpoint:<9}{throughput:>16.2f}{p95:>14.2f}  {verdict}")
    floors = [r for r in results if r.server == "floor" and r.endpoint == "create"]
    if floors:
        print(f"\n{'db':<11}{'creates':<9}{'req/s floor/base':>18}{'req/s app/floor':>17}")
    for floor in floors:
        base, app = by_key[(floor.db, "create", "baseline")], by_key[(floor.db, "create", "app")]
        print(
            f"{floor.db:<11}{'':<9}{floor.median('rps') / base.median('rps'):>18.2f}"
            f"{app.median('rps') / floor.median('rps'):>17.2f}"
        )
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="measured creates, then as many reads, per round (default 2000)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=200,
        help="unmeasured creates and reads before each round (default 200)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="baseline/app rounds, alternated; figures are medians (default 2)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=180,
        help="seconds a phase may last before it stops early (default 180)",
    )
    parser.add_argument("--request-timeout", type=float, default=60)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run the statement floor: a ticket create's seven statements and nothing else",
    )
    parser.add_argument("--json", type=Path, help="also write the per-round figures here")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if min(args.requests, args.concurrency, args.rounds) < 1 or args.warmup < 0:
        parser.error("--requests, --concurrency and --rounds must be ≥ 1, --warmup ≥ 0")
    return args


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and SIGTERM unwind through every `finally` (even if SIGINT was ignored
    # by whoever started us), which stops what this run started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results: list[Result] = []
    try:
        for kind in kinds:
            results += bench_database(kind, args)
    except KeyboardInterrupt:
        log("interrupted: servers stopped, temporary databases removed")
        return 130
    ok = report(results, args)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
