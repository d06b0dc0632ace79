"""A plain ASGI application: no framework, just ``scope``, ``receive`` and ``send``.

Run it from the repository root with::

    pounce examples.hello_raw:app

then open http://127.0.0.1:8000/ or send it a body with
``curl -d 'some text' http://127.0.0.1:8000/``. It responds with a greeting
and the size of the request body, and handles the lifespan protocol so the
server reports its startup and shutdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve every HTTP request with a plain-text greeting."""
    if scope["type"] == "lifespan":
        await run_lifespan(receive, send)
        return
    if scope["type"] != "http":
        raise RuntimeError(f"this example serves only HTTP, not {scope['type']!r}")

    # The body may arrive in several messages, and more_body is false on the last one.
    size = 0
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more_body = message.get("more_body", False)

    text = f"Hello from Pounce! {scope['method']} {scope['path']} with a {size}-byte body\n"
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def run_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown. A real app opens and closes its pools here."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
