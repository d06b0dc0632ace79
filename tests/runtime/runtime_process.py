"""Run the ``pounce`` command as a child process and follow its log as it grows.

The conftest's ``pounce_process`` fixture is enough for a server that starts
and is stopped once. The runtime tests need more: they wait for lifecycle
lines while the server runs (a worker restarted, a reload finished), read
worker pids from the log, and run servers that exit on their own before or
after serving. ``PounceRun`` reads every output line in a thread and lets
a test wait, with a deadline, for a line that matches a pattern.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

__all__ = [
    "APP_DIR",
    "LOOPS",
    "PounceRun",
    "StartedLine",
    "child_processes",
    "log_time",
    "process_gone",
    "run_pounce",
    "worker_processes",
]

#: The event loops (``--loop``), for tests of how a worker drains its connections.
LOOPS = (
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
        ),
    ),
)

#: The directory of the runtime tests, which worker processes import apps from.
APP_DIR = Path(__file__).resolve().parent

#: "worker N: started (KIND, pid P, REASON)", as the supervisor logs it.
_STARTED = re.compile(r"worker (\d+): started \((\w+), pid (\d+), ([^)]*)\)")
_SERVING = re.compile(r"running on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class StartedLine:
    """One "worker started" log line."""

    slot: int
    kind: str
    pid: int
    reason: str


class PounceRun:
    """A ``pounce`` process whose merged stdout and stderr are collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pounce", *args],
            cwd=APP_DIR,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._pump, name="pounce-log-reader", daemon=True)
        self._reader.start()
        self.port = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def text(self) -> str:
        """The whole output so far."""
        with self._changed:
            return "".join(self.lines)

    def text_since(self, mark: int) -> str:
        """The output from line index ``mark`` on."""
        with self._changed:
            return "".join(self.lines[mark:])

    def mark(self) -> int:
        """Return the number of lines so far, to wait only for lines after this point."""
        with self._changed:
            return len(self.lines)

    def wait_for(self, pattern: str, *, since: int = 0, timeout: float = 20) -> re.Match[str]:
        """Wait for a line from index ``since`` on that matches ``pattern``; return the match."""
        return self.wait_for_count(pattern, 1, since=since, timeout=timeout)[0]

    def wait_for_count(
        self, pattern: str, count: int, *, since: int = 0, timeout: float = 20
    ) -> list[re.Match[str]]:
        """Wait until ``count`` lines from index ``since`` on match ``pattern``; return them."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for line in self.lines[since:] if (m := compiled.search(line))]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(
                        f"expected {count} line(s) matching {pattern!r}, found {len(found)} "
                        f"{'before the output ended' if self._eof else f'within {timeout}s'}; "
                        f"output:\n{''.join(self.lines)}"
                    )
                self._changed.wait(left)

    def started_lines(self, *, since: int = 0) -> list[StartedLine]:
        """Return the "worker started" lines from index ``since`` on."""
        with self._changed:
            lines = self.lines[since:]
        return [
            StartedLine(int(m[1]), m[2], int(m[3]), m[4])
            for line in lines
            if (m := _STARTED.search(line))
        ]

    def wait_serving(self, timeout: float = 20) -> int:
        """Wait until the server accepts connections; return its port."""
        match = self.wait_for(_SERVING.pattern, timeout=timeout)
        self.port = int(match[1])
        return self.port

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = 30) -> int:
        """Wait for the process to end and its output to be read; return its exit code."""
        code = self.process.wait(timeout)
        self._reader.join(10)
        return code

    def stop(self) -> int:
        """Stop the server if it still runs (SIGTERM, then SIGKILL); return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(10)
        self._reader.join(10)
        return code

    def _pump(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        stream.close()
        with self._changed:
            self._eof = True
            self._changed.notify_all()


@contextmanager
def run_pounce(
    *options: str,
    app: str = "runtime_apps:app",
    app_dir: Path = APP_DIR,
    env: dict[str, str] | None = None,
    serving: bool = True,
) -> Iterator[PounceRun]:
    """Run ``pounce APP`` on 127.0.0.1 port 0 with ``options``; stop it on exit.

    With ``serving`` the context waits until the server accepts connections
    and fills in ``port``. The log level is info, which the tests need for
    the "worker started" lines; the access log is off to keep output short.
    """
    args = [
        app,
        "--app-dir",
        str(app_dir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "info",
        "--no-access-log",
        *options,
    ]
    run = PounceRun(args, env)
    try:
        if serving:
            run.wait_serving()
        yield run
    finally:
        run.stop()


def log_time(match: re.Match[str]) -> datetime:
    """Return the time stamp at the start of the log line ``match`` was found in."""
    # The logging module's default asctime, for example "2024-05-01 12:00:00,123".
    return datetime.strptime(match.string[:23], "%Y-%m-%d %H:%M:%S,%f")


def child_processes(parent: int) -> dict[int, int]:
    """Return the children of process ``parent`` as {pid: start time in clock ticks}."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and int(fields[1]) == parent:
            children[int(entry)] = int(fields[19])
    return children


def worker_processes(parent: int) -> set[int]:
    """Return the pids of the worker processes that ``parent`` spawned.

    multiprocessing's ``spawn`` runs each worker as ``python -c "from
    multiprocessing.spawn import spawn_main; ..."``. Its resource tracker,
    the other child a spawning process has, runs a different command.
    """
    workers = set()
    for pid in child_processes(parent):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"spawn_main" in cmdline.read():
                    workers.add(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # Ended since the listing.
    return workers


def process_gone(pid: int, start_time: int) -> bool:
    """Whether the process ``pid`` started at ``start_time`` has ended.

    A zombie has ended too: it waits only for its parent to collect its
    exit status. A different start time means the pid was reused.
    """
    fields = _stat_fields(pid)
    return fields is None or fields[0] == "Z" or int(fields[19]) != start_time


def _stat_fields(pid: int) -> list[str] | None:
    """Return the fields of /proc/PID/stat after the command name, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces or
    # parentheses, so split after its last closing one. Then field 0 is
    # the state, 1 the parent pid and 19 the start time (proc(5) fields
    # 3, 4 and 22).
    return text[text.rindex(")") + 2 :].split()
