"""HTTPCycle.send: the response state machine and header validation."""

from __future__ import annotations

import asyncio
import http
from typing import Any

import pytest
from bridge_doubles import FakeSink, body, make_cycle, start, trailers

from pounce_asgi_bridge import ClientDisconnected, HTTPCycle, Message


def send_all(messages: list[Message], sink: FakeSink | None = None) -> tuple[HTTPCycle, FakeSink]:
    """Send the messages in order and return the cycle and its sink."""
    cycle, _, sink = make_cycle(sink=sink)

    async def scenario() -> None:
        for message in messages:
            await cycle.send(message)

    asyncio.run(scenario())
    return cycle, sink


def send_expecting(
    messages: list[Message], error: type[Exception], match: str
) -> tuple[HTTPCycle, FakeSink]:
    """Send all but the last message, then check that the last one raises."""
    cycle, _, sink = make_cycle()

    async def scenario() -> None:
        for message in messages[:-1]:
            await cycle.send(message)
        with pytest.raises(error, match=match):
            await cycle.send(messages[-1])

    asyncio.run(scenario())
    return cycle, sink


def test_simple_response() -> None:
    cycle, sink = send_all([start(200, [(b"content-type", b"text/plain")]), body(b"hi")])
    assert sink.calls == [
        ("start", 200, [(b"content-type", b"text/plain")], False),
        ("body", b"hi", False),
    ]
    assert cycle.response_started
    assert cycle.response_complete
    assert cycle.status == 200


def test_status_and_flags_before_start() -> None:
    cycle, _, _ = make_cycle()
    assert not cycle.response_started
    assert not cycle.response_complete
    assert cycle.status is None


def test_defaults_for_optional_keys() -> None:
    _, sink = send_all(
        [{"type": "http.response.start", "status": 204}, {"type": "http.response.body"}]
    )
    assert sink.calls == [("start", 204, [], False), ("body", b"", False)]


def test_streamed_body() -> None:
    cycle, sink = send_all([start(), body(b"a", True), body(b"", True), body(b"b", True), body()])
    assert sink.kinds == ["start", "body", "body", "body", "body"]
    assert sink.body_bytes == b"ab"
    assert [call[2] for call in sink.calls[1:]] == [True, True, True, False]
    assert cycle.response_complete


def test_started_but_not_complete() -> None:
    cycle, _ = send_all([start(), body(b"a", True)])
    assert cycle.response_started
    assert not cycle.response_complete


def test_http_status_enum_accepted() -> None:
    cycle, sink = send_all([start(http.HTTPStatus.NOT_FOUND), body()])
    assert sink.calls[0][1] == 404
    assert type(sink.calls[0][1]) is int
    assert cycle.status == 404


def test_bytearray_and_memoryview_bodies() -> None:
    _, sink = send_all([start(), body(bytearray(b"ab"), True), body(memoryview(b"cd"))])  # type: ignore[arg-type]
    assert [call[1] for call in sink.calls[1:]] == [b"ab", b"cd"]
    assert all(type(call[1]) is bytes for call in sink.calls[1:])


# --- order violations -------------------------------------------------------


def test_body_before_start() -> None:
    _, sink = send_expecting(
        [body(b"x")],
        RuntimeError,
        r"Unexpected ASGI message 'http.response.body' in state "
        r"'awaiting http.response.start'; expected 'http.response.start'",
    )
    assert sink.calls == []


def test_second_start() -> None:
    _, sink = send_expecting(
        [start(), start()],
        RuntimeError,
        r"Unexpected ASGI message 'http.response.start' in state 'sending http.response.body'",
    )
    assert sink.kinds == ["start"]


def test_start_after_complete() -> None:
    send_expecting(
        [start(), body(), start()],
        RuntimeError,
        r"'http.response.start' in state 'response complete'; the response is already complete",
    )


def test_body_after_complete() -> None:
    _, sink = send_expecting(
        [start(), body(b"a"), body(b"b")],
        RuntimeError,
        r"'http.response.body' in state 'response complete'",
    )
    assert sink.body_bytes == b"a"


def test_trailers_without_announcement() -> None:
    send_expecting(
        [start(), body(b"a", True), trailers([(b"x-checksum", b"1")])],
        RuntimeError,
        r"'http.response.trailers' in state 'sending http.response.body'",
    )


