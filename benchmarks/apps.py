"""The ASGI app every server in the benchmark serves.

A raw ASGI callable with no framework, so the numbers measure the server:
parsing, the ASGI bridge and writing the response. It responds to every HTTP
request with the same 13-byte ``text/plain`` body. It also completes lifespan
startup and shutdown, so servers that run the lifespan protocol by default
start normally.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["BODY", "app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY = b"Hello, world!"

_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", str(len(BODY)).encode("ascii")),
]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Respond to HTTP requests with ``BODY`` and complete lifespan events."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": BODY})
        return

    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
