"""Fixtures shared by the server, CLI, integration and app tests.

``serve`` runs a real Pounce server in a thread of this process, bound to
127.0.0.1 on a free port. ``pounce_process`` runs the ``pounce`` command
as a child process and reads the port it bound from its log.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The bridge-only environment has neither the server nor its fixtures' needs.
# Where the server is installed, a failing import must fail loudly rather
# than skip every test that serves.
if importlib.util.find_spec("pounce_server") is not None:
    from pounce_server import Server, ServerConfig
else:  # pragma: no cover - only in the bridge-only environment
    Server = ServerConfig = None  # type: ignore[assignment,misc]


@dataclass
class RunningServer:
    """A server running in a background thread of the test process."""

    server: Any
    url: str
    host: str
    port: int
    errors: list[BaseException]
    #: The lifecycle events the server reported so far (``pounce_server.events``).
    events: list[Any]


@contextmanager
def _run_in_thread(app: Any, **options: Any) -> Iterator[RunningServer]:
    options.setdefault("host", "127.0.0.1")
    options.setdefault("port", 0)
    options.setdefault("log_level", "warning")
    options.setdefault("timeout_graceful_shutdown", 5.0)
    config = ServerConfig(**options)
    events: list[Any] = []
    # list.append is atomic, so the server's threads may call it directly.
    server = Server(app, config, on_event=events.append)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            server.run()
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    thread = threading.Thread(target=target, name="test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started.is_set():
        if not thread.is_alive():
            raise RuntimeError(f"the server stopped before it was ready: {errors!r}")
        if time.monotonic() > deadline:
            server.shutdown(force=True)
            raise RuntimeError("the server did not start within 15 seconds")
        time.sleep(0.01)
    url = server.urls[0]
    match = re.match(r"http://(.+):(\d+)$", url)
    host, port = (match.group(1), int(match.group(2))) if match else ("", 0)
    try:
        yield RunningServer(
            server=server, url=url, host=host, port=port, errors=errors, events=events
        )
    finally:
        server.shutdown()
        thread.join(30)
        if thread.is_alive():
            server.shutdown(force=True)
            thread.join(10)
    assert not thread.is_alive(), "the server did not shut down"


@pytest.fixture
def serve() -> Callable[..., Any]:
    """Return ``serve(app, **config)``, a context manager yielding a ``RunningServer``."""
    if Server is None:
        pytest.skip("pounce_server is not installed")
    return _run_in_thread


@dataclass
class PounceProcess:
    """A ``pounce`` command running as a child process."""

    process: subprocess.Popen[str]
    url: str
    port: int
    log: list[str]

    def stop(self, sig: int | None = None, timeout: float = 30) -> int:
        """Send SIGTERM (or ``sig``) and return the exit code."""
        import signal

        if self.process.poll() is None:
            self.process.send_signal(sig if sig is not None else signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(10)
        return code


def pounce_command(*args: str) -> list[str]:
    """Return the argv that runs the ``pounce`` command of this environment."""
    return [sys.executable, "-m", "pounce", *args]


@contextmanager
def _run_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 20
) -> Iterator[PounceProcess]:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(
        pounce_command("--port", "0", *args),
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    url = ""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        log.append(line)
        found = re.search(r"running on (http://\S+:(\d+))", line)
        if found:
            url = found.group(1)
            break
    if not url:
        process.kill()
        rest = process.stdout.read()
        raise RuntimeError("pounce did not start:\n" + "".join(log) + rest)

    # Keep reading the log so the child never blocks on a full pipe.
    def pump() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            log.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    port = int(url.rsplit(":", 1)[1])
    running = PounceProcess(process=process, url=url, port=port, log=log)
    try:
        yield running
    finally:
        running.stop()
        reader.join(5)


@pytest.fixture
def pounce_process() -> Callable[..., Any]:
    """Return ``pounce_process(*args)``, a context manager running ``pounce`` on port 0."""
    if Server is None:
        pytest.skip("pounce_server is not installed")
    return _run_process
