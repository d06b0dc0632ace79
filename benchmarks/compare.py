"""Measure Pounce and its peers serving the same app, one after another, in one run.

Each selected server goes through the same steps:

1. Start it on a free port on 127.0.0.1, pinned to CPU 0 with ``taskset``, in
   its own process group, with its output sent to a log file.
2. Wait until ``GET /`` returns 200 with the expected body, so a server that
   starts but serves the wrong thing fails here instead of being measured.
3. Load it with ``wrk`` pinned to CPU 1: a warm-up run, then the measured run.
4. Stop it with SIGINT to its process group, and SIGKILL after a grace period.

The table compares each server's requests/s with the baseline's
(``pounce-asyncio`` unless ``--baseline`` names another) from the same run,
because absolute numbers move with the machine and its load. A server whose
packages are not installed is reported as skipped. Run it from the ``bench``
hatch environment: ``hatch run bench:run --duration 10``.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.apps import BODY  # noqa: E402  (needs ROOT on sys.path)

APP = "benchmarks.apps:app"
HOST = "127.0.0.1"
SERVER_CPU = "0"
CLIENT_CPU = "1"
STARTUP_TIMEOUT = 30.0
STOP_GRACE = 10.0
MAX_DURATION = 300
MAX_CONNECTIONS = 10_000
BIN = Path(sys.executable).parent


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSpec:
    """One server setup: the modules it needs and its command for a port."""

    name: str
    modules: tuple[str, ...]
    script: str
    arguments: Callable[[int], list[str]]

    def command(self, port: int) -> list[str]:
        """Return the command line that serves APP on ``port``."""
        return [str(BIN / self.script), *self.arguments(port)]

    def missing(self) -> list[str]:
        """Return the names of the modules and scripts that are not installed."""
        absent = [name for name in self.modules if importlib.util.find_spec(name) is None]
        if not (BIN / self.script).exists():
            absent.append(f"{self.script} script")
        return absent


def _pounce(loop: str) -> Callable[[int], list[str]]:
    def arguments(port: int) -> list[str]:
        return [APP, "--loop", loop, "--no-access-log", "--host", HOST, "--port", str(port)]

    return arguments


def _uvicorn(http: str, loop: str) -> Callable[[int], list[str]]:
    def arguments(port: int) -> list[str]:
        return [
            APP,
            *("--http", http, "--loop", loop, "--no-access-log"),
            *("--host", HOST, "--port", str(port)),
        ]

    return arguments


SERVERS = [
    ServerSpec("pounce-asyncio", ("pounce_cli",), "pounce", _pounce("asyncio")),
    ServerSpec("pounce-uvloop", ("pounce_cli", "uvloop"), "pounce", _pounce("uvloop")),
    ServerSpec("uvicorn-h11", ("uvicorn", "h11"), "uvicorn", _uvicorn("h11", "asyncio")),
    ServerSpec(
        "uvicorn-httptools",
        ("uvicorn", "httptools", "uvloop"),
        "uvicorn",
        _uvicorn("httptools", "uvloop"),
    ),
    # Hypercorn writes no access log unless --access-logfile is given.
    ServerSpec(
        "hypercorn",
        ("hypercorn",),
        "hypercorn",
        lambda port: ["--bind", f"{HOST}:{port}", "--workers", "1", APP],
    ),
    ServerSpec(
        "granian",
        ("granian",),
        "granian",
        lambda port: [
            *("--interface", "asgi", "--workers", "1", "--no-access-log"),
            *("--host", HOST, "--port", str(port), APP),
        ],
    ),
]
SERVER_NAMES = [spec.name for spec in SERVERS]


@dataclasses.dataclass(slots=True)
class Result:
    """The outcome of one server in this run."""

    name: str
    status: str  # "ok", "skipped: ..." or "failed: ..."
    command: list[str] = dataclasses.field(default_factory=list)
    requests_per_second: float | None = None
    latency_ms: dict[str, float] = dataclasses.field(default_factory=dict)
    requests: int | None = None
    errors: int | None = None
    ratio: float | None = None


# wrk prints each time with a unit suffix, from us (microseconds) up to h (hours).
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\d+(?:\.\d+)?)(us|ms|s|m|h)\s*$", re.MULTILINE)
_REQUESTS_PER_SECOND = re.compile(r"^Requests/sec:\s+(\d+(?:\.\d+)?)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_BAD_STATUS = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def parse_wrk(output: str) -> tuple[float, dict[str, float], int, int]:
    """Parse wrk --latency output into requests/s, percentiles in ms, requests, errors."""
    rate = _REQUESTS_PER_SECOND.search(output)
    total = _TOTAL.search(output)
    if rate is None or total is None:
        raise ValueError(f"wrk output has no Requests/sec or request count:\n{output}")

    percentiles = {
        f"p{match[1].removesuffix('.000')}": float(match[2]) * _TIME_UNITS_MS[match[3]]
        for match in _PERCENTILE.finditer(output)
    }
    if "p99" not in percentiles:
        raise ValueError(f"wrk output has no 99% latency line (is --latency set?):\n{output}")

    errors = 0
    socket_errors = _SOCKET_ERRORS.search(output)
    if socket_errors is not None:
        errors += sum(int(count) for count in socket_errors.groups())
    bad_status = _BAD_STATUS.search(output)
    if bad_status is not None:
        errors += int(bad_status[1])
    return float(rate[1]), percentiles, int(total[1]), errors


def free_port() -> int:
    """Return a TCP port on HOST that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_serving(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once GET / on ``port`` returns BODY; raise RuntimeError otherwise."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode}:\n{tail(log)}")
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            body = response.read()
            if response.status == 200 and body == BODY:
                return
            last_error = f"GET / returned {response.status} {body[:80]!r}"
        except OSError as error:
            last_error = f"GET / failed: {error}"
        finally:
            connection.close()
        time.sleep(0.1)
    raise RuntimeError(f"not serving after {STARTUP_TIMEOUT:.0f}s ({last_error}):\n{tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group: SIGINT, then SIGKILL after STOP_GRACE."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        print(f"  did not stop within {STOP_GRACE:.0f}s of SIGINT; sending SIGKILL")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tail(path: Path, lines: int = 20) -> str:
    """Return the last ``lines`` lines of a log file."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def run_wrk(port: int, seconds: int, connections: int) -> str:
    """Load the server on ``port`` with wrk pinned to CLIENT_CPU; return wrk's output."""
    command = [
        *("taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"),
        *("--timeout", "5s", "--latency", f"http://{HOST}:{port}/"),
    ]
    print("  + " + " ".join(command))
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if finished.returncode != 0:
        raise RuntimeError(f"wrk exited with status {finished.returncode}:\n{finished.stderr}")
    return finished.stdout


def measure(spec: ServerSpec, args: argparse.Namespace, log_dir: Path) -> Result:
    """Start one server, load it with wrk, stop it, and return what it did."""
    missing = spec.missing()
    if missing:
        return Result(spec.name, "skipped: not installed: " + ", ".join(missing))

    port = free_port()
    command = ["taskset", "-c", SERVER_CPU, *spec.command(port)]
    result = Result(spec.name, "ok", command=command)
    log = log_dir / f"{spec.name}.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))

    print(f"\n{spec.name}\n  + " + " ".join(command))
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_serving(process, port, log)
            if args.warmup > 0:
                run_wrk(port, args.warmup, args.connections)
            output = run_wrk(port, args.duration, args.connections)
            rate, latency, requests, errors = parse_wrk(output)
            result.requests_per_second = rate
            result.latency_ms = latency
            result.requests = requests
            result.errors = errors
            print(f"  {rate:,.0f} requests/s, p99 {latency['p99']:.2f} ms, {errors} errors")
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as error:
            result.status = f"failed: {error}"
            print(f"  failed: {error}")
        finally:
            stop(process)
    return result


def add_ratios(results: list[Result], baseline: str) -> None:
    """Set each measured result's ratio of requests/s to the baseline's."""
    base = next((r for r in results if r.name == baseline and r.requests_per_second), None)
    if base is None or base.requests_per_second is None:
        return
    for result in results:
        if result.requests_per_second is not None:
            result.ratio = result.requests_per_second / base.requests_per_second


def format_table(results: list[Result], baseline: str) -> str:
    """Format the results as a plain-text table, one server a row."""
    header = f"{'server':<19}{'requests/s':>12}{'p99 ms':>10}{'errors':>8}{'vs ' + baseline:>22}"
    rows = [header, "-" * len(header)]
    for result in results:
        if result.requests_per_second is None:
            rows.append(f"{result.name:<19}{result.status.splitlines()[0]}")
            continue
        ratio = "n/a" if result.ratio is None else f"{result.ratio:.2f}x"
        rows.append(
            f"{result.name:<19}{result.requests_per_second:>12,.0f}"
            f"{result.latency_ms['p99']:>10.2f}{result.errors:>8}{ratio:>22}"
        )
    return "\n".join(rows)


def machine_info() -> dict[str, Any]:
    """Describe the machine and tools, for the JSON record."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    wrk_lines = (wrk.stdout + wrk.stderr).splitlines()
    return {
        "python": sys.version,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "wrk": wrk_lines[0] if wrk_lines else "",
    }


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type that accepts integers from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {value}")
        return value

    return parse


def server_list(text: str) -> list[str]:
    """Parse a comma-separated list of server names, rejecting unknown ones."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVER_NAMES]
    if unknown or not names:
        unknown_text = ", ".join(unknown) or "(none)"
        raise argparse.ArgumentTypeError(
            f"unknown server {unknown_text}; choose from {', '.join(SERVER_NAMES)}"
        )
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration",
        type=bounded_int(1, MAX_DURATION),
        default=10,
        help="seconds of each measured wrk run (default: 10)",
    )
    parser.add_argument(
        "--warmup",
        type=bounded_int(0, MAX_DURATION),
        default=3,
        help="seconds of the warm-up wrk run before each measured run; 0 skips it (default: 3)",
    )
    parser.add_argument(
        "--connections",
        type=bounded_int(1, MAX_CONNECTIONS),
        default=100,
        help="open connections wrk keeps to the server (default: 100)",
    )
    parser.add_argument(
        "--servers",
        type=server_list,
        default=SERVER_NAMES,
        help=f"comma-separated servers to run, in order (default: {','.join(SERVER_NAMES)})",
    )
    parser.add_argument(
        "--baseline",
        choices=SERVER_NAMES,
        default="pounce-asyncio",
        help="server whose requests/s the ratios divide by (default: pounce-asyncio)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    return parser.parse_args(argv)


def check_tools() -> str | None:
    """Return why this machine cannot run the benchmark, or None if it can."""
    for tool, debian_package in (("wrk", "wrk"), ("taskset", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH; install the Debian package {debian_package}"
    cpus = os.sched_getaffinity(0)
    if not {int(SERVER_CPU), int(CLIENT_CPU)} <= cpus:
        return f"CPUs {SERVER_CPU} and {CLIENT_CPU} must both be available, found {sorted(cpus)}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected servers in turn and print one table; return the exit status."""
    args = parse_args(argv)
    problem = check_tools()
    if problem is not None:
        print(f"compare.py: error: {problem}", file=sys.stderr)
        return 2

    print(
        f"{len(args.servers)} servers, {args.connections} connections, "
        f"{args.warmup}s warm-up + {args.duration}s measured each; "
        f"server on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU}"
    )
    specs = [spec for name in args.servers for spec in SERVERS if spec.name == name]
    with tempfile.TemporaryDirectory(prefix="pounce-bench-") as log_dir:
        results = [measure(spec, args, Path(log_dir)) for spec in specs]

    add_ratios(results, args.baseline)
    print("\n" + format_table(results, args.baseline))
    if args.baseline not in args.servers or not any(
        r.name == args.baseline and r.ratio for r in results
    ):
        print(f"\nno ratios: the baseline {args.baseline} was not measured in this run")

    if args.json is not None:
        record = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(),
            "settings": {
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "connections": args.connections,
                "server_cpu": SERVER_CPU,
                "client_cpu": CLIENT_CPU,
                "baseline": args.baseline,
            },
            "results": [dataclasses.asdict(result) for result in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
        print(f"\nwrote {args.json}")

    return 1 if any(result.status.startswith("failed") for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
