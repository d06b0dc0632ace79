"""The ASGI app the runtime tests serve, in threads and in worker processes.

Worker processes import this module by name (``runtime_apps:app``), so the
app lives at module level and takes its settings from the environment,
which spawned processes inherit. It routes by path:

- ``/`` returns the identity of the worker that served it: ``pid:tid``, the
  process id and the native id of the event loop's thread. Native thread ids
  are unique among live threads, and Linux reuses them only after the pid
  range wraps, so a new identity means a new worker, of either kind.
- ``/slow?seconds=S`` waits S seconds on the event loop, then responds.
- ``/block?seconds=S`` blocks the event loop with ``time.sleep``.
- ``/exit`` ends the worker's process at once with ``os._exit(1)``.
- ``/raise-system-exit`` raises ``SystemExit`` out of the request task.
- ``/echo?token=T`` returns T, a slash and the request body.

``/slow`` and ``/block`` print a marker line to stderr when they start. A
test that reads the server's output can wait for it: the request has then
reached the app.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "BLOCK_MARKER",
    "EXIT_AT_STARTUP",
    "SLOW_MARKER",
    "app",
    "block_event_loop",
    "worker_identity",
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: When this environment variable is "1", lifespan startup ends the process.
EXIT_AT_STARTUP = "RUNTIME_APP_EXIT_AT_STARTUP"
#: Printed to stderr when a ``/slow`` request reaches the app.
SLOW_MARKER = "runtime-app: slow request started"
#: Printed to stderr when a ``/block`` request reaches the app.
BLOCK_MARKER = "runtime-app: blocking the event loop"
#: The file descriptor of standard error.
STDERR_FD = 2


def worker_identity() -> str:
    """Return ``pid:tid`` of the calling thread, which names one worker."""
    return f"{os.getpid()}:{threading.get_native_id()}"


def block_event_loop(seconds: float) -> None:
    """Block the calling thread; the tests look for this name in the reported stack."""
    time.sleep(seconds)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve the paths listed in the module docstring."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return

    path = scope["path"]
    query = parse_qs(scope["query_string"].decode("ascii"))
    if path == "/":
        await _respond(send, worker_identity().encode())
    elif path == "/slow":
        _mark(SLOW_MARKER)
        await asyncio.sleep(float(query["seconds"][0]))
        await _respond(send, worker_identity().encode())
    elif path == "/block":
        _mark(BLOCK_MARKER)
        block_event_loop(float(query["seconds"][0]))
        await _respond(send, worker_identity().encode())
    elif path == "/exit":
        os._exit(1)
    elif path == "/raise-system-exit":
        raise SystemExit(1)
    elif path == "/echo":
        body = await _read_body(receive)
        await _respond(send, query["token"][0].encode() + b"/" + body)
    else:
        await _respond(send, b"not found", status=404)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if os.environ.get(EXIT_AT_STARTUP) == "1":
                os._exit(1)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    pieces = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the client disconnected while sending the body")
        pieces.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(pieces)


async def _respond(send: Send, body: bytes, *, status: int = 200) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _mark(line: str) -> None:
    # One write of less than PIPE_BUF bytes, so that lines printed by worker
    # processes sharing the pipe never interleave (print writes the line and
    # its newline separately).
    os.write(STDERR_FD, f"{line}\n".encode())
