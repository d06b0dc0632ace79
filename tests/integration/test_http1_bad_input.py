"""Malformed requests over a real socket: one exact error response, then the close.

Each case is checked as a client sees it: the status line, ``Connection:
close``, the server closing the socket within seconds, and a fresh connection
still being served. The rejection is a client's fault, so it is logged at
debug level on ``pounce.worker`` and nothing is logged at error level (checked
where the workers log in the test's process, that is, not for process workers).
"""

from __future__ import annotations

import logging
import select
import socket
from typing import Any

import pytest
from http1_apps import tolerant_echo_app
from http1_params import PARSERS
from http1_raw import RawConnection
from worker_probes import workers_in_this_process

#: Small limits so that each breach takes a few kilobytes.
LIMITS = {
    "limit_request_line": 1024,
    "limit_request_field_size": 1024,
    "limit_request_fields": 20,
    "limit_request_head": 4096,
    "limit_request_body": 1000,
}

STATUS_LINES = {
    400: "HTTP/1.1 400 Bad Request",
    413: "HTTP/1.1 413 Content Too Large",
    414: "HTTP/1.1 414 URI Too Long",
    431: "HTTP/1.1 431 Request Header Fields Too Large",
    501: "HTTP/1.1 501 Not Implemented",
    505: "HTTP/1.1 505 HTTP Version Not Supported",
}


