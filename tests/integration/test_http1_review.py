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
import time
from typing import Any

import pytest
from http1_apps import LOOPS, PARSERS, read_body, run_on_worker_loop, send_text, task_count
from http1_raw import RawConnection, build_request, wait_for

Scope = dict[str, Any]


# Responses the machine rejects.


async def _mismatched_length_app(scope: Scope, receive: Any, send: Any) -> None:
    """Send a Content-Length the body does not match, in the way the path names."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    length = [(b"content-length", b"10")]
    if path == "/short-whole":
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": b"hello"})
    elif path == "/short-streamed":
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/trailers-with-length":
        start = {"type": "http.response.start", "status": 200, "headers": length, "trailers": True}
        await send(start)
        await send({"type": "http.response.body", "body": b"0123456789"})
        await send({"type": "http.response.trailers", "headers": [(b"x-digest", b"abc")]})


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
    with serve(_mismatched_length_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.request("GET", path)
        received = conn.read_until_closed()
    assert received.endswith(sent_before_close)
    if sent_before_close:
        assert received.startswith(b"HTTP/1.1 200 ")


# Waits that an app gives up on.


def _outcome_of(awaitable_name: str, error: BaseException) -> str:
    return f"{awaitable_name}: {type(error).__name__}"


def _disconnect_after_timed_out_receive(outcomes: queue.Queue[str]) -> Any:
    """Return an app that gives up on one ``receive()`` while another waits for the disconnect."""

    async def wait_for_disconnect(receive: Any) -> str:
        try:
            message = await asyncio.wait_for(receive(), 10)
        except BaseException as exc:
            return _outcome_of("receive", exc)
        return str(message["type"])

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()  # The empty body.
        listener = asyncio.ensure_future(wait_for_disconnect(receive))
        await asyncio.sleep(0)
        # A common way to ask "has the client gone?" without blocking.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receive(), 0.05)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        outcomes.put(await wait_for_disconnect(receive))
        outcomes.put(await listener)

    return app


def test_receive_after_timed_out_receive(serve: Any) -> None:
    """Cancelling one wait for the disconnect must not break the others."""
    outcomes: queue.Queue[str] = queue.Queue()
    app = _disconnect_after_timed_out_receive(outcomes)
    with serve(app) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/")
            head = conn.read_head()
            assert head.status == 200
        # The app's own second wait, then the task that waited all along.
        assert outcomes.get(timeout=5) == "http.disconnect"
        assert outcomes.get(timeout=5) == "http.disconnect"


def test_concurrent_receive_gets_body(serve: Any) -> None:
    """Two tasks in ``receive()`` while the body is on its way must both return."""
    outcomes: queue.Queue[str] = queue.Queue()
    waiting = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        first = asyncio.ensure_future(receive())
        second = asyncio.ensure_future(receive())
        await asyncio.sleep(0)
        waiting.set()
        done, pending = await asyncio.wait({first, second}, timeout=3)
        for task in pending:
            task.cancel()
        outcomes.put(f"{len(done)} returned")
        bodies = sorted(task.result()["body"] for task in done)
        body = b"|".join(bodies)
        length = str(len(body)).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
        )
        await send({"type": "http.response.body", "body": body})

    with serve(app) as running, RawConnection(running.port) as conn:
        conn.send(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\n")
        assert waiting.wait(5)
        conn.send(b"data")
        response = conn.read_response()
        assert outcomes.get(timeout=5) == "2 returned"
    assert response.status == 200
    # One reader gets the body, the other the empty end of it.
    assert response.body == b"|data"


def _send_with_timeout_app(outcomes: queue.Queue[str]) -> Any:
    """Return an app that streams with a timeout on each send, and sends again after one."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = {"type": "http.response.body", "body": b"x" * 65536, "more_body": True}
        for _ in range(2000):
            try:
                await asyncio.wait_for(send(chunk), 0.2)
            except TimeoutError:
                break
        else:
            outcomes.put("the client never stopped reading")
            return
        # The client is slow, not gone: a second try must time out the same way.
        try:
            await asyncio.wait_for(send(chunk), 0.2)
        except BaseException as exc:
            outcomes.put(_outcome_of("send", exc))
            if not isinstance(exc, TimeoutError):
                raise
            return
        outcomes.put("send: completed")

    return app


