"""Line size limits at their exact boundaries, in heads short and long.

The fast machine skips measuring lines when the whole head is no longer
than the smaller line limit. These cases sit on both sides of that cut, so
a line one byte over its limit is caught whatever the size of its head.
"""

from __future__ import annotations

import pytest
from http1_drive import BACKENDS, Factory

from pounce_protocols.http1 import HTTP1Limits, ProtocolError, Request

backends = pytest.mark.parametrize("factory", BACKENDS.values(), ids=BACKENDS.keys())

# (max_request_line, max_header_field): either limit may be the smaller.
LIMIT_PAIRS = [(30, 40), (40, 30), (35, 35)]


def request_line(length: int, version: bytes = b"HTTP/1.0") -> bytes:
    """Return a GET request line of exactly ``length`` bytes, without CRLF."""
    line = b"GET /" + b"a" * (length - 6 - len(version)) + b" " + version
    assert len(line) == length
    return line


def head(*lines: bytes) -> bytes:
    return b"\r\n".join(lines) + b"\r\n\r\n"


def verdict(data: bytes, factory: Factory, limits: HTTP1Limits) -> int | None:
    """Return the rejection status, or None when the head parses to a request."""
    try:
        events = factory(limits).receive_data(data)
    except ProtocolError as exc:
        return exc.status
    assert isinstance(events[0], Request)
    return None


@backends
@pytest.mark.parametrize(("line_limit", "field_limit"), LIMIT_PAIRS)
def test_lone_request_line_at_limit(factory: Factory, line_limit: int, field_limit: int) -> None:
    limits = HTTP1Limits(max_request_line=line_limit, max_header_field=field_limit)
    assert verdict(head(request_line(line_limit)), factory, limits) is None
    assert verdict(head(request_line(line_limit + 1)), factory, limits) == 414


@backends
@pytest.mark.parametrize(("line_limit", "field_limit"), LIMIT_PAIRS)
def test_field_line_at_limit(factory: Factory, line_limit: int, field_limit: int) -> None:
    limits = HTTP1Limits(max_request_line=line_limit, max_header_field=field_limit)
    first = request_line(16, b"HTTP/1.1")
    at_limit = b"Host: " + b"h" * (field_limit - 6)
    over = at_limit + b"h"
    assert verdict(head(first, at_limit), factory, limits) is None
    assert verdict(head(first, over), factory, limits) == 431


@backends
@pytest.mark.parametrize(("line_limit", "field_limit"), LIMIT_PAIRS)
def test_request_line_over_limit_with_fields(
    factory: Factory, line_limit: int, field_limit: int
) -> None:
    limits = HTTP1Limits(max_request_line=line_limit, max_header_field=field_limit)
    data = head(request_line(line_limit + 1, b"HTTP/1.1"), b"Host: h")
    assert verdict(data, factory, limits) == 414
