"""A client that stops reading its response loses the connection."""

from __future__ import annotations

import asyncio
import queue
import socket
import time
from typing import Any

import pytest

PARSERS = ("pounce", "h11")


def connection_count(running: Any) -> int:
    worker = running.server.worker
    future = asyncio.run_coroutine_threadsafe(_count(worker.context), worker.loop)
    return future.result(5)


async def _count(context: Any) -> int:
    return len(context.connections)


def wait_for_no_connections(running: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if connection_count(running) == 0:
            return True
        time.sleep(0.1)
    return False


def stalled_client(port: int, path: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    # A small receive buffer fills fast, so the server's writes back up.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


@pytest.mark.parametrize("parser", PARSERS)
def test_unread_streaming_response_is_dropped(serve: Any, parser: str) -> None:
    outcome: queue.Queue[str] = queue.Queue()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"s" * 65536
        try:
            for _ in range(2000):  # 128 MiB at most: far beyond the socket buffers
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:
            outcome.put("send raised")
            return
        outcome.put("all sent")

    with serve(app, http=parser, timeout_write=1.0) as running:
        sock = stalled_client(running.port, b"/stream")
        try:
            assert outcome.get(timeout=10) == "send raised"
            assert wait_for_no_connections(running, 5)
        finally:
            sock.close()


@pytest.mark.parametrize("parser", PARSERS)
def test_unread_whole_response_is_dropped(serve: Any, parser: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b"w" * (16 * 1024 * 1024)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"connection", b"close")]}
        )
        await send({"type": "http.response.body", "body": body})

    with serve(app, http=parser, timeout_write=1.0) as running:
        sock = stalled_client(running.port, b"/whole")
        try:
            time.sleep(0.5)
            assert connection_count(running) == 1
            assert wait_for_no_connections(running, 6)
        finally:
            sock.close()


def test_slow_reader_that_keeps_reading_is_served(serve: Any) -> None:
    # More than the kernel buffers on both sides, so the server holds a
    # backlog that only shrinks as fast as the client reads.
    size = 32 * 1024 * 1024

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(size).encode())],
            }
        )
        for _ in range(size // 65536):
            await send({"type": "http.response.body", "body": b"r" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    # Kernel buffers release a slow reader's progress in bursts, so the
    # timeout here leaves room for a gap of a second or so between them.
    with serve(app, timeout_write=2.0) as running:
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=5)
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        received = 0
        try:
            # Read in small steps for longer than timeout_write in total,
            # never pausing for a whole second, then take the rest at once.
            slow_until = time.monotonic() + 3.0
            while time.monotonic() < slow_until:
                received += len(sock.recv(65536))
                time.sleep(0.02)
            while received < size:
                data = sock.recv(65536)
                if not data:
                    break
                received += len(data)
        finally:
            sock.close()
        assert received >= size