def test_send_after_timed_out_send(serve: Any) -> None:
    """Cancelling one wait for the write buffer to drain must not break the next one."""
    outcomes: queue.Queue[str] = queue.Queue()
    with serve(_send_with_timeout_app(outcomes)) as running:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with client:
            # A small receive buffer fills soon, since the test never reads.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
            client.settimeout(5)
            client.connect(("127.0.0.1", running.port))
            client.sendall(build_request("GET", "/"))
            assert outcomes.get(timeout=10) == "send: TimeoutError"


# Pipelined requests and the socket.


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("loop", LOOPS)
def test_pipelined_body_arriving_late(serve: Any, parser: str, loop: str) -> None:
    """Body bytes read after the first response, before the pipelined request starts, count."""
    entered = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/first":
            entered.set()
            # Block the loop while the rest of the second body arrives, then
            # respond in the same loop pass that reads it.
            time.sleep(0.5)
            await asyncio.sleep(0)
            await send_text(send, 200, b"first")
            return
        body = await asyncio.wait_for(read_body(receive), 3)
        await send_text(send, 200, body)

    second_head = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 8\r\n\r\n"
    with serve(app, http=parser, loop=loop) as running, RawConnection(running.port) as conn:
        conn.send(build_request("GET", "/first") + second_head + b"half")
        assert entered.wait(5)
        conn.send(b"full")
        first = conn.read_response()
        second = conn.read_response()
    assert first.body == b"first"
    assert second.status == 200
    assert second.body == b"halffull"


@pytest.mark.parametrize("loop", LOOPS)
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
        context = running.server.worker.context
        assert wait_for(
            lambda: run_on_worker_loop(
                running, lambda: any(c._reading_paused for c in context.connections)
            )
        )
        conn.reset()
        reset.set()
        assert outcomes.get(timeout=5) == "first: sent"
        assert wait_for(lambda: task_count(running) == baseline), (
            f"{task_count(running)} tasks left, {baseline} before"
        )


# Graceful shutdown.


def test_shutdown_after_start_sends_close(serve: Any) -> None:
    """A head held back when shutdown begins still announces the close."""
    entered = threading.Event()
    servers: list[Any] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        entered.set()
        context = servers[0].worker.context
        for _ in range(500):
            if context.shutting_down:
                break
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"done"})

    with serve(app) as running, RawConnection(running.port) as conn:
        servers.append(running.server)
        conn.request("GET", "/")
        assert entered.wait(5)
        running.server.shutdown()
        response = conn.read_response()
        rest = conn.read_until_closed()
    assert response.body == b"done"
    # RFC 9112 §9.6: the server announces that it closes the connection.
    assert response.header("connection") == "close"
    assert rest == b""


def test_shutdown_answers_pipelined_request(serve: Any) -> None:
    """A pipelined request already parsed when shutdown begins gets its response, then the close."""
    entered = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/first":
            entered.set()
            # Block the loop while the test requests the shutdown, then let
            # it begin in the same loop pass that starts the second request.
            time.sleep(0.5)
            await asyncio.sleep(0)
        await send_text(send, 200, scope["path"].encode())

    with serve(app, loop="asyncio") as running, RawConnection(running.port) as conn:
        conn.send(build_request("GET", "/first") + build_request("GET", "/second"))
        assert entered.wait(5)
        running.server.shutdown()
        first = conn.read_response()
        second = conn.read_response()
        rest = conn.read_until_closed()
    assert first.body == b"/first"
    assert second.body == b"/second"
    # RFC 9112 §9.6: the last response announces the close.
    assert second.header("connection") == "close"
    assert rest == b""


