"""Thread workers forced to switch threads as often as the interpreter allows.

``sys.setswitchinterval(1e-6)`` makes the interpreter ask the running
thread to release the GIL every microsecond, so threads switch at nearly
every point where they can: the closest a GIL build comes to the
interleavings of a free-threaded one. Four thread workers then serve
concurrent clients. Every response must carry exactly the token and body
of its own request, on fresh and on reused connections.
"""

from __future__ import annotations

import http.client
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from runtime_apps import app

CLIENTS = 8
REQUESTS_PER_CLIENT = 20


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def run_client(port: int, client: int, errors: list[str], replies: list[int]) -> None:
    """Send this client's requests, reusing a connection for every other one."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for number in range(REQUESTS_PER_CLIENT):
            if number % 2 == 0:
                # A fresh connection for even requests; odd ones reuse it.
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            token = f"c{client}-r{number}"
            body = f"{token}:".encode() * (number + 1)
            conn.request("POST", f"/echo?token={token}", body=body)
            response = conn.getresponse()
            data = response.read()
            expected = token.encode() + b"/" + body
            if response.status != 200 or data != expected:
                errors.append(f"{token}: {response.status} {data[:60]!r}")
            replies.append(client)
    except (OSError, http.client.HTTPException) as exc:
        errors.append(f"client {client}: {exc!r}")
    finally:
        conn.close()


@pytest.mark.usefixtures("tiny_switch_interval")
def test_thread_workers_serve_concurrent_clients(serve: Any) -> None:
    errors: list[str] = []
    replies: list[int] = []
    with serve(app, workers=4, worker_kind="thread") as running:
        assert len(running.server.supervisor.handles()) == 4
        clients = [
            threading.Thread(target=run_client, args=(running.port, n, errors, replies))
            for n in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(60)
        assert not any(thread.is_alive() for thread in clients)

    assert errors == []
    assert len(replies) == CLIENTS * REQUESTS_PER_CLIENT
    assert running.errors == []
