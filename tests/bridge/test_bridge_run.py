"""HTTPCycle.run: calling the app and handling what it leaves undone."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from bridge_doubles import FakeSink, FakeSource, body, make_cycle, start

from pounce_asgi_bridge import ClientDisconnected, HTTPCycle, Message, Receive, Scope, Send

ERROR_500 = [
    (
        "start",
        500,
        [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21")],
        False,
    ),
    ("body", b"Internal Server Error", False),
]


def run_app(app: Any, cycle: HTTPCycle) -> None:
    asyncio.run(cycle.run(app))


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "pounce.bridge" and r.levelno >= logging.ERROR]


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    received = b""
    while True:
        message = await receive()
        received += message["body"]
        if not message["more_body"]:
            break
    await send(start(200, [(b"content-type", b"application/octet-stream")]))
    await send(body(received))


def test_app_sees_scope_and_callables() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen["scope"] = scope
        seen["receive"] = receive
        seen["send"] = send
        await send(start())
        await send(body())

    cycle, _, _ = make_cycle()
    run_app(app, cycle)
    assert seen["scope"]["type"] == "http"
    assert seen["receive"] == cycle.receive
    assert seen["send"] == cycle.send


def test_echo_app(caplog: pytest.LogCaptureFixture) -> None:
    cycle, _, sink = make_cycle(FakeSource([b"ab", b"cd"]))
    run_app(echo_app, cycle)
    assert sink.calls == [
        ("start", 200, [(b"content-type", b"application/octet-stream")], False),
        ("body", b"abcd", False),
    ]
    assert cycle.response_complete
    assert error_records(caplog) == []


def test_error_before_start_sends_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.calls == ERROR_500
    assert cycle.status == 500
    assert cycle.response_complete

    [record] = error_records(caplog)
    assert "ASGI application raised an exception" in record.getMessage()
    assert "GET '/'" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


def test_misuse_before_start_sends_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(body(b"no head"))

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.calls == ERROR_500
    [record] = error_records(caplog)
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_bad_header_sends_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200, [(b"location", b"/x\r\nset-cookie: a=b")]))

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.calls == ERROR_500


def test_error_after_start_aborts(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"partial", True))
        raise KeyError("late")

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.kinds == ["start", "body", "abort"]
    assert cycle.status == 200
    assert not cycle.response_complete
    [record] = error_records(caplog)
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], KeyError)


def test_error_after_start_before_body_aborts() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        raise ValueError("no body")

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.kinds == ["start", "abort"]


def test_error_after_complete_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"done"))
        raise ValueError("after the end")

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.kinds == ["start", "body"]
    assert cycle.response_complete
    assert len(error_records(caplog)) == 1


def test_return_without_response_sends_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.calls == ERROR_500
    [record] = error_records(caplog)
    assert "returned without sending a response" in record.getMessage()


def test_return_after_start_aborts(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"more to come", True))

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.kinds == ["start", "body", "abort"]
    [record] = error_records(caplog)
    assert "state 'sending http.response.body'" in record.getMessage()


def test_return_without_announced_trailers_aborts(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(trailers=True))
        await send(body(b"all"))

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.kinds == ["start", "body", "abort"]
    [record] = error_records(caplog)
    assert "awaiting http.response.trailers" in record.getMessage()


def test_send_after_abort_raises_disconnected() -> None:
    sends: list[Send] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        sends.append(send)
        await send(start())

    async def scenario() -> None:
        cycle, _, _ = make_cycle()
        await cycle.run(app)
        with pytest.raises(ClientDisconnected):
            await sends[0](body())

    asyncio.run(scenario())


def test_client_disconnected_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        await send(body(b"x", True))

    caplog.set_level(logging.DEBUG, logger="pounce.bridge")
    cycle, _, sink = make_cycle(sink=FakeSink(disconnect_on="body"))
    run_app(app, cycle)

    assert sink.kinds == ["start", "body"]
    assert error_records(caplog) == []
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 1
    assert "Client disconnected" in debug[0].getMessage()
    assert not cycle.response_complete


def test_client_disconnected_before_start_no_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())

    cycle, _, sink = make_cycle(sink=FakeSink(disconnect_on="start"))
    run_app(app, cycle)
    assert sink.kinds == ["start"]
    assert error_records(caplog) == []


def test_app_catching_disconnect_and_returning(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        try:
            await send(body(b"x", True))
        except OSError:
            return

    cycle, _, sink = make_cycle(sink=FakeSink(disconnect_on="body"))
    run_app(app, cycle)
    assert sink.kinds == ["start", "body"]
    assert error_records(caplog) == []


def test_client_disconnected_raised_by_app_itself_aborts(caplog: pytest.LogCaptureFixture) -> None:
    # The sink never raised, so the connection may still be open: the bridge
    # closes it rather than leave a half-sent response.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start())
        raise ClientDisconnected("another connection's client left")

    cycle, _, sink = make_cycle()
    run_app(app, cycle)
    assert sink.kinds == ["start", "abort"]
    assert error_records(caplog) == []


def test_custom_logger(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    logger = logging.getLogger("tests.bridge.custom")
    cycle, _, _ = make_cycle(logger=logger)
    run_app(app, cycle)
    assert [r.name for r in caplog.records if r.levelno >= logging.ERROR] == ["tests.bridge.custom"]


def test_500_when_sink_disconnects(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    cycle, _, sink = make_cycle(sink=FakeSink(disconnect_on="body"))
    run_app(app, cycle)
    assert sink.kinds == ["start", "body"]
    assert not cycle.response_complete
    assert len(error_records(caplog)) == 1


def test_500_when_sink_fails(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenSink(FakeSink):
        async def body(self, data: bytes, more_body: bool) -> None:
            raise RuntimeError("server bug")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    cycle, _, sink = make_cycle(sink=BrokenSink())
    run_app(app, cycle)
    assert sink.kinds == ["start", "abort"]
    messages = [r.getMessage() for r in error_records(caplog)]
    assert len(messages) == 2
    assert "Sending the 500 response" in messages[1]


def test_cancellation_propagates() -> None:
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started.set()
        await asyncio.sleep(3600)

    async def scenario() -> None:
        cycle, _, sink = make_cycle()
        task = asyncio.create_task(cycle.run(app))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sink.calls == []

    asyncio.run(scenario())


def test_receive_disconnect_during_long_poll() -> None:
    messages: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        messages.append(await receive())
        messages.append(await receive())
        await send(start())
        await send(body())

    async def scenario() -> None:
        source = FakeSource([b"x"])
        cycle, _, _ = make_cycle(source)
        task = asyncio.create_task(cycle.run(app))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(messages) == 1
        source.disconnected.set()
        await task

    asyncio.run(scenario())
    assert messages[1] == {"type": "http.disconnect"}
