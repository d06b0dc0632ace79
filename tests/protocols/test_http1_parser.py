"""Request parsing rules of the HTTP/1.1 machines, checked on exact fields and statuses.

Each corpus vector is fed whole, one byte per call, and with more bytes
after it. The fast machine is the subject; the h11 backend runs the same
checks, since the two must agree.
"""

from __future__ import annotations

import pytest
from http1_corpus import INVALID, SMALL, VALID, Vector, chunked, get, post
from http1_drive import BACKENDS, Factory, merge_data, run

from pounce_protocols.http1 import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    FastHTTP1Connection,
    HTTP1Limits,
    ProtocolError,
    Request,
)

backends = pytest.mark.parametrize("factory", BACKENDS.values(), ids=BACKENDS.keys())


def parse_one(
    data: bytes, factory: Factory = FastHTTP1Connection, limits: HTTP1Limits | None = None
) -> list[object]:
    """Return the events of one ``receive_data`` call on a new machine."""
    return list(factory(limits).receive_data(data))


def status_of(
    data: bytes, factory: Factory = FastHTTP1Connection, limits: HTTP1Limits | None = None
) -> int:
    with pytest.raises(ProtocolError) as info:
        parse_one(data, factory, limits)
    return info.value.status


# -- every corpus vector, three ways ----------------------------------------


@backends
@pytest.mark.parametrize("vector", INVALID, ids=lambda vector: vector.name)
def test_invalid_vector_status(factory: Factory, vector: Vector) -> None:
    whole = run(factory, [vector.data], limits=vector.limits, eof=vector.eof)
    by_byte = run(factory, [bytes([b]) for b in vector.data], limits=vector.limits, eof=vector.eof)
    assert whole == ("error", vector.status)
    assert by_byte == ("error", vector.status)


@backends
@pytest.mark.parametrize(
    "vector", [v for v in INVALID if not v.eof], ids=lambda vector: vector.name
)
def test_invalid_vector_with_trailing_bytes(factory: Factory, vector: Vector) -> None:
    # A fault inside the vector is decided before anything that follows it.
    # Vectors that end inside a line get a byte that cannot finish it well.
    garbage = b"\x00garbage" if vector.data.endswith(b"\r\n") else b"\n\x00garbage"
    assert run(factory, [vector.data + garbage], limits=vector.limits) == ("error", vector.status)


@backends
@pytest.mark.parametrize("vector", VALID, ids=lambda vector: vector.name)
def test_valid_vector_one_byte_at_a_time(factory: Factory, vector: Vector) -> None:
    whole = run(factory, [vector.data], limits=vector.limits, eof=vector.eof)
    by_byte = run(factory, [bytes([b]) for b in vector.data], limits=vector.limits, eof=vector.eof)
    assert whole[0] == "events"
    assert by_byte == whole


@backends
@pytest.mark.parametrize("vector", [v for v in VALID if not v.eof], ids=lambda vector: vector.name)
def test_valid_vector_with_trailing_bytes(factory: Factory, vector: Vector) -> None:
    machine = factory(vector.limits)
    alone = factory(vector.limits).receive_data(vector.data)
    events = machine.receive_data(vector.data + b"\x00garbage\r\n\r\n")
    # The bytes after the last complete message wait for the next cycle.
    assert merge_data(list(events))[: len(alone)] == merge_data(list(alone))


# -- parsed fields -----------------------------------------------------------


@backends
def test_simple_get_fields(factory: Factory) -> None:
    events = parse_one(
        b"GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", factory
    )
    request, end = events

    assert isinstance(request, Request)
    assert request.method == b"GET"
    assert request.target == b"/path?q=1"
    assert request.http_version == "1.1"
    assert request.headers == [(b"host", b"example.com"), (b"accept", b"*/*")]
    assert request.keep_alive is True
    assert request.expect_continue is False
    assert request.content_length == 0
    assert request.chunked is False
    assert end == EndOfMessage()


@backends
def test_field_names_lowercased_values_stripped(factory: Factory) -> None:
    request = parse_one(
        get(b"X-Mixed-CASE: \t a  b \t", b"x-mixed-case: second", b"Empty:"), factory
    )[0]

    assert isinstance(request, Request)
    assert request.headers == [
        (b"host", b"example.com"),
        (b"x-mixed-case", b"a  b"),
        (b"x-mixed-case", b"second"),
        (b"empty", b""),
    ]


@backends
def test_obs_text_value_kept(factory: Factory) -> None:
    request = parse_one(get(b"X-Name: caf\xe9"), factory)[0]

    assert isinstance(request, Request)
    assert request.headers[-1] == (b"x-name", b"caf\xe9")


@backends
@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, Close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", False),
    ],
)
def test_keep_alive_rules(factory: Factory, head: bytes, keep_alive: bool) -> None:
    request = parse_one(head, factory)[0]

    assert isinstance(request, Request)
    assert request.keep_alive is keep_alive


@backends
@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (post(b"", b"Content-Length: 0", b"Expect: 100-continue"), True),
        (post(b"", b"Content-Length: 0", b"Expect: 100-CONTINUE"), True),
        (post(b"", b"Content-Length: 0"), False),
        (b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", False),
    ],
)
def test_expect_continue(factory: Factory, head: bytes, expected: bool) -> None:
    request = parse_one(head, factory)[0]

    assert isinstance(request, Request)
    assert request.expect_continue is expected