def test_trailers_before_body_ended() -> None:
    send_expecting(
        [start(trailers=True), body(b"a", True), trailers([])],
        RuntimeError,
        r"'http.response.trailers' in state 'sending http.response.body before trailers'",
    )


def test_trailers_before_start() -> None:
    send_expecting(
        [trailers([])],
        RuntimeError,
        r"'http.response.trailers' in state 'awaiting http.response.start'",
    )


def test_body_after_announced_trailers_body_ended() -> None:
    send_expecting(
        [start(trailers=True), body(b"a"), body(b"b")],
        RuntimeError,
        r"'http.response.body' in state 'awaiting http.response.trailers'; "
        r"expected 'http.response.trailers'",
    )


def test_trailers_after_complete() -> None:
    send_expecting(
        [start(trailers=True), body(), trailers([]), trailers([])],
        RuntimeError,
        r"'http.response.trailers' in state 'response complete'",
    )


def test_unknown_message_type() -> None:
    send_expecting(
        [{"type": "websocket.send", "text": "hi"}],
        RuntimeError,
        r"Unexpected ASGI message 'websocket.send' in state 'awaiting http.response.start'",
    )


def test_message_without_type() -> None:
    send_expecting(
        [{"status": 200}],
        RuntimeError,
        r"ASGI message has no 'type' key in state 'awaiting http.response.start'",
    )


# --- status and body validation ----------------------------------------------


@pytest.mark.parametrize("status", [100, 101, 103, 199])
def test_informational_status_rejected(status: int) -> None:
    _, sink = send_expecting([start(status)], RuntimeError, r"informational \(1xx\)")
    assert sink.calls == []


@pytest.mark.parametrize("status", [0, 99, 600, 1000, -200])
def test_out_of_range_status_rejected(status: int) -> None:
    send_expecting([start(status)], RuntimeError, rf"Invalid status {status} .*expected 200 to 599")


@pytest.mark.parametrize("status", ["200", 200.0, None, True])
def test_non_int_status_rejected(status: Any) -> None:
    send_expecting([start(status)], RuntimeError, r"Invalid status .*expected an int")


def test_rejected_start_keeps_state() -> None:
    # After a bad head the app may still send a good one.
    cycle, _, sink = make_cycle()

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            await cycle.send(start(99))
        await cycle.send(start(200))
        await cycle.send(body(b"ok"))

    asyncio.run(scenario())
    assert sink.kinds == ["start", "body"]
    assert cycle.response_complete


def test_non_bytes_body_rejected() -> None:
    send_expecting(
        [start(), {"type": "http.response.body", "body": "text"}],
        RuntimeError,
        r"expected bytes, got str",
    )


# --- header validation ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (b"a\rb", "CR"),
        (b"a\nb", "LF"),
        (b"a\x00b", "NUL"),
        (b"a\r\nset-cookie: x=1", "CRLF"),
    ],
)
def test_header_value_with_forbidden_byte(value: bytes, label: str) -> None:
    _, sink = send_expecting(
        [start(200, [(b"x-ok", b"1"), (b"x-bad", value)])],
        RuntimeError,
        r"Invalid response header b'x-bad': the value contains CR, LF or NUL",
    )
    assert sink.calls == [], label


@pytest.mark.parametrize("name", [b"", b"x bad", b"x:y", b"x\rz", b"caf\xc3\xa9", b"(x)", b"x/y"])
def test_header_name_not_token(name: bytes) -> None:
    send_expecting(
        [start(200, [(name, b"v")])],
        RuntimeError,
        r"Invalid response header name .*: a name must be a non-empty token",
    )


@pytest.mark.parametrize(
    "header",
    [("x-str", b"v"), (b"x-str", "v"), (b"x-int", 1), (b"x", bytearray(b"v")), b"xy"],
)
def test_header_not_bytes(header: Any) -> None:
    send_expecting(
        [start(200, [(b"x-ok", b"1"), header])],
        RuntimeError,
        r"Invalid response header .* at index 1: name and value must be bytes",
    )


@pytest.mark.parametrize("header", [(b"x",), (b"x", b"y", b"z"), b"xyz", 5, None])
def test_header_not_a_pair(header: Any) -> None:
    send_expecting(
        [start(200, [header])], RuntimeError, r"Invalid response header at index 0: expected a"
    )


