"""A client that stops reading its response loses the connection."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from cross_process import FileQueue
from http1_params import PARSERS
from http1_raw import wait_for
from reporting_apps import StreamUntilWriteFailsApp
from streaming_apps import LONG_RESPONSE_SIZE, long_response_app, whole_response_app
from worker_probes import connection_count, workers_in_this_process


def stalled_client(port: int, path: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    # A small receive buffer fills fast, so the server's writes back up.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


@pytest.mark.parametrize("parser", PARSERS)
def test_unread_streaming_response_is_dropped(serve: Any, parser: str, tmp_path: Path) -> None:
    app = StreamUntilWriteFailsApp(FileQueue(tmp_path / "outcome"))
    with serve(app, http=parser, timeout_write=1.0) as running:
        sock = stalled_client(running.port, b"/stream")
        try:
            assert app.outcome.get(timeout=10) == "send raised"
            if workers_in_this_process(running):
                assert wait_for(lambda: connection_count(running) == 0, timeout=5, interval=0.1)
        finally:
            sock.close()


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.in_process("only the worker's connection count shows the dropped connection")
def test_unread_whole_response_is_dropped(serve: Any, parser: str) -> None:
    with serve(whole_response_app, http=parser, timeout_write=1.0) as running:
        sock = stalled_client(running.port, b"/whole")
        try:
            time.sleep(0.5)
            assert connection_count(running) == 1
            assert wait_for(lambda: connection_count(running) == 0, timeout=6, interval=0.1)
        finally:
            sock.close()


def test_slow_reader_that_keeps_reading_is_served(serve: Any) -> None:
    # The body is more than the kernel buffers on both sides, so the server
    # keeps a backlog that only shrinks as fast as the client reads. Kernel
    # buffers release a slow reader's progress in bursts, so the timeout here
    # leaves room for a gap of a second or so between them.
    with serve(long_response_app, timeout_write=2.0) as running:
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
            while received < LONG_RESPONSE_SIZE:
                data = sock.recv(65536)
                if not data:
                    break
                received += len(data)
        finally:
            sock.close()
        assert received >= LONG_RESPONSE_SIZE