@backends
def test_content_length_body_whole(factory: Factory) -> None:
    events = parse_one(post(b"hello", b"Content-Length: 5"), factory)

    assert len(events) == 3
    request, data, end = events
    assert isinstance(request, Request)
    assert request.content_length == 5
    assert data == Data(b"hello")
    assert end == EndOfMessage()


@backends
def test_content_length_body_streams(factory: Factory) -> None:
    machine = factory(None)
    first = machine.receive_data(post(b"he", b"Content-Length: 5"))
    second = machine.receive_data(b"l")
    third = machine.receive_data(b"lo")

    assert [type(event) for event in first] == [Request, Data]
    assert first[1] == Data(b"he")
    assert second == [Data(b"l")]
    assert third == [Data(b"lo"), EndOfMessage()]
    assert machine.request_complete


@backends
def test_content_length_list_of_same_value(factory: Factory) -> None:
    request = parse_one(post(b"abc", b"Content-Length: 3 , 3", b"Content-Length: 3"), factory)[0]

    assert isinstance(request, Request)
    assert request.content_length == 3
    assert request.headers[-2:] == [(b"content-length", b"3 , 3"), (b"content-length", b"3")]


@backends
def test_chunked_body_and_trailers(factory: Factory) -> None:
    body = b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 15\r\nX-Note:  done \r\n\r\n"
    events = merge_data(parse_one(chunked(body), factory))

    request, data, end = events
    assert isinstance(request, Request)
    assert request.chunked is True
    assert request.content_length is None
    assert data == Data(b"hello0123456789")
    assert end == EndOfMessage([(b"x-sum", b"15"), (b"x-note", b"done")])


@backends
def test_chunked_body_streams_pieces(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(chunked(b""))

    assert machine.receive_data(b"6\r\nabc") == [Data(b"abc")]
    assert machine.receive_data(b"def\r\n") == [Data(b"def")]
    assert machine.receive_data(b"0\r\n") == []
    assert machine.receive_data(b"\r\n") == [EndOfMessage()]


@backends
def test_leading_empty_lines_ignored(factory: Factory) -> None:
    events = parse_one(b"\r\n\r\n" + get(), factory)

    assert isinstance(events[0], Request)
    assert events[0].target == b"/"


@backends
def test_method_is_case_sensitive_token(factory: Factory) -> None:
    request = parse_one(b"pURGe /x HTTP/1.1\r\nHost: x\r\n\r\n", factory)[0]

    assert isinstance(request, Request)
    assert request.method == b"pURGe"


# -- limits ------------------------------------------------------------------


@backends
def test_long_request_line_rejected_before_crlf(factory: Factory) -> None:
    machine = factory(SMALL)
    machine.receive_data(b"GET /" + b"a" * 58)

    with pytest.raises(ProtocolError) as info:
        machine.receive_data(b"aaaaaaaa")
    assert info.value.status == 414


@backends
def test_large_head_rejected_before_its_end(factory: Factory) -> None:
    limits = HTTP1Limits(max_head=100)
    machine = factory(limits)
    machine.receive_data(b"GET / HTTP/1.1\r\n" + b"X: v\r\n" * 14)

    with pytest.raises(ProtocolError) as info:
        machine.receive_data(b"X: v\r\n")
    assert info.value.status == 431


@backends
def test_content_length_over_limit_before_body(factory: Factory) -> None:
    assert status_of(post(b"", b"Content-Length: 1000"), factory, HTTP1Limits(max_body=999)) == 413
    assert isinstance(
        parse_one(post(b"", b"Content-Length: 999"), factory, HTTP1Limits(max_body=999))[0], Request
    )


@backends
def test_chunk_size_line_bounded(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(chunked(b"1;"))

    with pytest.raises(ProtocolError) as info:
        machine.receive_data(b"a" * 5000)
    assert info.value.status == 400


@backends
def test_header_count_limit_counts_fields_only(factory: Factory) -> None:
    limits = HTTP1Limits(max_header_count=2)
    assert isinstance(parse_one(get(b"A: 1"), factory, limits)[0], Request)
    assert status_of(get(b"A: 1", b"B: 2"), factory, limits) == 431


# -- errors are final --------------------------------------------------------


@backends
def test_machine_dead_after_protocol_error(factory: Factory) -> None:
    machine = factory(None)
    with pytest.raises(ProtocolError) as first:
        machine.receive_data(b"GET / HTTP/1.1\nHost: x\r\n\r\n")

    with pytest.raises(ProtocolError) as again:
        machine.receive_data(get())
    assert again.value is first.value
    assert machine.keep_alive is False


# -- end of input --------------------------------------------------------------


@backends
def test_eof_at_boundary_is_connection_closed(factory: Factory) -> None:
    machine = factory(None)

    assert machine.receive_data(b"") == [ConnectionClosed()]


@backends
def test_eof_after_empty_lines_is_connection_closed(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(b"\r\n\r\n")

    assert machine.receive_data(b"") == [ConnectionClosed()]


@backends
def test_eof_inside_head_is_400(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(b"GET / HTTP/1.1\r\n")

    with pytest.raises(ProtocolError) as info:
        machine.receive_data(b"")
    assert info.value.status == 400


@backends
def test_data_after_eof_is_misuse(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(b"")

    with pytest.raises(RuntimeError, match="after the end of input"):
        machine.receive_data(get())
