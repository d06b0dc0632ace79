"""An app that fails mid-response: the client must be able to tell."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from http1_apps import half_then_fail_app


def read_all(sock: socket.socket) -> bytes:
    received = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return received
        received += data


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("parser", ["pounce", "h11"])
def test_truncated_close_delimited_body_is_reset(serve: Any, parser: str, loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    # HTTP/1.0 without Content-Length: the body ends where the connection
    # does, so only a reset tells the client the body is incomplete.
    with serve(half_then_fail_app, http=parser, loop=loop) as running:
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=5)
        try:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            with pytest.raises(ConnectionResetError):
                read_all(sock)
        finally:
            sock.close()
