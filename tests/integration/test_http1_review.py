"""Edge cases of the HTTP/1.1 connection handler: responses the machine rejects, waits
that an app cancels, pipelined requests racing the socket, graceful shutdown mid-request,
and the client's EOF behind extra bytes.

Each test bounds its waits, so a connection left open or an app left waiting
fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import queue
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from cross_process import FileEvent, FileQueue
from http1_apps import delay_by_query_app, mismatched_length_app, send_text
from http1_params import LOOPS, PARSERS
from http1_raw import RawConnection, build_request, wait_for
from reporting_apps import (
    BackgroundWorkApp,
    ConcurrentReceiveApp,
    LongPollApp,
    LoopBlockingApp,
    PipelinedEchoApp,
    SendWithTimeoutApp,
    TimedOutReceiveApp,
)
from worker_probes import run_on_worker_loop, task_count, workers_of

Scope = dict[str, Any]


# Responses the machine rejects.


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("path", "sent_before_close"),
    [
        # Nothing of a whole response goes out when the machine rejects it.
        ("/short-whole", b""),
        # A streamed body is cut short, and the close signals it to the client.
        ("/short-streamed", b"hello"),
        # The body is whole, but the trailers could not be framed.
        ("/trailers-with-length", b"0123456789"),
    ],
)
def test_rejected_response_closes_connection(
    serve: Any, parser: str, path: str, sent_before_close: bytes
) -> None:
    """A last body piece or trailers the machine rejects must not leave the client waiting."""
    with serve(mismatched_length_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.request("GET", path)
        received = conn.read_until_closed()
    assert received.endswith(sent_before_close)
    if sent_before_close:
        assert received.startswith(b"HTTP/1.1 200 ")


# Waits that an app gives up on.


def test_receive_after_timed_out_receive(serve: Any, tmp_path: Path) -> None:
    """Cancelling one wait for the disconnect must not break the others."""
    app = TimedOutReceiveApp(FileQueue(tmp_path / "outcome"))
    with serve(app) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/")
            head = conn.read_head()
            assert head.status == 200
        # The app's own second wait, then the task that waited all along.
        assert app.outcome.get(timeout=5) == "http.disconnect"
        assert app.outcome.get(timeout=5) == "http.disconnect"


def test_concurrent_receive_gets_body(serve: Any, tmp_path: Path) -> None:
    """Two tasks in ``receive()`` while the body is on its way must both return."""
    app = ConcurrentReceiveApp(FileEvent(tmp_path / "waiting"), FileQueue(tmp_path / "outcome"))
    with serve(app) as running, RawConnection(running.port) as conn:
        conn.send(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\n")
        assert app.waiting.wait(5)
        conn.send(b"data")
        response = conn.read_response()
        assert app.outcome.get(timeout=5) == "2 returned"
    assert response.status == 200
    # One reader gets the body, the other the empty end of it.
    assert response.body == b"|data"


def test_send_after_timed_out_send(serve: Any, tmp_path: Path) -> None:
    """Cancelling one wait for the write buffer to drain must not break the next one."""
    app = SendWithTimeoutApp(FileQueue(tmp_path / "outcome"))
    with serve(app) as running:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with client:
            # A small receive buffer fills soon, since the test never reads.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            client.settimeout(5)
            client.connect(("127.0.0.1", running.port))
            client.sendall(build_request("GET", "/"))
            assert app.outcome.get(timeout=10) == "send: TimeoutError"


# Pipelined requests and the socket.


def reading_paused(worker: Any) -> bool:
    """Return whether any connection of ``worker`` has stopped reading."""
    context = worker.context
    return run_on_worker_loop(worker, lambda: any(c._reading_paused for c in context.connections))


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("loop", LOOPS)
def test_pipelined_body_arriving_late(serve: Any, parser: str, loop: str, tmp_path: Path) -> None:
    """Body bytes read after the first response, before the pipelined request starts, count."""
    app = PipelinedEchoApp(FileEvent(tmp_path / "entered"))
    second_head = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 8\r\n\r\n"
    with serve(app, http=parser, loop=loop) as running, RawConnection(running.port) as conn:
        conn.send(build_request("GET", "/first") + second_head + b"half")
        assert app.entered.wait(5)
        conn.send(b"full")
        first = conn.read_response()
        second = conn.read_response()
    assert first.body == b"first"
    assert second.status == 200
    assert second.body == b"halffull"


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.in_process("the test reads the worker's connection state and counts its tasks")
def test_pipelined_request_after_reset(serve: Any, loop: str) -> None:
    """A pipelined request must not start once its connection is gone."""
    outcomes: queue.Queue[str] = queue.Queue()
    entered, reset = threading.Event(), threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/first":
            entered.set()
            while not reset.is_set():
                await asyncio.sleep(0.01)
            # The client reset the connection, which only this write finds out.
            await send_text(send, 200, b"first")
            outcomes.put("first: sent")
            return
        await receive()
        message = await receive()
        outcomes.put(f"second: {message['type']}")

    with serve(app, loop=loop) as running:
        baseline = task_count(running)
        conn = RawConnection(running.port)
        conn.request("GET", "/first")
        assert entered.wait(5)
        # While the first request runs, the server keeps the second and stops
        # reading, so only the first response's write can find the reset.
        conn.request("GET", "/second")
        assert wait_for(lambda: any(reading_paused(worker) for worker in workers_of(running)))
        conn.reset()
        reset.set()
        assert outcomes.get(timeout=5) == "first: sent"
        assert wait_for(lambda: task_count(running) == baseline), (
            f"{task_count(running)} tasks left, {baseline} before"
        )


# Graceful shutdown.


@pytest.mark.in_process("the app watches its worker's context for the shutdown")
def test_shutdown_after_start_sends_close(serve: Any) -> None:
    """A head held back when shutdown begins still announces the close."""
    entered = threading.Event()
    servers: list[Any] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        entered.set()
        # The worker whose loop runs this app.
        loop = asyncio.get_running_loop()
        worker = next(worker for worker in workers_of(servers[0]) if worker.loop is loop)
        context = worker.context
        for _ in range(500):
            if context.shutting_down:
                break
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"done"})

    with serve(app) as running, RawConnection(running.port) as conn:
        servers.append(running)
        conn.request("GET", "/")
        assert entered.wait(5)
        running.server.shutdown()
        response = conn.read_response()
        rest = conn.read_until_closed()
    assert response.body == b"done"
    # RFC 9112 §9.6: the server announces that it closes the connection.
    assert response.header("connection") == "close"
    assert rest == b""


def test_shutdown_answers_pipelined_request(serve: Any, tmp_path: Path) -> None:
    """A pipelined request already parsed when shutdown begins gets its response, then the close."""
    app = LoopBlockingApp(FileEvent(tmp_path / "entered"))
    with serve(app, loop="asyncio") as running, RawConnection(running.port) as conn:
        conn.send(build_request("GET", "/first") + build_request("GET", "/second"))
        assert app.entered.wait(5)
        running.server.shutdown()
        first = conn.read_response()
        second = conn.read_response()
        rest = conn.read_until_closed()
    assert first.body == b"/first"
    assert second.body == b"/second"
    # RFC 9112 §9.6: the last response announces the close.
    assert second.header("connection") == "close"
    assert rest == b""


def events_of_working_process(events: FileQueue) -> list[str]:
    """Return the events of the process that did the background work, in order.

    Process workers each run lifespan, so the other processes' lifespan
    shutdown may come before the work ends. Only the order within the
    process that worked counts. Thread workers share one lifespan, which
    runs in the process of every worker.
    """
    lines = [line.split(" ", 1) for line in events.items()]
    working = {pid for pid, event in lines if event.startswith("background work")}
    assert len(working) == 1, lines
    return [event for pid, event in lines if pid in working]


def test_shutdown_waits_for_work_after_response(serve: Any, tmp_path: Path) -> None:
    """An app still running after its response finishes before lifespan shutdown."""
    app = BackgroundWorkApp(FileQueue(tmp_path / "events"), 0.5)
    with serve(app) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/")
            assert conn.read_response().body == b"accepted"
        running.server.shutdown()
        assert running.server.wait_stopped(10)
    assert events_of_working_process(app.events) == [
        "background work finished",
        "lifespan shutdown",
    ]


def test_shutdown_cancels_work_past_grace(serve: Any, tmp_path: Path) -> None:
    """Work that outlasts the grace period is cancelled before lifespan shutdown."""
    app = BackgroundWorkApp(FileQueue(tmp_path / "events"), 30)
    with serve(app, timeout_graceful_shutdown=0.5) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/")
            assert conn.read_response().body == b"accepted"
        running.server.shutdown()
        assert running.server.wait_stopped(10)
    assert events_of_working_process(app.events) == [
        "background work cancelled",
        "lifespan shutdown",
    ]


@pytest.mark.in_process("the test reads asyncio's log records with caplog")
def test_shutdown_ends_with_task_ignoring_cancel(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An app task that swallows its cancellation cannot keep the worker from stopping."""
    entered = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send_text(send, 200, b"accepted")
        entered.set()
        # A retry loop that also catches its cancellation, for a while.
        for _ in range(3):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    with serve(app, timeout_graceful_shutdown=0.5) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/")
            assert conn.read_response().body == b"accepted"
        assert entered.wait(5)
        running.server.shutdown()
        assert running.server.wait_stopped(10)
    # The abandoned task is logged once by the worker, not again by asyncio
    # when it is collected (that second report would land in a random test).
    del running
    gc.collect()
    destroyed = [r for r in caplog.records if "Task was destroyed" in r.getMessage()]
    assert destroyed == []


