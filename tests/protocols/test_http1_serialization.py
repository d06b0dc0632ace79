"""Responses from both backends, read back by an h11 client.

Each test serializes a response and parses the bytes with an
``h11.Connection(h11.CLIENT)`` to check the status, headers, body and
framing a real client would see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import h11
import pytest
from http1_drive import BACKENDS, Factory

from pounce_protocols.http1 import HTTP1ServerConnection, ProtocolError

backends = pytest.mark.parametrize("factory", BACKENDS.values(), ids=BACKENDS.keys())

GET_11 = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD_11 = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
GET_10 = b"GET / HTTP/1.0\r\n\r\n"
GET_10_KEEP_ALIVE = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
TEXT = [(b"content-type", b"text/plain")]


@dataclass
class Seen:
    """What an h11 client read from a response."""

    status: int
    reason: bytes
    headers: dict[bytes, list[bytes]]
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    informational: list[int] = field(default_factory=list)

    def header(self, name: bytes) -> list[bytes]:
        return self.headers.get(name, [])


def read_back(data: bytes, method: bytes = b"GET", close: bool = False) -> Seen:
    """Parse ``data`` as the response to a ``method`` request; ``close`` adds end of input."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    if close:
        client.receive_data(b"")
    informational: list[int] = []
    seen: Seen | None = None
    while True:
        event = client.next_event()
        if isinstance(event, h11.InformationalResponse):
            informational.append(event.status_code)
        elif isinstance(event, h11.Response):
            headers: dict[bytes, list[bytes]] = {}
            for name, value in event.headers:
                headers.setdefault(name, []).append(value)
            seen = Seen(event.status_code, event.reason, headers, informational=informational)
        elif isinstance(event, h11.Data):
            assert seen is not None
            seen.body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert seen is not None
            seen.trailers = list(event.headers)
            return seen
        else:
            raise AssertionError(f"the response ended early with {event!r}")


def serving(factory: Factory, request: bytes) -> HTTP1ServerConnection:
    """Return a machine that has read ``request`` whole."""
    machine = factory(None)
    machine.receive_data(request)
    assert machine.request_complete
    return machine