def _background_work_app(events: queue.Queue[str], seconds: float) -> Any:
    """Return an app that works ``seconds`` after each response and reports lifespan shutdown."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    events.put("lifespan shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send_text(send, 200, b"accepted")
        # Work after the response, as background tasks of frameworks do.
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            events.put("background work cancelled")
            raise
        events.put("background work finished")

    return app


def test_shutdown_waits_for_work_after_response(serve: Any) -> None:
    """An app still running after its response finishes before lifespan shutdown."""
    events: queue.Queue[str] = queue.Queue()
    with serve(_background_work_app(events, 0.5)) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/")
            assert conn.read_response().body == b"accepted"
        running.server.shutdown()
        assert running.server.wait_stopped(10)
    assert events.get(timeout=1) == "background work finished"
    assert events.get(timeout=1) == "lifespan shutdown"


def test_shutdown_cancels_work_past_grace(serve: Any) -> None:
    """Work that outlasts the grace period is cancelled before lifespan shutdown."""
    events: queue.Queue[str] = queue.Queue()
    app = _background_work_app(events, 30)
    with serve(app, timeout_graceful_shutdown=0.5) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/")
            assert conn.read_response().body == b"accepted"
        running.server.shutdown()
        assert running.server.wait_stopped(10)
    assert events.get(timeout=1) == "background work cancelled"
    assert events.get(timeout=1) == "lifespan shutdown"


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
def test_eof_after_extra_bytes_reaches_app(serve: Any, parser: str) -> None:
    """A client that leaves after bytes beyond its request is still heard leaving."""
    outcomes: queue.Queue[str] = queue.Queue()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        # A long poll: nothing to send until the client goes away.
        try:
            message = await asyncio.wait_for(receive(), 5)
        except TimeoutError:
            outcomes.put("no disconnect within 5 seconds")
            return
        outcomes.put(str(message["type"]))

    with serve(app, http=parser) as running, RawConnection(running.port) as conn:
        # Some clients end a POST body with an extra CRLF.
        conn.send(build_request("POST", "/poll", body=b"x") + b"\r\n")
        conn.sock.shutdown(socket.SHUT_WR)
        assert outcomes.get(timeout=10) == "http.disconnect"


@pytest.mark.parametrize("parser", PARSERS)
def test_half_close_after_pipeline_answers_all(serve: Any, parser: str) -> None:
    """Hearing the EOF early must not drop the pipelined requests a half-closed client sent."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            await asyncio.sleep(0.2)
        await send_text(send, 200, scope["path"].encode())

    with serve(app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(build_request("GET", "/slow") + build_request("GET", "/next"))
        conn.sock.shutdown(socket.SHUT_WR)
        first = conn.read_response()
        second = conn.read_response()
        rest = conn.read_until_closed()
    assert first.body == b"/slow"
    assert second.body == b"/next"
    assert rest == b""


@pytest.mark.parametrize("loop", LOOPS)
def test_eof_after_pipelined_request_reaches_app(serve: Any, loop: str) -> None:
    """Holding a pipelined request back must not hide the client leaving from a long poll."""
    outcomes: queue.Queue[str] = queue.Queue()
    entered = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/poll":
            if scope["type"] == "http":
                await send_text(send, 200, b"next")
            return
        await read_body(receive)
        entered.set()
        try:
            message = await asyncio.wait_for(receive(), 5)
        except TimeoutError:
            outcomes.put("no disconnect within 5 seconds")
            return
        outcomes.put(str(message["type"]))

    with serve(app, loop=loop) as running, RawConnection(running.port) as conn:
        conn.request("GET", "/poll")
        assert entered.wait(5)
        # Arrives while the long poll runs, so the server keeps it back.
        conn.request("GET", "/next")
        conn.close()
        assert outcomes.get(timeout=10) == "http.disconnect"
