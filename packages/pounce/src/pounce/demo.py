"""A small ASGI app to try Pounce with: ``pounce pounce.demo:app``.

It is a plain ASGI callable with no framework, so it shows the raw protocol:

- ``GET /`` a greeting page,
- ``GET /stream`` a body sent in pieces,
- ``POST /echo`` the request body sent back,
- ``GET /headers`` the request headers as JSON.
"""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any

__all__ = ["app"]

_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Pounce</title></head>
<body>
<h1>Pounce is serving.</h1>
<p>Try <a href="/stream">/stream</a>, <a href="/headers">/headers</a>,
or <code>curl -d hello http://HOST/echo</code>.</p>
</body></html>
"""


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve the demo routes."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    if path == "/" and method in ("GET", "HEAD"):
        host = dict(scope["headers"]).get(b"host", b"127.0.0.1:8000")
        page = _PAGE.replace(b"HOST", html.escape(host.decode("latin-1")).encode("latin-1"))
        await _reply(send, 200, page, b"text/html; charset=utf-8")
    elif path == "/stream" and method == "GET":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        for number in range(1, 6):
            await send(
                {
                    "type": "http.response.body",
                    "body": f"piece {number}\n".encode(),
                    "more_body": True,
                }
            )
            await asyncio.sleep(0.1)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/echo" and method == "POST":
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await _reply(send, 200, bytes(body), b"application/octet-stream")
    elif path == "/headers" and method == "GET":
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        await _reply(send, 200, json.dumps(headers, indent=2).encode(), b"application/json")
    else:
        await _reply(send, 404, b"Not Found\n", b"text/plain; charset=utf-8")


async def _reply(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type)],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