# The end of the client's input.


@pytest.mark.parametrize("parser", PARSERS)
def test_eof_after_extra_bytes_reaches_app(serve: Any, parser: str, tmp_path: Path) -> None:
    """A client that leaves after bytes beyond its request is still heard leaving."""
    app = LongPollApp(FileEvent(tmp_path / "entered"), FileQueue(tmp_path / "outcome"))
    with serve(app, http=parser) as running, RawConnection(running.port) as conn:
        # Some clients end a POST body with an extra CRLF.
        conn.send(build_request("POST", "/poll", body=b"x") + b"\r\n")
        conn.sock.shutdown(socket.SHUT_WR)
        assert app.outcome.get(timeout=10) == "http.disconnect"


@pytest.mark.parametrize("parser", PARSERS)
def test_half_close_after_pipeline_answers_all(serve: Any, parser: str) -> None:
    """Hearing the EOF early must not drop the pipelined requests a half-closed client sent."""
    with serve(delay_by_query_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(build_request("GET", "/slow?0.2") + build_request("GET", "/next"))
        conn.sock.shutdown(socket.SHUT_WR)
        first = conn.read_response()
        second = conn.read_response()
        rest = conn.read_until_closed()
    assert first.body == b"/slow"
    assert second.body == b"/next"
    assert rest == b""


@pytest.mark.parametrize("loop", LOOPS)
def test_eof_after_pipelined_request_reaches_app(serve: Any, loop: str, tmp_path: Path) -> None:
    """Holding a pipelined request back must not hide the client leaving from a long poll."""
    app = LongPollApp(FileEvent(tmp_path / "entered"), FileQueue(tmp_path / "outcome"))
    with serve(app, loop=loop) as running, RawConnection(running.port) as conn:
        conn.request("GET", "/poll")
        assert app.entered.wait(5)
        # Arrives while the long poll runs, so the server keeps it back.
        conn.request("GET", "/next")
        conn.close()
        assert app.outcome.get(timeout=10) == "http.disconnect"
