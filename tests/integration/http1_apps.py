"""ASGI apps and worker probes shared by the HTTP/1.1 integration tests.

``demo_app`` routes by path to the handful of behaviours most tests need;
tests with special needs define their own app beside them. The probes run a
function on the worker's own event loop, because the worker's connection set
and tasks belong to that loop's thread and must only be read there.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

__all__ = [
    "LOOPS",
    "PARSERS",
    "connection_count",
    "demo_app",
    "read_body",
    "run_on_worker_loop",
    "send_text",
    "task_count",
]

#: The two HTTP/1.1 machines every parsing-sensitive test runs against.
PARSERS = ("pounce", "h11")

#: The event loops, for tests where transports of the two behave differently.
LOOPS = (
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
        ),
    ),
)

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
T = TypeVar("T")


async def read_body(receive: Receive) -> bytes:
    """Read the request body to its end."""
    pieces = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the client disconnected while sending the body")
        pieces.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(pieces)


async def send_text(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a whole response with a Content-Length."""
    fields = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": fields + (headers or [])}
    )
    await send({"type": "http.response.body", "body": body})


async def demo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Respond by path.

    - ``/echo``: the request body, read whole.
    - ``/scope``: JSON of the scope fields the tests check.
    - ``/stream?N``: N chunks ``chunk-<i>`` streamed without a Content-Length.
    - ``/status/<code>``: that status with an empty body.
    - ``/ignore``: 200 without reading the request body.
    - anything else: ``hello``.
    """
    if scope["type"] != "http":
        return  # Lifespan: nothing to set up.
    path = scope["path"]
    if path.endswith("/echo"):
        await send_text(send, 200, await read_body(receive))
    elif path.endswith("/scope"):
        await read_body(receive)
        seen = {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "root_path": scope["root_path"],
            "query_string": scope["query_string"].decode("latin-1"),
            "http_version": scope["http_version"],
            "client_port": scope["client"][1],
        }
        await send_text(send, 200, json.dumps(seen).encode())
    elif path.endswith("/stream"):
        await read_body(receive)
        count = int(scope["query_string"] or b"10")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(count):
            await send(
                {"type": "http.response.body", "body": b"chunk-%d\n" % index, "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})
    elif path.startswith("/status/"):
        await read_body(receive)
        await send({"type": "http.response.start", "status": int(path[8:]), "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path.endswith("/ignore"):
        await send_text(send, 200, b"ignored")
    else:
        await read_body(receive)
        await send_text(send, 200, b"hello")


def run_on_worker_loop(running: Any, function: Callable[[], T], timeout: float = 5.0) -> T:
    """Call ``function`` in the thread of the server's worker loop and return its result."""
    loop: asyncio.AbstractEventLoop = running.server.worker.loop

    async def call() -> T:
        return function()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)


def connection_count(running: Any) -> int:
    """Return the number of open connections of the worker."""
    context = running.server.worker.context
    return run_on_worker_loop(running, lambda: len(context.connections))


def task_count(running: Any) -> int:
    """Return how many unfinished tasks the worker's loop has, not counting the probe."""
    loop: asyncio.AbstractEventLoop = running.server.worker.loop

    def count() -> int:
        current = asyncio.current_task()
        return sum(1 for task in asyncio.all_tasks(loop) if task is not current)

    return run_on_worker_loop(running, count)