@backends
def test_full_response_gets_content_length(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    seen = read_back(machine.send_response_full(200, TEXT, b"hello"))

    assert seen.status == 200
    assert seen.reason == b"OK"
    assert seen.header(b"content-length") == [b"5"]
    assert seen.header(b"content-type") == [b"text/plain"]
    assert seen.body == b"hello"
    assert machine.response_complete
    assert machine.keep_alive


@backends
def test_full_response_is_one_buffer_with_status_line(factory: Factory) -> None:
    data = serving(factory, GET_11).send_response_full(404, [], b"")

    assert data.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert data.endswith(b"\r\n\r\n")


@backends
def test_app_content_length_enforced(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    head = machine.send_response(200, [(b"content-length", b"4")])
    body = machine.send_data(b"ab") + machine.send_data(b"cd")

    with pytest.raises(RuntimeError, match=r"5 bytes.*content-length of 4"):
        machine.send_data(b"e")
    seen = read_back(head + body + machine.send_end())
    assert seen.header(b"content-length") == [b"4"]
    assert seen.body == b"abcd"


@backends
def test_short_body_rejected_at_end(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    machine.send_response(200, [(b"content-length", b"4")])
    machine.send_data(b"ab")

    with pytest.raises(RuntimeError, match=r"after 2 body bytes.*content-length of 4"):
        machine.send_end()


@backends
def test_full_body_must_match_app_content_length(factory: Factory) -> None:
    machine = serving(factory, GET_11)

    with pytest.raises(RuntimeError, match=r"3 bytes.*content-length of 5"):
        machine.send_response_full(200, [(b"content-length", b"5")], b"abc")


@backends
def test_streamed_response_is_chunked(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    parts = [machine.send_response(200, TEXT)]
    parts.append(machine.send_data(b"hello "))
    empty = machine.send_data(b"")
    parts.append(machine.send_data(b"world"))
    parts.append(machine.send_end([(b"x-checksum", b"abc")]))
    seen = read_back(b"".join(parts))

    assert empty == b""
    assert [value.lower() for value in seen.header(b"transfer-encoding")] == [b"chunked"]
    assert seen.header(b"content-length") == []
    assert seen.body == b"hello world"
    assert seen.trailers == [(b"x-checksum", b"abc")]
    assert machine.keep_alive


@backends
def test_app_chunked_coding_is_used(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    data = machine.send_response(200, [(b"transfer-encoding", b"chunked")])
    data += machine.send_data(b"abc") + machine.send_end()
    seen = read_back(data)

    assert len(seen.header(b"transfer-encoding")) == 1
    assert seen.body == b"abc"


@backends
def test_app_other_coding_is_close_delimited(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    data = machine.send_response(200, [(b"transfer-encoding", b"gzip")])
    data += machine.send_data(b"\x1f\x8b") + machine.send_end()
    head = data.split(b"\r\n\r\n", 1)[0].lower()

    assert b"transfer-encoding: gzip" in head
    assert b"connection: close" in head
    assert data.endswith(b"\r\n\r\n\x1f\x8b")
    assert machine.keep_alive is False


@backends
def test_head_response_has_get_framing_without_body(factory: Factory) -> None:
    machine = serving(factory, HEAD_11)
    data = machine.send_response_full(200, TEXT, b"hello")
    seen = read_back(data, method=b"HEAD")

    assert seen.header(b"content-length") == [b"5"]
    assert seen.body == b""
    assert data.endswith(b"\r\n\r\n")
    assert machine.keep_alive


@backends
def test_head_streamed_response_sends_no_body(factory: Factory) -> None:
    machine = serving(factory, HEAD_11)
    head = machine.send_response(200, TEXT)

    assert machine.send_data(b"ignored") == b""
    assert machine.send_end() == b""
    seen = read_back(head, method=b"HEAD")
    assert [value.lower() for value in seen.header(b"transfer-encoding")] == [b"chunked"]
    assert machine.response_complete


@backends
def test_204_gets_no_framing_headers(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    data = machine.send_response_full(204, [], b"")
    seen = read_back(data)

    assert seen.status == 204
    assert seen.header(b"content-length") == []
    assert seen.header(b"transfer-encoding") == []
    assert machine.keep_alive


@backends
def test_304_keeps_app_content_length_without_body(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    head = machine.send_response(304, [(b"content-length", b"1234")])
    assert machine.send_data(b"x") == b""
    data = head + machine.send_end()
    seen = read_back(data)

    assert seen.status == 304
    assert seen.header(b"content-length") == [b"1234"]
    assert seen.body == b""
    assert data.endswith(b"\r\n\r\n")


@backends
def test_http10_streamed_response_is_close_delimited(factory: Factory) -> None:
    machine = serving(factory, GET_10_KEEP_ALIVE)
    data = machine.send_response(200, TEXT) + machine.send_data(b"abc") + machine.send_end()
    seen = read_back(data, close=True)

    assert seen.header(b"transfer-encoding") == []
    assert [value.lower() for value in seen.header(b"connection")] == [b"close"]
    assert seen.body == b"abc"
    assert machine.keep_alive is False


@backends
def test_http10_keep_alive_full_response(factory: Factory) -> None:
    machine = serving(factory, GET_10_KEEP_ALIVE)
    seen = read_back(machine.send_response_full(200, TEXT, b"abc"))

    assert seen.header(b"connection") == [b"keep-alive"]
    assert seen.header(b"content-length") == [b"3"]
    assert machine.keep_alive


@backends
def test_http10_without_keep_alive_gets_close(factory: Factory) -> None:
    machine = serving(factory, GET_10)
    seen = read_back(machine.send_response_full(200, TEXT, b"abc"))

    assert [value.lower() for value in seen.header(b"connection")] == [b"close"]
    assert machine.keep_alive is False


@backends
def test_connection_close_request_gets_close(factory: Factory) -> None:
    machine = serving(factory, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    seen = read_back(machine.send_response_full(200, [], b""))

    assert [value.lower() for value in seen.header(b"connection")] == [b"close"]
    assert machine.keep_alive is False


@backends
def test_app_connection_close_ends_keep_alive(factory: Factory) -> None:
    machine = serving(factory, GET_11)
    seen = read_back(machine.send_response_full(200, [(b"connection", b"close")], b""))

    assert [value.lower() for value in seen.header(b"connection")] == [b"close"]
    assert machine.keep_alive is False


@backends
def test_informational_then_final(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    )
    continue_bytes = machine.send_informational(100, [])
    machine.receive_data(b"ok")
    seen = read_back(continue_bytes + machine.send_response_full(200, [], b"done"))

    assert continue_bytes == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert seen.informational == [100]
    assert seen.body == b"done"


@backends
def test_informational_skipped_for_http10(factory: Factory) -> None:
    machine = serving(factory, GET_10)

    assert machine.send_informational(100, []) == b""


@backends
@pytest.mark.parametrize("status", [99, 101, 200])
def test_informational_rejects_other_statuses(factory: Factory, status: int) -> None:
    with pytest.raises(ValueError, match="1xx"):
        serving(factory, GET_11).send_informational(status, [])


@backends
def test_unknown_status_has_empty_reason(factory: Factory) -> None:
    data = serving(factory, GET_11).send_response_full(599, [], b"")

    assert data.startswith(b"HTTP/1.1 599 \r\n")


@backends
@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (413, b"Content Too Large"),
        (422, b"Unprocessable Content"),
        (431, b"Request Header Fields Too Large"),
    ],
)
def test_reason_phrases_follow_iana(factory: Factory, status: int, reason: bytes) -> None:
    seen = read_back(serving(factory, GET_11).send_response_full(status, [], b""))

    assert seen.reason == reason


@backends
def test_custom_reason(factory: Factory) -> None:
    data = serving(factory, GET_11).send_response_full(200, [], b"", reason=b"Fine")

    assert data.startswith(b"HTTP/1.1 200 Fine\r\n")


@backends
def test_error_response_after_protocol_error(factory: Factory) -> None:
    machine = factory(None)
    with pytest.raises(ProtocolError) as info:
        machine.receive_data(b"GET / HTTP/2.0\r\n\r\n")
    error = info.value
    data = machine.send_error_response(error.status, error.message, [(b"server", b"pounce")])
    seen = read_back(data)

    assert seen.status == 505
    assert seen.reason == b"HTTP Version Not Supported"
    assert seen.header(b"server") == [b"pounce"]
    assert seen.header(b"content-type") == [b"text/plain; charset=utf-8"]
    assert [value.lower() for value in seen.header(b"connection")] == [b"close"]
    assert seen.body == error.message.encode("utf-8")
    assert seen.header(b"content-length") == [str(len(seen.body)).encode()]
    assert machine.keep_alive is False


@backends
def test_error_response_before_any_request(factory: Factory) -> None:
    machine = factory(None)
    seen = read_back(machine.send_error_response(408, "Request timed out: é"))

    assert seen.status == 408
    assert seen.body == "Request timed out: é".encode()
    assert machine.keep_alive is False