def test_headers_not_iterable() -> None:
    send_expecting([start(200, 5)], RuntimeError, r"Invalid response headers: expected a list")  # type: ignore[arg-type]


def test_uppercase_names_lowercased() -> None:
    app_headers = [(b"content-type", b"text/plain"), (b"X-Request-ID", b"Abc")]
    _, sink = send_all([start(200, app_headers), body()])
    assert sink.calls[0][2] == [(b"content-type", b"text/plain"), (b"x-request-id", b"Abc")]
    assert app_headers[1] == (b"X-Request-ID", b"Abc")


def test_list_pairs_and_tuples_accepted() -> None:
    _, sink = send_all([start(200, ([b"a", b"1"], (b"b", b"2"))), body()])  # type: ignore[arg-type]
    assert sink.calls[0][2] == [(b"a", b"1"), (b"b", b"2")]


def test_valid_list_passed_through() -> None:
    headers = [(b"content-type", b"text/plain"), (b"x-tab", b"a\tb"), (b"x-high", b"\xe9")]
    _, sink = send_all([start(200, headers), body()])
    assert sink.calls[0][2] is headers


def test_every_token_char_accepted() -> None:
    name = b"!#$%&'*+-.^_`|~09az"
    _, sink = send_all([start(200, [(name, b"v")]), body()])
    assert sink.calls[0][2] == [(name, b"v")]


# --- trailers ---------------------------------------------------------------


def test_trailers_flow() -> None:
    cycle, sink = send_all(
        [
            start(200, [(b"trailer", b"x-checksum")], trailers=True),
            body(b"data", True),
            body(b""),
            trailers([(b"X-Checksum", b"abc")]),
        ]
    )
    assert sink.calls == [
        ("start", 200, [(b"trailer", b"x-checksum")], True),
        ("body", b"data", True),
        ("body", b"", False),
        ("trailers", [(b"x-checksum", b"abc")]),
    ]
    assert cycle.response_complete


def test_trailers_in_pieces_are_joined() -> None:
    cycle, sink = send_all(
        [
            start(trailers=True),
            body(),
            trailers([(b"a", b"1")], more_trailers=True),
            {"type": "http.response.trailers", "more_trailers": True},
            trailers([(b"b", b"2")]),
        ]
    )
    assert sink.calls[-1] == ("trailers", [(b"a", b"1"), (b"b", b"2")])
    assert sink.kinds.count("trailers") == 1
    assert cycle.response_complete


def test_announced_trailers_incomplete_until_sent() -> None:
    cycle, _ = send_all([start(trailers=True), body(b"all")])
    assert not cycle.response_complete


def test_trailer_value_validated() -> None:
    send_expecting(
        [start(trailers=True), body(), trailers([(b"x-sum", b"1\r\n2")])],
        RuntimeError,
        r"Invalid response trailer b'x-sum': the value contains CR, LF or NUL",
    )


# --- client disconnect --------------------------------------------------------


def test_disconnect_from_sink_body_propagates() -> None:
    cycle, _, sink = make_cycle(sink=FakeSink(disconnect_on="body"))

    async def scenario() -> None:
        await cycle.send(start())
        with pytest.raises(ClientDisconnected):
            await cycle.send(body(b"x", True))
        with pytest.raises(ClientDisconnected):
            await cycle.send(body(b"y"))

    asyncio.run(scenario())
    assert sink.kinds == ["start", "body"]
    assert not cycle.response_complete


def test_disconnect_is_an_oserror() -> None:
    # ASGI spec 2.4 lets send raise an OSError once the client has gone.
    assert issubclass(ClientDisconnected, OSError)


def test_disconnect_from_sink_start_propagates() -> None:
    cycle, _, sink = make_cycle(sink=FakeSink(disconnect_on="start"))

    async def scenario() -> None:
        with pytest.raises(ClientDisconnected):
            await cycle.send(start())
        with pytest.raises(ClientDisconnected):
            await cycle.send(body())

    asyncio.run(scenario())
    assert sink.kinds == ["start"]


def test_disconnect_from_sink_trailers_propagates() -> None:
    cycle, _, _ = make_cycle(sink=FakeSink(disconnect_on="trailers"))

    async def scenario() -> None:
        await cycle.send(start(trailers=True))
        await cycle.send(body())
        with pytest.raises(ClientDisconnected):
            await cycle.send(trailers([]))

    asyncio.run(scenario())
    assert not cycle.response_complete
