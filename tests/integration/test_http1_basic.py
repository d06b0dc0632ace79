"""Basic HTTP/1.1 serving over real sockets: methods, headers, framing, keep-alive."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx
import pytest
from http1_apps import demo_app, server_header_app, streamed_304_app
from http1_params import PARSERS
from http1_raw import RawConnection, build_request
from worker_probes import connection_count, workers_in_this_process


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    """Each test runs once with the fast parser and once with h11."""
    name: str = request.param
    return name


def test_get_head_post(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running, httpx.Client(base_url=running.url) as client:
        got = client.get("/")
        assert got.status_code == 200
        assert got.text == "hello"
        assert got.headers["content-length"] == "5"

        head = client.head("/")
        assert head.status_code == 200
        assert head.content == b""

        posted = client.post("/echo", content=b"a body of bytes")
        assert posted.status_code == 200
        assert posted.content == b"a body of bytes"


def test_keep_alive_reuses_connection(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running, httpx.Client(base_url=running.url) as client:
        ports = [client.get("/scope").json()["client_port"] for _ in range(5)]
        assert len(set(ports)) == 1
        if workers_in_this_process(running):
            assert connection_count(running) == 1


def test_date_and_server_headers(serve: Any) -> None:
    with serve(demo_app) as running:
        response = httpx.get(running.url)
    assert response.headers.get_list("server") == ["pounce"]
    sent = email.utils.parsedate_to_datetime(response.headers["date"])
    # The Date value is formatted once a second, so allow for the clock ticking.
    assert abs(sent.timestamp() - time.time()) < 60
    assert response.headers["date"].endswith(" GMT")


def test_no_server_and_no_date_header(serve: Any) -> None:
    with serve(demo_app, server_header=False, date_header=False) as running:
        response = httpx.get(running.url)
    assert response.status_code == 200
    assert "server" not in response.headers
    assert "date" not in response.headers


def test_extra_default_headers(serve: Any) -> None:
    with serve(demo_app, headers=(("x-a", "1"), ("X-Frame-Options", "DENY"))) as running:
        response = httpx.get(running.url)
    assert response.headers.get_list("x-a") == ["1"]
    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert response.headers["server"] == "pounce"


def test_app_server_header_wins(serve: Any) -> None:
    with serve(server_header_app) as running:
        response = httpx.get(running.url)
    assert response.headers.get_list("server") == ["my-app/2.0"]


def test_root_path_in_scope(serve: Any) -> None:
    with serve(demo_app, root_path="/api") as running:
        seen = httpx.get(running.url + "/v1/scope?x=1").json()
    assert seen["root_path"] == "/api"
    assert seen["path"] == "/api/v1/scope"
    assert seen["raw_path"] == "/api/v1/scope"
    assert seen["query_string"] == "x=1"


def test_scope_method_version_query(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running:
        seen = httpx.request("DELETE", running.url + "/a%20b/scope?q=%2F&r").json()
    assert seen["method"] == "DELETE"
    assert seen["path"] == "/a b/scope"
    assert seen["raw_path"] == "/a%20b/scope"
    assert seen["query_string"] == "q=%2F&r"
    assert seen["http_version"] == "1.1"


def test_http10_request_closes(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(b"GET /scope HTTP/1.0\r\n\r\n")
        response = conn.read_response()
        rest = conn.read_until_closed()
    assert response.status_line == "HTTP/1.1 200 OK"
    assert json.loads(response.body)["http_version"] == "1.0"
    assert rest == b""


def test_http10_streamed_response_is_close_delimited(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(b"GET /stream?5 HTTP/1.0\r\n\r\n")
        response = conn.read_response()
    # HTTP/1.0 has no chunked coding: the body runs until the server closes.
    assert response.header("transfer-encoding") is None
    assert response.body == b"".join(b"chunk-%d\n" % i for i in range(5))


def test_http10_keep_alive_request(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = conn.read_response()
        assert first.body == b"hello"
        # An HTTP/1.0 client keeps the connection only when the response
        # carries this header (RFC 9112 §9.3 and Appendix C.2.2).
        assert first.header("connection") == "keep-alive"
        conn.send(b"GET /echo HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
        second = conn.read_response()
        rest = conn.read_until_closed()
    assert second.body == b"abc"
    assert rest == b""


def test_chunked_request_body(serve: Any, parser: str) -> None:
    request = (
        b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n"
        b"1;name=value\r\n,\r\n"
        b"A\r\n a chunked\r\n"
        b"6\r\n body!\r\n"
        b"0\r\nX-Trailer: ignored\r\n\r\n"
    )
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(request)
        response = conn.read_response()
        conn.request("GET", "/")
        after = conn.read_response()
    assert response.status == 200
    assert response.body == b"hello, a chunked body!"
    assert after.body == b"hello"


def test_chunked_request_body_in_pieces(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for index in range(20):
            piece = b"piece-%02d;" % index
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.005)
        conn.send(b"0\r\n\r\n")
        response = conn.read_response()
    assert response.body == b"".join(b"piece-%02d;" % i for i in range(20))


def test_streaming_response_in_order(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running, httpx.Client(base_url=running.url) as client:
        with client.stream("GET", "/stream?500") as response:
            assert response.headers["transfer-encoding"] == "chunked"
            lines = list(response.iter_lines())
        # The connection is still usable after a chunked response.
        assert client.get("/").text == "hello"
    assert lines == [f"chunk-{i}" for i in range(500)]


def test_head_response_has_no_body(serve: Any, parser: str) -> None:
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.request("HEAD", "/")
        head = conn.read_response(head_request=True)
        conn.request("HEAD", "/stream?3")
        streamed_head = conn.read_response(head_request=True)
        # Any body byte after a HEAD response would corrupt this response.
        conn.request("GET", "/")
        after = conn.read_response()
    assert head.status == 200
    assert head.header("content-length") in (None, "5")
    assert streamed_head.status == 200
    assert after.status_line == "HTTP/1.1 200 OK"
    assert after.body == b"hello"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(serve: Any, parser: str, status: int) -> None:
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.request("GET", f"/status/{status}")
        response = conn.read_response()
        conn.request("GET", "/")
        after = conn.read_response()
    assert response.status == status
    # RFC 9110 §8.6 and §15.3.5: no Content-Length in a 204; RFC 9112 §6.1:
    # no Transfer-Encoding in a 204 or 304.
    assert response.header("transfer-encoding") is None
    if status == 204:
        assert response.header("content-length") is None
    assert after.status_line == "HTTP/1.1 200 OK"
    assert after.body == b"hello"


def test_streamed_304_has_no_chunk_framing(serve: Any, parser: str) -> None:
    with serve(streamed_304_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(build_request("GET", "/cached") + build_request("GET", "/next"))
        cached = conn.read_response()
        after = conn.read_response()
    assert cached.status == 304
    assert cached.header("etag") == '"v1"'
    assert after.body == b"next"
