"""ASGI apps without state, shared by the HTTP/1.1 integration tests.

``demo_app`` routes by path to the handful of behaviours most tests need; the
other apps each serve one group of tests. They live here, at module level,
because process workers import the app they serve by name in each child
process. Keep this module free of heavy imports (pytest, httpx): every
worker process imports it, once per test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

__all__ = [
    "AppFailure",
    "delay_by_query_app",
    "demo_app",
    "failing_app",
    "half_then_fail_app",
    "late_body_app",
    "mismatched_length_app",
    "read_body",
    "send_text",
    "server_header_app",
    "streamed_304_app",
    "tolerant_echo_app",
]

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


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


async def tolerant_echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Echo the body, and return quietly when the client is gone before its end."""
    if scope["type"] != "http":
        return
    pieces = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        pieces.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(pieces) or b"fine"
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AppFailure(Exception):
    """The error the failing apps raise, easy to find in a traceback."""


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Fail at the stage the path names; respond ``ok`` elsewhere."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/before-start":
        raise AppFailure("failed before the response started")
    if path == "/after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise AppFailure("failed after the response started")
    if path == "/mid-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial ", "more_body": True})
        raise AppFailure("failed in the middle of the body")
    if path == "/no-response":
        return
    await send_text(send, 200, b"ok")


async def half_then_fail_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Send half a body without a Content-Length, then fail."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first half", "more_body": True})
    raise RuntimeError("the app failed mid-response")


async def server_header_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Respond with a Server header of the app's own."""
    if scope["type"] == "http":
        await send_text(send, 200, b"mine", [(b"server", b"my-app/2.0")])


async def streamed_304_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Stream an empty 304 on ``/cached`` (more_body, then the end); respond ``next`` elsewhere."""
    if scope["type"] != "http":
        return
    await read_body(receive)
    if scope["path"] == "/cached":
        await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", b'"v1"')]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send_text(send, 200, b"next")


async def late_body_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Start the response, then read the request body and send ``got <body>``."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"started;", "more_body": True})
    body = await read_body(receive)
    await send({"type": "http.response.body", "body": b"got " + body})


async def delay_by_query_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Sleep the seconds in the query string (none without one), then send the path."""
    if scope["type"] != "http":
        return
    await read_body(receive)
    await asyncio.sleep(float(scope["query_string"] or b"0"))
    await send_text(send, 200, scope["path"].encode())


async def mismatched_length_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Send a Content-Length the body does not match, in the way the path names."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    length = [(b"content-length", b"10")]
    if path == "/short-whole":
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": b"hello"})
    elif path == "/short-streamed":
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/trailers-with-length":
        start = {"type": "http.response.start", "status": 200, "headers": length, "trailers": True}
        await send(start)
        await send({"type": "http.response.body", "body": b"0123456789"})
        await send({"type": "http.response.trailers", "headers": [(b"x-digest", b"abc")]})
