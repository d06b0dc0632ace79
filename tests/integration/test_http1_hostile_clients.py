"""Clients that trickle, idle, half-close or vanish: the server stays bounded.

Deadlines are checked by the worker's sweeper twice a second, so a timeout
of T seconds closes a connection between T and about T + 0.5 seconds. The
bounds below leave room on top of that for a loaded test machine.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from cross_process import FileQueue
from http1_apps import delay_by_query_app, demo_app
from http1_params import LOOPS, PARSERS
from http1_raw import RawConnection, build_request, wait_for
from reporting_apps import (
    BodyCountingApp,
    PathRecordingApp,
    ReceiveTwiceApp,
    StreamUntilDisconnectApp,
)
from worker_probes import connection_count, task_count, workers_in_this_process


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    """Each test runs once with the fast parser and once with h11."""
    name: str = request.param
    return name


def seconds_until_closed(conn: RawConnection, limit: float) -> float | None:
    """Wait for the server to close; return the seconds it took, None if it did not."""
    started = time.monotonic()
    try:
        data = conn.read_until_closed(timeout=limit)
    except AssertionError:
        return None
    assert data == b"", f"unexpected bytes before the close: {data!r}"
    return time.monotonic() - started


# Deadlines.


@pytest.mark.parametrize("loop", LOOPS)
def test_slowloris_closed_at_head_deadline(serve: Any, parser: str, loop: str) -> None:
    """A head that trickles in one byte every 0.5 s loses the connection at timeout_header."""
    partial_head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: abcdefghij"
    with serve(demo_app, http=parser, loop=loop, timeout_header=1.5) as running:
        with RawConnection(running.port) as conn:
            started = time.monotonic()
            closed_at = None
            received = b""
            # At most 12 bytes, 6 seconds: the server must close long before.
            for byte in partial_head[:12]:
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    closed_at = time.monotonic() - started
                    break
                readable, _, _ = select.select([conn.sock], [], [], 0.5)
                if readable:
                    try:
                        received = conn.sock.recv(65536)
                    except ConnectionResetError:
                        received = b""
                    closed_at = time.monotonic() - started
                    break
        # The connection still counts while the last bytes come in; the
        # worker drops it once it is closed.
        if workers_in_this_process(running):
            assert wait_for(lambda: connection_count(running) == 0)
    assert closed_at is not None, "the server kept a trickling head past timeout_header"
    assert received == b"" or received.startswith(b"HTTP/1.1 408 ")
    assert 1.0 <= closed_at <= 3.5


def test_idle_connection_closed_after_keep_alive(serve: Any, parser: str) -> None:
    with (
        serve(demo_app, http=parser, timeout_keep_alive=1.0) as running,
        RawConnection(running.port) as conn,
    ):
        conn.request("GET", "/")
        assert conn.read_response().body == b"hello"
        waited = seconds_until_closed(conn, limit=4.0)
    assert waited is not None, "an idle keep-alive connection was not closed"
    assert 0.5 <= waited <= 3.0


def test_silent_new_connection_closed(serve: Any, parser: str) -> None:
    with (
        serve(demo_app, http=parser, timeout_keep_alive=1.0) as running,
        RawConnection(running.port) as conn,
    ):
        waited = seconds_until_closed(conn, limit=4.0)
    assert waited is not None, "a connection that never sent a byte was not closed"
    assert 0.5 <= waited <= 3.0


def test_request_within_keep_alive_served(serve: Any, parser: str) -> None:
    with (
        serve(demo_app, http=parser, timeout_keep_alive=1.5) as running,
        RawConnection(running.port) as conn,
    ):
        for _ in range(3):
            conn.request("GET", "/")
            assert conn.read_response().body == b"hello"
            time.sleep(0.5)


def test_slow_app_not_timed_out(serve: Any, parser: str) -> None:
    """No deadline applies while the app works, however short the timeouts."""
    with (
        serve(
            delay_by_query_app, http=parser, timeout_keep_alive=0.5, timeout_header=0.5
        ) as running,
        RawConnection(running.port) as conn,
    ):
        conn.request("GET", "/late?2.0")
        assert conn.read_response().body == b"/late"


# Half-closed and vanishing clients.


@pytest.mark.parametrize("loop", LOOPS)
def test_half_close_after_request_gets_response(serve: Any, parser: str, loop: str) -> None:
    with (
        serve(delay_by_query_app, http=parser, loop=loop) as running,
        RawConnection(running.port) as conn,
    ):
        conn.request("GET", "/after-half-close?0.2")
        conn.sock.shutdown(socket.SHUT_WR)
        response = conn.read_response()
        rest = conn.read_until_closed()
    assert response.body == b"/after-half-close"
    assert rest == b""


@pytest.mark.parametrize("loop", LOOPS)
def test_half_close_streamed_response(serve: Any, parser: str, loop: str) -> None:
    with serve(demo_app, http=parser, loop=loop) as running, RawConnection(running.port) as conn:
        conn.send(build_request("POST", "/stream?200", body=b"x"))
        conn.sock.shutdown(socket.SHUT_WR)
        response = conn.read_response()
        rest = conn.read_until_closed()
    assert response.body == b"".join(b"chunk-%d\n" % i for i in range(200))
    assert rest == b""


@pytest.mark.parametrize("loop", LOOPS)
def test_disconnect_mid_request_body(serve: Any, parser: str, loop: str, tmp_path: Path) -> None:
    app = BodyCountingApp(FileQueue(tmp_path / "outcome"))
    with serve(app, http=parser, loop=loop) as running:
        with RawConnection(running.port) as conn:
            conn.send(build_request("POST", "/upload", body=b"x" * 100_000)[:-99_000])
            time.sleep(0.2)
        assert app.outcome.get(timeout=5) == "http.disconnect after 1000 bytes"
        if workers_in_this_process(running):
            assert wait_for(lambda: connection_count(running) == 0)


@pytest.mark.parametrize("loop", LOOPS)
def test_disconnect_while_app_waits_after_body(
    serve: Any, parser: str, loop: str, tmp_path: Path
) -> None:
    """An app that listens for the disconnect (long polling) hears it."""
    app = ReceiveTwiceApp(FileQueue(tmp_path / "outcome"))

    with serve(app, http=parser, loop=loop) as running:
        with RawConnection(running.port) as conn:
            conn.request("POST", "/poll", body=b"hi")
            time.sleep(0.2)
        assert app.outcome.get(timeout=5) == "http.request then http.disconnect"


@pytest.mark.parametrize("loop", LOOPS)
def test_disconnect_mid_streaming_response(
    serve: Any, parser: str, loop: str, tmp_path: Path
) -> None:
    app = StreamUntilDisconnectApp(FileQueue(tmp_path / "outcome"))

    with serve(app, http=parser, loop=loop) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/")
            head = conn.read_head()
            assert head.status == 200
            conn.sock.recv(65536)
        assert app.outcome.get(timeout=10) == "send raised ClientDisconnected"
        if workers_in_this_process(running):
            assert wait_for(lambda: connection_count(running) == 0)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.in_process("the test counts the workers' connections and tasks")
def test_abrupt_disconnects_leave_nothing_behind(serve: Any, parser: str, loop: str) -> None:
    """Two hundred clients that vanish at every stage leave no connection and no task."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body", False):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(20):
            await send({"type": "http.response.body", "body": b"y" * 4096, "more_body": True})
            await asyncio.sleep(0.001)
        await send({"type": "http.response.body", "body": b""})

    stages = [
        b"",
        b"GET / HTTP/1.1\r\nHo",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nsome",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        build_request("GET", "/"),
    ]
    with serve(app, http=parser, loop=loop) as running:
        baseline = task_count(running)
        for index in range(200):
            conn = RawConnection(running.port)
            data = stages[index % len(stages)]
            if data:
                conn.send(data)
            if index % 2:
                conn.reset()
            else:
                conn.close()
        assert wait_for(lambda: connection_count(running) == 0, timeout=10)
        assert wait_for(lambda: task_count(running) == baseline, timeout=10), (
            f"{task_count(running)} tasks left, {baseline} before"
        )
        with RawConnection(running.port) as fresh:
            fresh.request("GET", "/")
            assert fresh.read_response().status == 200


