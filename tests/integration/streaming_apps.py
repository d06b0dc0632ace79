"""ASGI apps that move large bodies, for the flow control and write timeout tests.

Module-level and light to import, like ``http1_apps``: process workers import
them by name in each child process.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from http1_apps import Receive, Scope, Send, send_text

__all__ = [
    "DOWNLOAD_CHUNK",
    "DOWNLOAD_CHUNKS",
    "LONG_RESPONSE_SIZE",
    "download_app",
    "long_response_app",
    "pattern",
    "slow_reader_app",
    "whole_response_app",
]

#: The download app streams ``DOWNLOAD_CHUNKS`` pieces of this many bytes (20 MiB).
DOWNLOAD_CHUNK = 64 * 1024
DOWNLOAD_CHUNKS = 320

#: The size of ``long_response_app``'s body: more than the kernel buffers on both sides.
LONG_RESPONSE_SIZE = 32 * 1024 * 1024


def pattern(size: int) -> bytes:
    """Return ``size`` bytes that differ by position, so reordering shows."""
    block = b"".join(i.to_bytes(4, "big") for i in range(size // 4 + 1))
    return block[:size]


async def slow_reader_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Hash the request body, pausing between reads; respond with digest, size and read count."""
    if scope["type"] != "http":
        return
    digest = hashlib.sha256()
    size = 0
    reads = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        digest.update(message["body"])
        size += len(message["body"])
        reads += 1
        if not message.get("more_body", False):
            break
        await asyncio.sleep(0.005)
    await send_text(send, 200, f"{digest.hexdigest()} {size} {reads}".encode())


async def download_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Stream 20 MiB of ``pattern`` in 64 KiB pieces."""
    if scope["type"] != "http":
        return
    data = pattern(DOWNLOAD_CHUNK * DOWNLOAD_CHUNKS)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/octet-stream")],
        }
    )
    view = memoryview(data)
    for index in range(DOWNLOAD_CHUNKS):
        piece = view[index * DOWNLOAD_CHUNK : (index + 1) * DOWNLOAD_CHUNK]
        await send({"type": "http.response.body", "body": bytes(piece), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def whole_response_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Send 16 MiB in one body message, then close the connection."""
    if scope["type"] != "http":
        return
    body = b"w" * (16 * 1024 * 1024)
    headers: list[Any] = [(b"connection", b"close")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def long_response_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Stream ``LONG_RESPONSE_SIZE`` bytes with a Content-Length, 64 KiB at a time."""
    if scope["type"] != "http":
        return
    headers = [(b"content-length", str(LONG_RESPONSE_SIZE).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for _ in range(LONG_RESPONSE_SIZE // 65536):
        await send({"type": "http.response.body", "body": b"r" * 65536, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
