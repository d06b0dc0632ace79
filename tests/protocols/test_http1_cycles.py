"""Request/response cycles: keep-alive, pipelining, end of input and server misuse."""

from __future__ import annotations

import pytest
from http1_corpus import get, post
from http1_drive import BACKENDS, Factory

from pounce_protocols.http1 import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    HTTP1Limits,
    ProtocolError,
    Request,
)
from pounce_protocols.http1._fast import PIPELINE_MARGIN

backends = pytest.mark.parametrize("factory", BACKENDS.values(), ids=BACKENDS.keys())


@backends
def test_pipelined_request_waits_for_next_cycle(factory: Factory) -> None:
    machine = factory(None)
    events = machine.receive_data(get() + get(target=b"/second"))

    assert len(events) == 2
    assert machine.request is events[0]
    machine.send_response_full(200, [], b"")
    following = machine.start_next_cycle()
    assert isinstance(following[0], Request)
    assert following[0].target == b"/second"
    assert following[1] == EndOfMessage()
    assert machine.request is following[0]


@backends
def test_pipelined_bytes_not_parsed_early(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get())

    assert machine.receive_data(b"GET / HTTP/1.1\nbroken") == []
    machine.send_response_full(200, [], b"")
    with pytest.raises(ProtocolError) as info:
        machine.start_next_cycle()
    assert info.value.status == 400


@backends
def test_pipelined_bytes_bounded(factory: Factory) -> None:
    limits = HTTP1Limits(max_head=1024)
    machine = factory(limits)
    machine.receive_data(get())
    machine.receive_data(b"x" * (1024 + PIPELINE_MARGIN))
    assert machine.keep_alive

    assert machine.receive_data(b"x") == []
    assert machine.keep_alive is False
    data = machine.send_response_full(200, [], b"")
    assert b"connection: close" in data.lower()
    with pytest.raises(RuntimeError, match="start_next_cycle"):
        machine.start_next_cycle()


@backends
def test_keep_alive_waits_for_the_request_body(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(post(b"ab", b"Content-Length: 4"))
    machine.send_response_full(200, [], b"")

    assert machine.keep_alive is False
    assert machine.receive_data(b"cd") == [Data(b"cd"), EndOfMessage()]
    assert machine.keep_alive is True
    assert machine.start_next_cycle() == []


@backends
def test_eof_after_request_with_nothing_buffered(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get())

    assert machine.receive_data(b"") == [ConnectionClosed()]
    assert machine.send_response_full(200, [], b"ok").endswith(b"ok")


@backends
def test_eof_after_pipelined_request_is_deferred(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get() + get(target=b"/last"))

    assert machine.receive_data(b"") == []
    machine.send_response_full(200, [], b"")
    events = machine.start_next_cycle()
    assert isinstance(events[0], Request)
    assert events[1:] == [EndOfMessage(), ConnectionClosed()]


@backends
def test_eof_after_partial_pipelined_request(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get() + b"GET /par")
    machine.receive_data(b"")
    machine.send_response_full(200, [], b"")

    with pytest.raises(ProtocolError) as info:
        machine.start_next_cycle()
    assert info.value.status == 400


@backends
def test_start_next_cycle_needs_complete_request(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(post(b"", b"Content-Length: 4"))

    with pytest.raises(RuntimeError, match="request state 'body'"):
        machine.start_next_cycle()


@backends
def test_start_next_cycle_needs_complete_response(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get())
    machine.send_response(200, [])

    with pytest.raises(RuntimeError, match="response state 'sending body'"):
        machine.start_next_cycle()


@backends
def test_start_next_cycle_needs_keep_alive(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get(b"Connection: close"))
    machine.send_response_full(200, [], b"")

    with pytest.raises(RuntimeError, match="keep_alive False"):
        machine.start_next_cycle()


@backends
def test_response_before_request_is_misuse(factory: Factory) -> None:
    machine = factory(None)

    with pytest.raises(RuntimeError, match=r"send_response\(\) called before a request head"):
        machine.send_response(200, [])


@backends
def test_data_before_head_is_misuse(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get())

    with pytest.raises(RuntimeError, match=r"send_data\(\) called in response state 'idle'"):
        machine.send_data(b"x")


@backends
def test_second_head_is_misuse(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get())
    machine.send_response(200, [])

    with pytest.raises(
        RuntimeError, match=r"send_response\(\) called in response state 'sending body'"
    ):
        machine.send_response(200, [])


@backends
def test_send_after_end_is_misuse(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get())
    machine.send_response_full(200, [], b"")

    with pytest.raises(RuntimeError, match=r"send_data\(\) called in response state 'complete'"):
        machine.send_data(b"x")
    with pytest.raises(RuntimeError, match=r"send_end\(\) called in response state 'complete'"):
        machine.send_end()


@backends
def test_interim_status_through_send_response_rejected(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get())

    with pytest.raises(ValueError, match="send_informational"):
        machine.send_response(103, [])


@backends
def test_trailers_need_chunked_response(factory: Factory) -> None:
    machine = factory(None)
    machine.receive_data(get())
    machine.send_response(200, [(b"content-length", b"0")])

    with pytest.raises(RuntimeError, match="chunked"):
        machine.send_end([(b"x-t", b"1")])


@backends
def test_many_cycles_on_one_connection(factory: Factory) -> None:
    machine = factory(None)
    for index in range(5):
        events = machine.receive_data(post(b"%d" % index, b"Content-Length: 1"))
        assert events[1] == Data(b"%d" % index)
        machine.send_response_full(200, [], b"ok")
        assert machine.start_next_cycle() == []
