"""Large bodies through slow readers on either side arrive whole and in order."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from http1_params import LOOPS, PARSERS
from streaming_apps import DOWNLOAD_CHUNK, DOWNLOAD_CHUNKS, download_app, pattern, slow_reader_app

UPLOAD_SIZE = 5 * 1024 * 1024


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
