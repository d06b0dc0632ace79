"""Large bodies through slow readers on either side arrive whole and in order."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from http1_apps import LOOPS, PARSERS, send_text

UPLOAD_SIZE = 5 * 1024 * 1024
DOWNLOAD_CHUNK = 64 * 1024
DOWNLOAD_CHUNKS = 320  # 20 MiB


def pattern(size: int) -> bytes:
    """Return ``size`` bytes that differ by position, so reordering shows."""
    block = b"".join(i.to_bytes(4, "big") for i in range(size // 4 + 1))
    return block[:size]


async def slow_reader_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
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


async def download_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
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


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("loop", LOOPS)
def test_large_upload_to_slow_reader(serve: Any, parser: str, loop: str) -> None:
    data = pattern(UPLOAD_SIZE)
    with serve(slow_reader_app, http=parser, loop=loop) as running:
        response = httpx.post(running.url + "/upload", content=data, timeout=60)
    digest, size, reads = response.text.split()
    assert response.status_code == 200
    assert int(size) == UPLOAD_SIZE
    assert digest == hashlib.sha256(data).hexdigest()
    # The body came in many pieces, so it was not buffered whole first.
    assert int(reads) > 10


@pytest.mark.parametrize("parser", PARSERS)
def test_large_chunked_upload_to_slow_reader(serve: Any, parser: str) -> None:
    data = pattern(UPLOAD_SIZE)

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    with serve(slow_reader_app, http=parser) as running:
        response = httpx.post(running.url + "/upload", content=pieces(), timeout=60)
    digest, size, _ = response.text.split()
    assert int(size) == UPLOAD_SIZE
    assert digest == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("loop", LOOPS)
def test_large_download_to_slow_client(serve: Any, parser: str, loop: str) -> None:
    expected = hashlib.sha256(pattern(DOWNLOAD_CHUNK * DOWNLOAD_CHUNKS)).hexdigest()
    digest = hashlib.sha256()
    size = 0
    with (
        serve(download_app, http=parser, loop=loop) as running,
        httpx.stream("GET", running.url, timeout=60) as response,
    ):
        for index, piece in enumerate(response.iter_raw(DOWNLOAD_CHUNK)):
            digest.update(piece)
            size += len(piece)
            # Read slower than the server writes so its buffer fills.
            if index % 16 == 0:
                time.sleep(0.02)
    assert size == DOWNLOAD_CHUNK * DOWNLOAD_CHUNKS
    assert digest.hexdigest() == expected
