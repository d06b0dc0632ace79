"""Common methods and field names skip the token check, and lose no other check."""

from __future__ import annotations

import pytest
from http1_corpus import get
from http1_drive import BACKENDS, Factory

from pounce_protocols.http1 import FastHTTP1Connection, ProtocolError, Request
from pounce_protocols.http1._head import _COMMON_FIELD_NAMES, _COMMON_METHODS

backends = pytest.mark.parametrize("factory", BACKENDS.values(), ids=BACKENDS.keys())

# RFC 9110 §5.6.2, spelled out here independently of the parser's table.
TCHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.mark.parametrize("token", sorted(_COMMON_METHODS | _COMMON_FIELD_NAMES))
def test_common_entry_is_token(token: bytes) -> None:
    assert token
    assert set(token) <= TCHARS


@pytest.mark.parametrize("name", sorted(_COMMON_FIELD_NAMES))
def test_common_name_is_lowercase(name: bytes) -> None:
    assert name == name.lower()


def parse_error(data: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        FastHTTP1Connection().receive_data(data)
    return info.value


@pytest.mark.parametrize("line", [b"Host : x", b"Accept\t: */*", b"user-agent :x"])
def test_space_before_colon_after_common_name(line: bytes) -> None:
    error = parse_error(b"GET / HTTP/1.1\r\n" + line + b"\r\n\r\n")
    assert error.status == 400
    assert error.message.startswith("Invalid header field name")


@pytest.mark.parametrize("line", [b"Host", b"ACCEPT", b"cookie"])
def test_common_name_without_colon(line: bytes) -> None:
    error = parse_error(b"GET / HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n")
    assert error.status == 400
    assert error.message == "Header field line without a colon"


@pytest.mark.parametrize("method", [b"GET\x80", b"G(T", b"GET@", b"POST,"])
def test_method_near_common_checked(method: bytes) -> None:
    error = parse_error(method + b" / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert error.status == 400
    assert error.message == "Invalid method in the request line"


@backends
def test_common_names_any_case_lowercased(factory: Factory) -> None:
    events = factory(None).receive_data(get(b"USER-AGENT: a", b"Accept-Encoding: gzip"))
    request = events[0]
    assert isinstance(request, Request)
    assert request.headers == [
        (b"host", b"example.com"),
        (b"user-agent", b"a"),
        (b"accept-encoding", b"gzip"),
    ]


@backends
@pytest.mark.parametrize("method", [b"get", b"Get", b"PURGE"])
def test_uncommon_method_spelling_accepted(factory: Factory, method: bytes) -> None:
    events = factory(None).receive_data(method + b" / HTTP/1.1\r\nHost: x\r\n\r\n")
    request = events[0]
    assert isinstance(request, Request)
    assert request.method == method