def post(*fields: bytes, body: bytes = b"") -> bytes:
    """Return a POST head with ``fields`` (each without CRLF), then ``body``."""
    lines = [b"POST /echo HTTP/1.1", b"Host: 127.0.0.1", *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def get(*fields: bytes) -> bytes:
    """Return a GET head with a Host field and ``fields``."""
    return b"\r\n".join([b"GET / HTTP/1.1", b"Host: 127.0.0.1", *fields]) + b"\r\n\r\n"


CASES: list[tuple[str, bytes, int]] = [
    # RFC 9112 §3: request-line = method SP request-target SP HTTP-version.
    ("request-line-garbage", b"GARBAGE\r\n\r\n", 400),
    ("request-line-no-target", b"GET HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("method-not-token", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("target-with-space", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    # RFC 9110 §15.6.6: a major version the server does not support is 505.
    ("version-2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("version-garbage", b"GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400),
    ("version-lowercase", b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    # RFC 9112 §3.2: exactly one Host field in an HTTP/1.1 request.
    ("missing-host", b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    ("two-hosts", get(b"Host: other"), 400),
    # RFC 9112 §6.1 and §6.3: framing that could be read two ways.
    (
        "content-length-and-chunked",
        post(b"Content-Length: 5", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        400,
    ),
    ("two-content-lengths", post(b"Content-Length: 5", b"Content-Length: 6", body=b"hello"), 400),
    ("content-length-list", post(b"Content-Length: 5, 6", body=b"hello"), 400),
    ("content-length-plus", post(b"Content-Length: +5", body=b"hello"), 400),
    ("content-length-minus", post(b"Content-Length: -5", body=b"hello"), 400),
    ("content-length-inner-space", post(b"Content-Length: 5 5", body=b"hello"), 400),
    ("content-length-hex", post(b"Content-Length: 0x5", body=b"hello"), 400),
    # RFC 9112 §6.3: without chunked as the final coding the body length
    # is unknown, so 400; §6.1: a coding the server does not implement, 501.
    ("transfer-encoding-gzip", post(b"Transfer-Encoding: gzip", body=b"abc"), 400),
    (
        "transfer-encoding-gzip-chunked",
        post(b"Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n"),
        501,
    ),
    (
        "transfer-encoding-in-http10",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("bad-chunk-size", post(b"Transfer-Encoding: chunked", body=b"zz\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk-without-crlf", post(b"Transfer-Encoding: chunked", body=b"5\r\nhelloXX0\r\n\r\n"), 400),
    # RFC 9112 §2.2: a bare CR is invalid, and this server takes only CRLF.
    ("bare-cr-in-value", get(b"X-A: a\rb"), 400),
    ("bare-lf-everywhere", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    ("bare-lf-in-head", b"GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", 400),
    # RFC 9112 §5.2: obs-fold is rejected; §5.1: no space before the colon.
    ("obs-fold", get(b"X-A: 1", b"  continued"), 400),
    ("space-before-colon", get(b"X-A : 1"), 400),
    ("empty-field-name", get(b": value"), 400),
    # RFC 9110 §5.5: NUL is never valid in a field value.
    ("nul-in-value", get(b"X-A: a\x00b"), 400),
    # The configured size limits.
    ("request-line-too-long", b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("field-line-too-long", get(b"X-Long: " + b"v" * 2000), 431),
    ("too-many-fields", get(*(b"X-F%d: v" % i for i in range(30))), 431),
    ("head-too-large", get(*(b"X-F%d: " % i + b"v" * 500 for i in range(10))), 431),
    ("body-over-limit-content-length", post(b"Content-Length: 2000", body=b"x" * 100), 413),
    (
        "body-over-limit-chunked",
        post(b"Transfer-Encoding: chunked", body=(b"200\r\n" + b"x" * 512 + b"\r\n") * 3),
        413,
    ),
]


def assert_rejected(conn: RawConnection, status: int) -> None:
    """Read the one error response and check that the server then closes."""
    response = conn.read_response()
    assert response.status_line == STATUS_LINES[status]
    assert response.header("connection") == "close"
    assert conn.read_until_closed(timeout=5) == b""


def assert_logged_as_client_fault(caplog: pytest.LogCaptureFixture, status: int) -> None:
    debug_lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "pounce.worker" and record.levelno == logging.DEBUG
    ]
    assert any(f"with {status}" in line for line in debug_lines), debug_lines
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []


def assert_still_serving(port: int) -> None:
    with RawConnection(port) as fresh:
        fresh.request("GET", "/")
        response = fresh.read_response()
    assert response.status_line == "HTTP/1.1 200 OK"
    assert response.body == b"fine"


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("request_bytes", "status"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_rejected(
    serve: Any, caplog: pytest.LogCaptureFixture, parser: str, request_bytes: bytes, status: int
) -> None:
    with serve(tolerant_echo_app, http=parser, log_level="debug", **LIMITS) as running:
        with RawConnection(running.port) as conn:
            conn.send(request_bytes)
            assert_rejected(conn, status)
        assert_still_serving(running.port)
    if workers_in_this_process(running):
        assert_logged_as_client_fault(caplog, status)


BYTE_BY_BYTE = [
    "bare-lf-everywhere",
    "obs-fold",
    "nul-in-value",
    "bad-chunk-size",
    "request-line-too-long",
]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [case[1:] for case in CASES if case[0] in BYTE_BY_BYTE],
    ids=[case[0] for case in CASES if case[0] in BYTE_BY_BYTE],
)
def test_rejected_byte_by_byte(serve: Any, parser: str, request_bytes: bytes, status: int) -> None:
    """The parser finds the error however the bytes are split."""
    with serve(tolerant_echo_app, http=parser, **LIMITS) as running:
        with RawConnection(running.port) as conn:
            for index in range(len(request_bytes)):
                conn.send(request_bytes[index : index + 1])
                # Stop writing once the response is there: writing on into a
                # closed connection would make the kernel reset it.
                readable, _, _ = select.select([conn.sock], [], [], 0.002)
                if readable:
                    break
            assert_rejected(conn, status)
        assert_still_serving(running.port)


@pytest.mark.parametrize("parser", PARSERS)
def test_rejected_after_a_good_request(serve: Any, parser: str) -> None:
    """An error in the second request of a connection still gets its own error response."""
    with (
        serve(tolerant_echo_app, http=parser, **LIMITS) as running,
        RawConnection(running.port) as conn,
    ):
        conn.request("GET", "/")
        assert conn.read_response().body == b"fine"
        conn.send(get(b"X-A : 1"))
        assert_rejected(conn, 400)


@pytest.mark.parametrize("parser", PARSERS)
def test_truncated_request_then_close(
    serve: Any, caplog: pytest.LogCaptureFixture, parser: str
) -> None:
    """A client that half-closes inside a head gets a 400, not a hang."""
    with serve(tolerant_echo_app, http=parser, log_level="debug") as running:
        with RawConnection(running.port) as conn:
            conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Partial: ")
            conn.sock.shutdown(socket.SHUT_WR)
            data = conn.read_until_closed(timeout=5)
        assert_still_serving(running.port)
    assert data == b"" or data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    if not workers_in_this_process(running):
        return  # The records stay in the worker processes.
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
