"""Check what happens to waiting connections when SIGTTOU removes a worker.

With ``--reuse-port`` each worker has a listening socket of its own, and
the kernel puts each new connection in the queue of one of them. When a
socket closes, Linux resets the connections still waiting in its queue
(unless ``net.ipv4.tcp_migrate_req`` is set), so a removed worker loses
them unless it accepts them before its socket closes. With the shared
socket, the socket stays open for the remaining workers, and the queued
connections wait for them.

Two experiments run for each worker kind and socket mode.

Queued while blocked, with two workers:

1. Block both workers' event loops: ``GET /block`` makes the app call
   ``time.sleep`` until a common deadline. Several such requests, sent a
   little apart, make it near certain that each worker gets one: a loop that
   sleeps cannot take another from the shared socket, and with
   ``--reuse-port`` the kernel's hash spreads them. A run in which a worker
   served no blocking request is reported as invalid.
2. Open ``PROBES`` connections that each send one request. No loop can
   accept them, so they wait in the listen queues.
3. Send SIGTTOU to the server, which removes worker 1.
4. Once the loops run again, read each probe's outcome: served, reset,
   closed without a response, or timed out.

Under load, with four workers: ``LOAD_CLIENTS`` client threads make
one-request connections for ``LOAD_SECONDS`` seconds, while SIGTTOU is sent
once a second until one worker is left. Every connection's outcome is
counted.

``--debug-log`` runs the server at log level debug and prints how many
connections each worker opened after the first scale-down. That separates
a reset by the kernel, where the removed worker never accepted the
connection, from a connection that the removed worker accepted. Debug
logging changes the timing, so the outcomes may differ from a run without
it.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Needs ROOT on sys.path.
from benchmarks.accept_spread import (  # noqa: E402
    CLIENT_TIMEOUT,
    KINDS,
    MODES,
    ServerProcess,
    Setup,
    check_tools,
    name_list,
    request_once,
)
from benchmarks.compare import CLIENT_CPU, HOST, stop  # noqa: E402

#: Seconds the blocking requests hold every worker's loop.
BLOCK_SECONDS = 3.0
#: Requests that block a worker. With --reuse-port, the chance that all of
#: them land on one of the two sockets is 2 in 2**8.
BLOCKERS = 8
#: Seconds between two blocking requests, so that a sleeping loop is not
#: the one that accepts them all from the shared socket in one batch.
BLOCKER_GAP = 0.05
#: Seconds between the last blocking request and the first probe, so that
#: each loop has accepted its blocking request and sleeps.
SETTLE = 0.3
#: Connections opened while every loop is blocked.
PROBES = 40
#: Seconds after the blocking ends that a probe may wait for its response.
PROBE_GRACE = 5.0
#: Workers, client threads and seconds of the experiment under load.
LOAD_WORKERS = 4
LOAD_CLIENTS = 8
LOAD_SECONDS = 4.0

_OPENED = re.compile(r"\[worker (\d+)\] Connection opened from")
_SCALED = re.compile(r"workers: \d+ -> \d+")


def classify(conn: socket.socket) -> str:
    """Read one response from ``conn``: served, reset, closed (no response) or timed out."""
    chunks = []
    try:
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "timed out"
    except OSError as error:
        return type(error).__name__
    data = b"".join(chunks)
    if data.startswith(b"HTTP/1.1 200"):
        return "served"
    return "closed" if not data else "other response"


def opened_after_scale_down(log: Path) -> Counter[str]:
    """Count the connections each worker opened after the log's first scale-down line."""
    opened: Counter[str] = Counter()
    scaled = False
    for line in log.read_text(errors="replace").splitlines():
        if _SCALED.search(line):
            scaled = True
        elif scaled and (match := _OPENED.search(line)):
            opened[f"worker {match[1]}"] += 1
    return opened


def start_server(setup: Setup, args: argparse.Namespace, work_dir: Path) -> ServerProcess:
    """Start the server for one experiment, at log level debug with ``--debug-log``."""
    print(f"\n{setup.workers} {setup.kind} workers, {setup.mode} socket")
    log_level = "debug" if args.debug_log else "info"
    return ServerProcess(setup, work_dir, loop=args.loop, pin=args.pin, log_level=log_level)


