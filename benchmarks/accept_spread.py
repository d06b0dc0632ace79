"""Measure how evenly Pounce's workers share connections, with and without --reuse-port.

Pounce has two ways to give several workers one address. By default all
workers accept from one shared listening socket, and whichever worker's
event loop reaches ``accept()`` first takes the connection. With
``--reuse-port`` each worker has its own SO_REUSEPORT socket, and the Linux
kernel picks the socket for each new connection by a hash of its addresses
and ports.

For each worker kind (process, thread), socket mode (shared, reuse-port) and
worker count, the script starts ``python -m pounce`` serving
``benchmarks.worker_identity:app``, which responds with the serving worker's
identity and counts requests per worker and path, and then runs two loads:

1. short: many connections with one request each (``Connection: close``),
   sent by a few client threads in this process. Each response body names
   its worker, and the client counts them.
2. keep-alive: ``wrk`` with a fixed number of connections for a few seconds
   on its own path, after a warm-up on another path. The app's counters for
   that path give the per-worker split of requests and of wrk's
   connections, and wrk gives the throughput.

The app writes its counters when the server shuts down (see
``worker_identity.py``). The short load's counts from the app must equal the
client's, or the run is reported as failed.

By default the server is pinned to CPU 0 and the clients to CPU 1, as in
``compare.py``, so all workers share one core. With ``--no-pin`` the
scheduler places the workers and clients on any CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Needs ROOT on sys.path.
from benchmarks.compare import (  # noqa: E402
    CLIENT_CPU,
    HOST,
    SERVER_CPU,
    bounded_int,
    free_port,
    machine_info,
    parse_wrk,
    stop,
    tail,
)
from benchmarks.worker_identity import STATS_DIR_VARIABLE  # noqa: E402

APP = "benchmarks.worker_identity:app"
KINDS = ("process", "thread")
MODES = ("shared", "reuse-port")
STARTUP_TIMEOUT = 30.0
#: Upper bound in seconds on the whole short-connection load of one server.
SHORT_DEADLINE = 60.0
CLIENT_TIMEOUT = 5.0
#: Seconds the app's counters may take to appear after the server stopped.
STATS_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class Setup:
    """One server configuration."""

    kind: str
    mode: str
    workers: int

    def arguments(self, port: int, loop: str) -> list[str]:
        """Return the pounce arguments that serve APP on ``port``."""
        reuse = "--reuse-port" if self.mode == "reuse-port" else "--no-reuse-port"
        return [
            *(APP, "--workers", str(self.workers), "--worker-kind", self.kind, reuse),
            *("--loop", loop, "--no-access-log", "--host", HOST, "--port", str(port)),
        ]


@dataclasses.dataclass(slots=True)
class Spread:
    """The split of one load's requests and connections over the workers."""

    load: str
    #: Requests per worker, largest first.
    counts: list[int]
    #: Client connections per worker, in the same worker order as ``counts``.
    connections: list[int]
    #: Connections/s for the short load, requests/s from wrk for keep-alive.
    rate: float
    errors: int

    @property
    def ratio(self) -> float:
        """Max over min requests per worker; infinite when a worker got none."""
        low = min(self.counts)
        return float("inf") if low == 0 else max(self.counts) / low

    @property
    def variation(self) -> float:
        """Coefficient of variation: population standard deviation over the mean."""
        mean = statistics.fmean(self.counts)
        return statistics.pstdev(self.counts) / mean if mean else 0.0


@dataclasses.dataclass(slots=True)
class Result:
    """The outcome of one server configuration under both loads."""

    setup: Setup
    status: str = "ok"
    spreads: list[Spread] = dataclasses.field(default_factory=list)


