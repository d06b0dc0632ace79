"""Stopping the server at awkward moments: before it runs, inside lifespan, after a failure.

Each test runs a real ``Server`` in a thread on 127.0.0.1 port 0 and waits a
bounded time for it to stop, so a stop request that gets lost fails the test
instead of hanging it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pounce_server import BindError, Server, ServerConfig, StartupError

#: Seconds a lifespan phase in these tests hangs before it gives up by itself.
HANG_SECONDS = 10.0


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def _config(**options: Any) -> ServerConfig:
    options.setdefault("host", "127.0.0.1")
    options.setdefault("port", 0)
    options.setdefault("log_level", "warning")
    return ServerConfig(**options)


@contextmanager
def _running(server: Server) -> Iterator[list[BaseException]]:
    """Run ``server.run()`` in a thread; yield the list its error lands in."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            server.run()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    thread = threading.Thread(target=target, name="test-server", daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        # Stop a server the test left running, so a failed test does not hang.
        for force in (False, True):
            if not thread.is_alive():
                break
            server.shutdown(force=force)
            thread.join(HANG_SECONDS + 5)


def test_shutdown_before_run_is_kept() -> None:
    """A shutdown requested before the worker exists stops the server once it does."""
    server = Server(hello, _config())
    server.shutdown()
    with _running(server) as errors:
        stopped = server.wait_stopped(5)
    assert stopped
    assert errors == []


def test_wait_stopped_after_bind_failure() -> None:
    """``wait_stopped`` returns when ``run`` fails before it serves."""
    taken = socket.socket()
    with taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Server(hello, _config(port=taken.getsockname()[1]))
        with _running(server) as errors:
            stopped = server.wait_stopped(5)
    assert stopped
    assert len(errors) == 1
    assert isinstance(errors[0], BindError)


def _hanging_lifespan(phase: str, entered: threading.Event) -> Any:
    """Return an app whose lifespan ``phase`` ("startup" or "shutdown") hangs for a while."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await hello(scope, receive, send)
            return
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[1]
            if kind == phase:
                entered.set()
                # Like a database that does not respond, but it gives up in the end.
                await asyncio.sleep(HANG_SECONDS)
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return

    return app


def test_forced_shutdown_stops_hanging_startup() -> None:
    """A forced shutdown ends a lifespan startup that does not finish."""
    entered = threading.Event()
    server = Server(_hanging_lifespan("startup", entered), _config(lifespan="on"))
    with _running(server) as errors:
        assert entered.wait(5)
        server.shutdown()
        server.shutdown(force=True)
        stopped = server.wait_stopped(5)
    assert stopped
    assert not server.started.is_set()
    assert len(errors) == 1
    assert isinstance(errors[0], StartupError)
    assert "interrupted" in str(errors[0])


def test_forced_shutdown_stops_hanging_lifespan_shutdown() -> None:
    """A forced shutdown ends a lifespan shutdown that does not finish."""
    entered = threading.Event()
    server = Server(_hanging_lifespan("shutdown", entered), _config(lifespan="on"))
    with _running(server) as errors:
        assert server.started.wait(5)
        server.shutdown()
        assert entered.wait(5)
        server.shutdown(force=True)
        stopped = server.wait_stopped(5)
    assert stopped
    assert errors == []
