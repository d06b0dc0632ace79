"""Pipelined requests: several written at once get responses in order, bodies included."""

from __future__ import annotations

from typing import Any

import pytest
from http1_apps import delay_by_query_app, demo_app
from http1_params import PARSERS
from http1_raw import RawConnection, build_request


@pytest.mark.parametrize("parser", PARSERS)
def test_pipelined_requests_answered_in_order(serve: Any, parser: str) -> None:
    requests = [
        build_request("GET", "/"),
        build_request("POST", "/echo", body=b"first body"),
        build_request("HEAD", "/"),
        build_request("GET", "/stream?3"),
        build_request("POST", "/echo", body=b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
        build_request("GET", "/status/204"),
        build_request("POST", "/echo", body=b"last"),
    ]
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(b"".join(requests))
        responses = [conn.read_response(head_request=index == 2) for index in range(len(requests))]
    assert [response.status for response in responses] == [200, 200, 200, 200, 200, 204, 200]
    assert responses[0].body == b"hello"
    assert responses[1].body == b"first body"
    assert responses[2].body == b""
    assert responses[3].body == b"chunk-0\nchunk-1\nchunk-2\n"
    assert responses[4].body == b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    assert responses[6].body == b"last"


@pytest.mark.parametrize("parser", PARSERS)
def test_pipelined_slow_first_request_keeps_order(serve: Any, parser: str) -> None:
    """A request that takes longer than the ones behind it still gets the first response."""
    paths = [("/a", "0.3"), ("/b", "0"), ("/c", "0.1"), ("/d", "0")]
    with serve(delay_by_query_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(b"".join(build_request("GET", f"{path}?{delay}") for path, delay in paths))
        bodies = [conn.read_response().body for _ in paths]
    assert bodies == [b"/a", b"/b", b"/c", b"/d"]


@pytest.mark.parametrize("parser", PARSERS)
def test_pipeline_ending_with_connection_close(serve: Any, parser: str) -> None:
    requests = (
        build_request("GET", "/")
        + build_request("GET", "/", headers=(("Connection", "close"),))
        + build_request("GET", "/never-answered")
    )
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(requests)
        first = conn.read_response()
        second = conn.read_response()
        rest = conn.read_until_closed()
    assert first.body == b"hello"
    assert second.body == b"hello"
    assert second.header("connection") == "close"
    assert rest == b""


@pytest.mark.parametrize("parser", PARSERS)
def test_pipeline_of_many_requests(serve: Any, parser: str) -> None:
    count = 200
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(b"".join(build_request("POST", "/echo", body=b"%d" % i) for i in range(count)))
        bodies = [conn.read_response().body for _ in range(count)]
    assert bodies == [b"%d" % i for i in range(count)]