# Request bodies the app did not read.


def test_unread_small_body_is_drained(serve: Any, parser: str, tmp_path: Path) -> None:
    app = PathRecordingApp(FileQueue(tmp_path / "paths"))
    smuggled = build_request("GET", "/smuggled")
    with serve(app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(build_request("POST", "/first", body=smuggled))
        first = conn.read_response()
        conn.request("GET", "/second")
        second = conn.read_response()
    assert first.body == b"answered /first"
    assert second.body == b"answered /second"
    assert app.paths.items() == ["/first", "/second"]


def test_unread_body_sent_after_response_is_drained(
    serve: Any, parser: str, tmp_path: Path
) -> None:
    app = PathRecordingApp(FileQueue(tmp_path / "paths"))
    smuggled = build_request("GET", "/smuggled")
    chunked_head = b"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with serve(app, http=parser) as running, RawConnection(running.port) as conn:
        # The head alone: the app responds before any body byte arrives.
        conn.send(b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(smuggled))
        assert conn.read_response().body == b"answered /first"
        conn.send(smuggled)
        conn.send(chunked_head)
        assert conn.read_response().body == b"answered /chunked"
        conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled))
        conn.request("GET", "/last")
        assert conn.read_response().body == b"answered /last"
    assert app.paths.items() == ["/first", "/chunked", "/last"]


def test_unread_large_body_closes(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser, limit_unread_body=1000) as running:
        with RawConnection(running.port) as conn:
            head = b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
            conn.send(head + b"x" * 2000)
            response = conn.read_response()
            rest = conn.read_until_closed()
        with RawConnection(running.port) as fresh:
            fresh.request("GET", "/")
            assert fresh.read_response().body == b"hello"
    assert response.body == b"ignored"
    assert rest == b""


def test_unread_large_chunked_body_closes(serve: Any, parser: str) -> None:
    with (
        serve(demo_app, http=parser, limit_unread_body=1000) as running,
        RawConnection(running.port) as conn,
    ):
        conn.send(b"POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        response = conn.read_response()
        # The rest of the body comes after the response, and past the limit
        # the server stops draining and closes.
        conn.send((b"400\r\n" + b"x" * 1024 + b"\r\n") * 3)
        rest = conn.read_until_closed()
    assert response.body == b"ignored"
    assert rest == b""
