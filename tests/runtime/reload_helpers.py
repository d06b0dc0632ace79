"""Tools for the ``--reload`` tests: an app file to rewrite, a launcher, a client loop.

The tests run ``python -m pounce app:app --reload`` as a child process on a
copy of a small app in ``tmp_path``. They rewrite that copy while a client
loop keeps sending requests, and read the reloader's log to learn when a new
generation started, served or failed.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ClientLoop",
    "ReloadRun",
    "Reply",
    "descendants",
    "get",
    "marked_processes",
    "process_gone",
    "run_reloader",
    "write_app",
    "write_source",
]

#: The app under reload. Its body is ``"<version> <pid>"``, so a test can
#: tell which code and which process produced each response.
APP_SOURCE = """\
import os

VERSION = {version!r}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            elif message["type"] == "lifespan.shutdown":
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    body = f"{{VERSION}} {{os.getpid()}}".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    await send({{"type": "http.response.body", "body": body}})
"""

#: The environment variable that tags the reloader and every process it starts.
MARKER_VARIABLE = "RELOAD_TEST_MARKER"

#: The reloader's line once the first generation serves.
_SERVING = re.compile(r"serving on http://127\.0\.0\.1:(\d+); reloading")


def write_source(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` and move its mtime past the previous one.

    Both watcher backends compare timestamps, and a rewrite within the file
    system's timestamp resolution could otherwise keep the old one.
    """
    previous = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns <= previous + 10_000_000:
        later = previous + 1_000_000_000
        os.utime(path, ns=(later, later))


def write_app(path: Path, version: str) -> None:
    """Write the test app, which puts ``version`` in each response, to ``path``."""
    write_source(path, APP_SOURCE.format(version=version))


@dataclass
class ReloadRun:
    """A ``pounce --reload`` child process and the lines it has logged so far."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    port: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    # Set once the reader has seen the end of the output.
    _ended: bool = False

    def log(self) -> str:
        """Return the whole log so far, for failure messages."""
        with self._changed:
            return "".join(self.lines)

    def mark(self) -> int:
        """Return the number of lines logged so far, to wait for lines after it."""
        with self._changed:
            return len(self.lines)

    def find(self, pattern: str, *, after: int = 0) -> list[re.Match[str]]:
        """Return every match of ``pattern`` in the lines logged after line ``after``."""
        compiled = re.compile(pattern)
        with self._changed:
            lines = self.lines[after:]
        return [m for m in (compiled.search(line) for line in lines) if m is not None]

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 30) -> re.Match[str]:
        """Wait for a line matching ``pattern`` after line ``after``, or fail with the log."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = after
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    found = compiled.search(line)
                    if found:
                        return found
                seen = max(seen, len(self.lines))
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and self._ended):
                    break
                self._changed.wait(min(remaining, 0.2))
        raise AssertionError(f"no log line matched {pattern!r} in {timeout}s:\n{self.log()}")

    def wait_exit(self, timeout: float = 30) -> int:
        """Wait for the process to exit on its own and return its exit code."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"pounce did not exit within {timeout}s:\n{self.log()}") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` to the reloader (if it still runs) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait_exit(timeout)

    def _pump(self) -> None:
        # Reading every line keeps the child from blocking on a full pipe.
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()


@contextmanager
def run_reloader(
    app_dir: Path, *options: str, wait_serving: bool = True, timeout: float = 30
) -> Iterator[ReloadRun]:
    """Run ``pounce app:app --reload`` on the app in ``app_dir``, on 127.0.0.1 port 0.

    With ``wait_serving`` the context starts once the first generation
    serves, and ``port`` is set. On exit a process still running is sent
    SIGTERM, then killed if it does not stop.
    """
    argv = [
        sys.executable,
        "-m",
        "pounce",
        "app:app",
        "--reload",
        "--app-dir",
        str(app_dir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
        *options,
    ]
    # The marker is the app directory, unique to each test. Children inherit
    # it, so marked_processes() finds them even after their parent is gone.
    # Byte code is not written, because Python validates a cached .pyc by the
    # source's mtime in whole seconds and its size. A quick rewrite of the same
    # size could otherwise load the old code.
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        MARKER_VARIABLE: str(app_dir),
    }
    process = subprocess.Popen(
        argv,
        cwd=app_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run = ReloadRun(process=process)
    reader = threading.Thread(target=run._pump, name="reload-log-reader", daemon=True)
    reader.start()
    try:
        if wait_serving:
            run.port = int(run.wait_for(_SERVING.pattern, timeout=timeout).group(1))
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        reader.join(5)


@dataclass(frozen=True)
class Reply:
    """The outcome of one request: the body, or the error that replaced it."""

    body: str | None
    error: str | None = None

    @property
    def version(self) -> str | None:
        """The app version in the response, or None for a failed request."""
        return None if self.body is None else self.body.split()[0]

    @property
    def pid(self) -> int | None:
        """The pid of the process that sent the response, or None for a failed request."""
        return None if self.body is None else int(self.body.split()[1])


def get(port: int, timeout: float = 5) -> Reply:
    """Send one GET on a fresh connection and return the reply."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/", headers={"Connection": "close"})
        response = connection.getresponse()
        body = response.read().decode()
        if response.status != 200:
            return Reply(None, f"status {response.status}: {body!r}")
        return Reply(body)
    except (OSError, http.client.HTTPException) as exc:
        return Reply(None, repr(exc))
    finally:
        connection.close()


