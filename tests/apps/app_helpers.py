"""Helpers shared by the framework tests: parser names and a raw HTTP client.

The tests in this folder run each framework under both HTTP/1.1 machines.
Most requests go through httpx. ``raw_exchange`` is for the few checks that
need the client's own socket address or bytes that httpx would not send.
"""

from __future__ import annotations

import socket

#: The two HTTP/1.1 machines every app is served with.
PARSERS = ("pounce", "h11")

#: Seconds any single client call may take before a test fails.
CLIENT_TIMEOUT = 10.0


def raw_exchange(host: str, port: int, request: bytes) -> tuple[tuple[str, int], bytes]:
    """Send ``request`` on a new connection and return the client's address and the reply.

    The request should carry ``Connection: close`` so that the server ends
    the reply by closing the connection.
    """
    with socket.create_connection((host, port), timeout=CLIENT_TIMEOUT) as sock:
        local = sock.getsockname()
        sock.sendall(request)
        pieces = []
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            pieces.append(piece)
    return (local[0], local[1]), b"".join(pieces)


def split_reply(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    """Split an HTTP/1.1 reply into its status, headers (last one wins) and body bytes."""
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *field_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in field_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body
