"""Edge cases of the HTTP/1.1 connection handler: responses the machine rejects, waiters
that an app cancels, pipelined requests racing the socket, and shutdown mid-request.

Each test bounds its waits, so a connection left open or an app left waiting
fails the test instead of hanging it.
"""

from __future__ import annotations

from typing import Any

import pytest
from http1_apps import PARSERS
from http1_raw import RawConnection

Scope = dict[str, Any]


async def _mismatched_length_app(scope: Scope, receive: Any, send: Any) -> None:
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


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("path", "sent_before_close"),
    [
        # Nothing of a whole response goes out when the machine rejects it.
        ("/short-whole", b""),
        # A streamed body is cut short, and the close signals it to the client.
        ("/short-streamed", b"hello"),
        # The body is whole; only the trailers could not be framed.
        ("/trailers-with-length", b"0123456789"),
    ],
)
def test_rejected_response_closes_connection(
    serve: Any, parser: str, path: str, sent_before_close: bytes
) -> None:
    """A last body piece or trailers the machine rejects must not leave the client waiting."""
    with serve(_mismatched_length_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.request("GET", path)
        received = conn.read_until_closed()
    assert received.endswith(sent_before_close)
    if sent_before_close:
        assert received.startswith(b"HTTP/1.1 200 ")