def check_blocked(setup: Setup, args: argparse.Namespace, work_dir: Path) -> Counter[str]:
    """Queue connections on blocked workers, remove one worker, and classify them."""
    server = start_server(setup, args, work_dir)
    outcomes: Counter[str] = Counter()
    try:
        server.wait_until_serving()
        until = time.time() + BLOCK_SECONDS
        blocked: Counter[str] = Counter()

        def block() -> None:
            status, body = request_once(server.port, f"/block?until={until}")
            blocked[body if status == 200 else "failed: " + body] += 1

        blockers = [threading.Thread(target=block) for _ in range(BLOCKERS)]
        for thread in blockers:
            thread.start()
            time.sleep(BLOCKER_GAP)
        time.sleep(SETTLE)

        request = f"GET /probe HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        probes = []
        for _ in range(PROBES):
            probe = socket.create_connection((HOST, server.port), timeout=CLIENT_TIMEOUT)
            probe.sendall(request)
            probes.append(probe)
        time.sleep(0.2)
        os.kill(server.process.pid, signal.SIGTTOU)

        # One deadline for all probes, so that hung connections do not add up.
        deadline = time.monotonic() + BLOCK_SECONDS + PROBE_GRACE
        for probe in probes:
            with probe:
                probe.settimeout(max(0.1, deadline - time.monotonic()))
                outcomes[classify(probe)] += 1
        for thread in blockers:
            thread.join()
    finally:
        stop(server.process)

    print(f"  blocking requests per worker: {dict(blocked)}")
    print(f"  probes: {dict(outcomes)}")
    workers_blocked = [name for name in blocked if not name.startswith("failed")]
    if len(workers_blocked) < setup.workers:
        print("  invalid: a worker served no blocking request, so it was never blocked")
        outcomes = Counter({"invalid run": 1})
    if args.debug_log:
        opened = opened_after_scale_down(server.log)
        print(f"  connections opened after the scale-down: {dict(opened)}")
    return outcomes


def check_under_load(setup: Setup, args: argparse.Namespace, work_dir: Path) -> Counter[str]:
    """Remove workers one a second down to one under steady load; classify every connection."""
    server = start_server(setup, args, work_dir)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    try:
        server.wait_until_serving()
        stop_at = time.monotonic() + LOAD_SECONDS

        def client() -> None:
            while time.monotonic() < stop_at:
                status, body = request_once(server.port, "/load")
                # A failed request's body is "<exception name>: <message>".
                outcome = "served" if status == 200 else body.partition(":")[0]
                with lock:
                    outcomes[outcome] += 1

        clients = [threading.Thread(target=client) for _ in range(LOAD_CLIENTS)]
        for thread in clients:
            thread.start()
        for _ in range(setup.workers - 1):
            time.sleep(LOAD_SECONDS / setup.workers)
            os.kill(server.process.pid, signal.SIGTTOU)
        for thread in clients:
            thread.join()
    finally:
        stop(server.process)

    print(f"  connections: {dict(outcomes)}")
    if args.debug_log:
        opened = opened_after_scale_down(server.log)
        print(f"  connections opened after the first scale-down: {dict(opened)}")
    return outcomes


def summarize(outcomes: Counter[str]) -> str:
    """Format outcome counts as "3 reset, 37 served"."""
    return ", ".join(f"{count:,} {name}" for name, count in sorted(outcomes.items()))


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
        "--loop",
        choices=("asyncio", "uvloop", "auto"),
        default="asyncio",
        help="event loop of the server (default: asyncio)",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the server to CPU 0 and the clients to CPU 1",
    )
    parser.add_argument(
        "--debug-log",
        action="store_true",
        help="run the server at log level debug and count the connections each worker opened",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check for each selected kind and mode and print a markdown table."""
    args = parse_args(argv)
    problem = check_tools(args.pin)
    if problem is not None:
        print(f"scale_down_check.py: error: {problem}", file=sys.stderr)
        return 2
    if args.pin:
        # Client threads started later inherit this thread's CPU set.
        os.sched_setaffinity(0, {int(CLIENT_CPU)})

    rows = [
        f"| kind | socket | {PROBES} queued while blocked, 2 -> 1 workers "
        f"| under load, {LOAD_WORKERS} -> 1 workers |",
        "|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="pounce-scale-down-") as work_dir:
        for kind in args.kinds:
            for mode in args.modes:
                blocked = check_blocked(Setup(kind, mode, 2), args, Path(work_dir))
                loaded = check_under_load(Setup(kind, mode, LOAD_WORKERS), args, Path(work_dir))
                rows.append(f"| {kind} | {mode} | {summarize(blocked)} | {summarize(loaded)} |")
    print("\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