class ServerProcess:
    """A running ``python -m pounce`` with its log file and stats directory."""

    def __init__(
        self,
        setup: Setup,
        work_dir: Path,
        *,
        loop: str,
        pin: bool,
        log_level: str = "info",
    ) -> None:
        self.port = free_port()
        name = f"{setup.kind}-{setup.mode}-{setup.workers}"
        self.log = work_dir / f"{name}.log"
        self.stats_dir = work_dir / f"{name}-stats"
        self.stats_dir.mkdir()
        pin_prefix = ["taskset", "-c", SERVER_CPU] if pin else []
        self.command = [
            *pin_prefix,
            *(sys.executable, "-m", "pounce"),
            *setup.arguments(self.port, loop),
            *("--log-level", log_level),
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env[STATS_DIR_VARIABLE] = str(self.stats_dir)
        print("  + " + " ".join(self.command))
        with self.log.open("wb") as log_file:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_serving(self) -> None:
        """Return once every worker accepts and ``GET /ready`` works; raise otherwise."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"exited with status {self.process.returncode}:\n{tail(self.log)}"
                )
            # The supervisor logs "serving on" once every worker accepts. The
            # first worker alone could respond to /ready earlier and get a head start.
            if "serving on" in self.log.read_text(errors="replace"):
                status, _ = request_once(self.port, "/ready")
                if status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"not serving after {STARTUP_TIMEOUT:.0f}s:\n{tail(self.log)}")

    def stop_and_read_counts(self) -> dict[str, Any]:
        """Stop the server gracefully and return the app's counts, keyed by worker identity."""
        stop(self.process)
        if self.process.returncode != 0:
            raise RuntimeError(f"exited with status {self.process.returncode}:\n{tail(self.log)}")
        counts: dict[str, Any] = {}
        deadline = time.monotonic() + STATS_TIMEOUT
        files: list[Path] = []
        # Process workers write their own files as they stop, so wait briefly
        # for a straggler rather than read a partial set.
        while time.monotonic() < deadline:
            files = sorted(self.stats_dir.glob("*.json"))
            if files:
                break
            time.sleep(0.1)
        for file in files:
            counts.update(json.loads(file.read_text()))
        return counts


def request_once(port: int, path: str) -> tuple[int, str]:
    """Send one request on a new connection; return (status, body), or (0, error)."""
    request = (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n").encode(
        "ascii"
    )
    try:
        with socket.create_connection((HOST, port), timeout=CLIENT_TIMEOUT) as conn:
            conn.sendall(request)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
    except OSError as error:
        return 0, f"{type(error).__name__}: {error}"
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        return 0, f"no HTTP response ({head[:40]!r})"
    return int(status_line[1]), body.decode("utf-8", "replace")


def run_short_load(port: int, total: int, clients: int) -> tuple[Counter[str], int, float]:
    """Make ``total`` one-request connections from ``clients`` threads.

    Returns the responses per worker identity, the failed connections and the
    connections per second. Stops early at SHORT_DEADLINE.
    """
    served: Counter[str] = Counter()
    failures = 0
    issued = 0
    lock = threading.Lock()
    deadline = time.monotonic() + SHORT_DEADLINE

    def client() -> None:
        nonlocal failures, issued
        while time.monotonic() < deadline:
            with lock:
                if issued >= total:
                    return
                issued += 1
            status, body = request_once(port, "/short")
            with lock:
                if status == 200:
                    served[body] += 1
                else:
                    failures += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    done = sum(served.values()) + failures
    return served, failures, done / elapsed


def run_wrk(port: int, path: str, seconds: int, connections: int, pin: bool) -> str:
    """Run wrk against ``path`` and return its output."""
    pin_prefix = ["taskset", "-c", CLIENT_CPU] if pin else []
    command = [
        *pin_prefix,
        *("wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency"),
        f"http://{HOST}:{port}{path}",
    ]
    print("  + " + " ".join(command))
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if finished.returncode != 0:
        raise RuntimeError(f"wrk exited with status {finished.returncode}:\n{finished.stderr}")
    return finished.stdout


def per_worker(counts: dict[str, Any], path: str, workers: int) -> tuple[list[int], list[int]]:
    """Return requests and connections for ``path`` per worker, most requests first.

    Workers that served nothing at all are missing from the app's counts and
    are added as zeros.
    """
    if len(counts) > workers:
        raise RuntimeError(
            f"{len(counts)} worker identities for {workers} workers; a worker was replaced"
        )
    pairs = sorted(
        (
            (stats["requests"].get(path, 0), stats["connections"].get(path, 0))
            for stats in counts.values()
        ),
        reverse=True,
    )
    pairs += [(0, 0)] * (workers - len(pairs))
    return [requests for requests, _ in pairs], [connections for _, connections in pairs]


def measure(setup: Setup, args: argparse.Namespace, work_dir: Path) -> Result:
    """Start one configuration, run both loads, stop it, and return the spreads."""
    print(f"\n{setup.kind} workers x{setup.workers}, {setup.mode} socket")
    result = Result(setup)
    server = ServerProcess(setup, work_dir, loop=args.loop, pin=args.pin)
    short: tuple[Counter[str], int, float] | None = None
    wrk_output: str | None = None
    try:
        server.wait_until_serving()
        short = run_short_load(server.port, args.short, args.clients)
        if args.wrk:
            if args.warmup > 0:
                run_wrk(server.port, "/warmup", args.warmup, args.wrk_connections, args.pin)
            wrk_output = run_wrk(
                server.port, "/keepalive", args.duration, args.wrk_connections, args.pin
            )
        counts = server.stop_and_read_counts()
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
        stop(server.process)
        result.status = f"failed: {error}"
        print(f"  {result.status}")
        return result

    served, failures, rate = short
    from_app, _ = per_worker(counts, "/short", setup.workers)
    from_client = sorted(served.values(), reverse=True)
    from_client += [0] * (setup.workers - len(from_client))
    if from_app != from_client:
        result.status = f"failed: app counted {from_app}, client counted {from_client}"
        print(f"  {result.status}")
        return result
    # Each short connection carries one request. The app's count of client
    # addresses would undercount them, because the client reuses ports.
    load = f"{sum(from_app)} short connections"
    result.spreads.append(Spread(load, from_app, from_app, rate, failures))

    if wrk_output is not None:
        requests_per_second, _, _, errors = parse_wrk(wrk_output)
        keepalive, connections = per_worker(counts, "/keepalive", setup.workers)
        load = f"wrk -c{args.wrk_connections}, {args.duration} s"
        result.spreads.append(Spread(load, keepalive, connections, requests_per_second, errors))
    for spread in result.spreads:
        print(
            f"  {spread.load}: requests {spread.counts}, connections {spread.connections}, "
            f"max/min {spread.ratio:.2f}"
        )
    return result


def format_table(results: list[Result]) -> str:
    """Format the results as a markdown table, one load per row."""
    rows = [
        "| workers | socket | load | requests per worker | max/min | CV "
        "| connections per worker | rate | errors |",
        "|---|---|---|---|---:|---:|---|---:|---:|",
    ]
    for result in results:
        setup = result.setup
        label = f"{setup.workers} {setup.kind}"
        if not result.spreads:
            rows.append(f"| {label} | {setup.mode} | {result.status.splitlines()[0]} ||||||")
            continue
        for spread in result.spreads:
            unit = "conn/s" if "short" in spread.load else "req/s"
            ratio = "inf" if spread.ratio == float("inf") else f"{spread.ratio:.2f}"
            counts = " / ".join(f"{count:,}" for count in spread.counts)
            connections = " / ".join(str(count) for count in spread.connections)
            rows.append(
                f"| {label} | {setup.mode} | {spread.load} | {counts} | {ratio} "
                f"| {spread.variation:.2f} | {connections} | {spread.rate:,.0f} {unit} "
                f"| {spread.errors} |"
            )
    return "\n".join(rows)


# The command line.


def name_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """Return an argparse type for a comma-separated subset of ``choices``."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}; choose from {', '.join(choices)}"
            )
        return names

    return parse


def worker_counts(text: str) -> list[int]:
    """Parse a comma-separated list of worker counts from 2 to 16."""
    parse = bounded_int(2, 16)
    return [parse(item) for item in text.split(",") if item.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--kinds",
        type=name_list(KINDS),
        default=list(KINDS),
        help="worker kinds to run (default: process,thread)",
    )
    parser.add_argument(
        "--modes",
        type=name_list(MODES),
        default=list(MODES),
        help="socket modes to run (default: shared,reuse-port)",
    )
    parser.add_argument(
        "--workers",
        type=worker_counts,
        default=[2, 4],
        help="comma-separated worker counts, 2 to 16 (default: 2,4)",
    )
    parser.add_argument(
        "--short",
        type=bounded_int(1, 20_000),
        default=2000,
        help="one-request connections in the short load (default: 2000)",
    )
    parser.add_argument(
        "--clients",
        type=bounded_int(1, 32),
        default=4,
        help="client threads that make the short load (default: 4)",
    )
    parser.add_argument(
        "--duration",
        type=bounded_int(1, 60),
        default=5,
        help="seconds of the measured wrk run (default: 5)",
    )
    parser.add_argument(
        "--warmup",
        type=bounded_int(0, 60),
        default=1,
        help="seconds of the wrk warm-up run; 0 skips it (default: 1)",
    )
    parser.add_argument(
        "--wrk-connections",
        type=bounded_int(1, 1000),
        default=64,
        help="connections wrk keeps open (default: 64)",
    )

    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop", "auto"),
        default="asyncio",
        help="event loop of the server (default: asyncio)",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help=f"do not pin the server to CPU {SERVER_CPU} and the clients to CPU {CLIENT_CPU}",
    )
    parser.add_argument(
        "--no-wrk",
        dest="wrk",
        action="store_false",
        help="skip the keep-alive load (skipped anyway without wrk)",
    )

    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    return parser.parse_args(argv)


def check_tools(pin: bool) -> str | None:
    """Return why this machine cannot run the benchmark as asked, or None."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return "this platform has no SO_REUSEPORT, so --reuse-port cannot run"
    if pin:
        if shutil.which("taskset") is None:
            return "taskset not found on PATH; install util-linux or pass --no-pin"
        cpus = os.sched_getaffinity(0)
        if not {int(SERVER_CPU), int(CLIENT_CPU)} <= cpus:
            return f"CPUs {SERVER_CPU} and {CLIENT_CPU} must be available, found {sorted(cpus)}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run every selected configuration and print one markdown table."""
    args = parse_args(argv)
    problem = check_tools(args.pin)
    if problem is not None:
        print(f"accept_spread.py: error: {problem}", file=sys.stderr)
        return 2
    if args.wrk and shutil.which("wrk") is None:
        print("wrk not found on PATH: skipping the keep-alive load")
        args.wrk = False
    if args.pin:
        # Client threads started later inherit this thread's CPU set.
        os.sched_setaffinity(0, {int(CLIENT_CPU)})

    with tempfile.TemporaryDirectory(prefix="pounce-spread-") as work_dir:
        setups = [
            Setup(kind, mode, workers)
            for kind in args.kinds
            for workers in args.workers
            for mode in args.modes
        ]
        print(
            f"{len(setups)} configurations, loop {args.loop}, "
            + (
                f"server on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}"
                if args.pin
                else "not pinned"
            )
            + f"; this machine has {os.cpu_count()} CPUs"
        )
        results = [measure(setup, args, Path(work_dir)) for setup in setups]

    print("\n" + format_table(results))
    if args.json is not None:
        record: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info() if args.wrk else {"python": sys.version},
            "settings": {key: value for key, value in vars(args).items() if key != "json"},
            "results": [dataclasses.asdict(result) for result in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2, default=str) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if any(result.status.startswith("failed") for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