class ClientLoop:
    """Send requests one after another, each on a new connection, from a thread.

    The loop ends at ``stop()``, after ``max_requests`` or after
    ``max_seconds``, whichever comes first.
    """

    def __init__(
        self, port: int, *, pause: float = 0.02, max_requests: int = 2000, max_seconds: float = 30
    ) -> None:
        self.replies: list[Reply] = []
        self._port = port
        self._pause = pause
        self._max_requests = max_requests
        self._max_seconds = max_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="reload-client", daemon=True)

    def __enter__(self) -> ClientLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> list[Reply]:
        """Stop the loop and return every reply."""
        self._stop.set()
        self._thread.join(15)
        return self.snapshot()

    def snapshot(self) -> list[Reply]:
        """Return the replies received so far."""
        with self._lock:
            return list(self.replies)

    def wait_count(self, count: int, timeout: float = 30) -> None:
        """Wait until the loop has ``count`` replies in all."""
        deadline = time.monotonic() + timeout
        while len(self.snapshot()) < count:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError(f"the client loop stopped at {len(self.snapshot())} replies")
            time.sleep(0.02)

    def _run(self) -> None:
        deadline = time.monotonic() + self._max_seconds
        for _ in range(self._max_requests):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            reply = get(self._port)
            with self._lock:
                self.replies.append(reply)
            self._stop.wait(self._pause)


def _parent_and_start(pid: int) -> tuple[int, str] | None:
    """Return the parent pid and start time of a running process, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may itself contain spaces and ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    state, parent, start = fields[0], int(fields[1]), fields[19]
    if state in ("Z", "X"):
        return None
    return parent, start


def descendants(pid: int) -> dict[int, str]:
    """Return the running descendants of ``pid`` as {pid: start time}."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        found = _parent_and_start(int(entry))
        if found is not None:
            children.setdefault(found[0], []).append(int(entry))
            starts[int(entry)] = found[1]
    result: dict[int, str] = {}
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        result[child] = starts[child]
        pending.extend(children.get(child, []))
    return result


def process_gone(pid: int, start: str) -> bool:
    """Return whether the process ``pid`` started at ``start`` no longer runs.

    A zombie counts as gone, and so does a new process that reuses the pid.
    """
    found = _parent_and_start(pid)
    return found is None or found[1] != start


def marked_processes(app_dir: Path) -> dict[int, str]:
    """Return the running processes started for ``app_dir`` as {pid: start time}.

    These are the processes whose environment has the marker that
    ``run_reloader`` set: the reloader and everything it started.
    """
    tag = f"{MARKER_VARIABLE}={app_dir}".encode() + b"\0"
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue  # exited, or not ours to read
        status = _parent_and_start(int(entry))
        if status is not None and (environ.startswith(tag) or b"\0" + tag in environ):
            found[int(entry)] = status[1]
    return found
