"""Starlette served by Pounce, under both HTTP/1.1 machines."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_helpers import CLIENT_TIMEOUT, PARSERS, raw_exchange, split_reply
from starlette_site import create_app

HERE = Path(__file__).resolve().parent


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def site(serve: Callable[..., Any], parser: str) -> Iterator[tuple[Any, httpx.Client]]:
    """Serve a fresh Starlette app and yield the running server and a client for it."""
    with (
        serve(create_app(), http=parser) as running,
        httpx.Client(base_url=running.url, timeout=CLIENT_TIMEOUT) as client,
    ):
        yield running, client


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_path_params_and_query(site: tuple[Any, httpx.Client]) -> None:
    _, client = site

    response = client.get("/items/42", params=[("q", "hello world"), ("tag", "a"), ("tag", "b")])

    assert response.status_code == 200
    assert response.json() == {"item_id": 42, "q": "hello world", "tags": ["a", "b"]}


def test_path_param_converter_rejects(site: tuple[Any, httpx.Client]) -> None:
    _, client = site

    response = client.get("/items/not-a-number")

    assert response.status_code == 404


def test_percent_encoded_path_param(site: tuple[Any, httpx.Client]) -> None:
    _, client = site

    response = client.get("/users/J%C3%B6rg%20M")

    assert response.status_code == 200
    assert response.json() == {"name": "Jörg M"}


def test_json_round_trip(site: tuple[Any, httpx.Client]) -> None:
    _, client = site
    payload = {"name": "pounce", "numbers": [1, 2, 3], "nested": {"ok": True}}

    response = client.post("/json", json=payload)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"received": payload, "keys": ["name", "nested", "numbers"]}


def test_streaming_response_in_order(site: tuple[Any, httpx.Client]) -> None:
    _, client = site

    with client.stream("GET", "/stream", params={"count": 200}) as response:
        lines = list(response.iter_lines())

    assert response.status_code == 200
    # A body of unknown length on HTTP/1.1 is sent chunked.
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert lines == [f"chunk {index}" for index in range(200)]


def test_streaming_sends_before_the_end(site: tuple[Any, httpx.Client]) -> None:
    """The first chunk reaches the client while the app still waits to send the second."""
    running, client = site

    with client.stream("GET", "/gated-stream/t1") as response:
        received = b""
        pieces = response.iter_raw()
        while b"\n" not in received:
            received += next(pieces)
        assert received == b"before the gate\n"

        # The app cannot finish until this second request opens its gate.
        with httpx.Client(base_url=running.url, timeout=CLIENT_TIMEOUT) as other:
            assert other.post("/gates/t1").text == "opened"

        for piece in pieces:
            received += piece

    assert received == b"before the gate\nafter the gate\n"


def test_multipart_upload_checksum(site: tuple[Any, httpx.Client]) -> None:
    _, client = site
    data = os.urandom(1024 * 1024 + 17)

    response = client.post(
        "/upload",
        data={"label": "one megabyte"},
        files={"file": ("blob.bin", data, "application/octet-stream")},
    )

    assert response.status_code == 200
    assert response.json() == {
        "label": "one megabyte",
        "filename": "blob.bin",
        "content_type": "application/octet-stream",
        "size": len(data),
        "sha256": digest(data),
    }


def test_body_read_whole(site: tuple[Any, httpx.Client]) -> None:
    _, client = site
    data = os.urandom(300_000)

    response = client.post("/body", content=data)

    assert response.status_code == 200
    assert response.json() == {"size": len(data), "sha256": digest(data)}


def test_chunked_body_read_whole(site: tuple[Any, httpx.Client]) -> None:
    _, client = site
    pieces = [os.urandom(size) for size in (1, 5000, 70_000, 3)]

    # An iterator makes httpx send the body with Transfer-Encoding: chunked.
    response = client.post("/body", content=iter(pieces))

    assert response.status_code == 200
    joined = b"".join(pieces)
    assert response.json() == {"size": len(joined), "sha256": digest(joined)}


def test_body_read_as_stream(site: tuple[Any, httpx.Client]) -> None:
    _, client = site
    pieces = [os.urandom(64 * 1024) for _ in range(8)]

    response = client.post("/stream-body", content=iter(pieces))

    assert response.status_code == 200
    joined = b"".join(pieces)
    assert response.json() == {"size": len(joined), "sha256": digest(joined)}


def test_empty_body(site: tuple[Any, httpx.Client]) -> None:
    _, client = site

    response = client.post("/stream-body", content=b"")

    assert response.status_code == 200
    assert response.json() == {"size": 0, "sha256": digest(b"")}


def test_raising_endpoint_then_serving(
    site: tuple[Any, httpx.Client], caplog: pytest.LogCaptureFixture
) -> None:
    running, client = site

    response = client.get("/boom")

    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    # The app keeps serving, on this client and on a fresh connection.
    assert client.get("/items/1").status_code == 200
    with httpx.Client(base_url=running.url, timeout=CLIENT_TIMEOUT) as other:
        assert other.get("/items/2").json()["item_id"] == 2
    logged = [record for record in caplog.records if record.name.startswith("pounce")]
    assert any(
        record.exc_info and "the boom endpoint always fails" in str(record.exc_info[1])
        for record in logged
    ), "the server should log the app's exception with its traceback"


def test_http_exception_404(site: tuple[Any, httpx.Client]) -> None:
    _, client = site

    raised = client.get("/missing")
    unrouted = client.get("/no/such/route")

    assert raised.status_code == 404
    assert raised.text == "no such thing"
    assert unrouted.status_code == 404
    assert unrouted.text == "Not Found"


def test_lifespan_state(serve: Callable[..., Any], parser: str) -> None:
    app = create_app()
    with serve(app, http=parser) as running:
        response = httpx.get(running.url + "/state", timeout=CLIENT_TIMEOUT)
        assert app.state.started is True

    assert response.status_code == 200
    assert response.json() == {"greeting": "hello from lifespan", "started": True}
    # The code after the lifespan's yield ran when the server stopped.
    assert app.state.started is False


def test_root_path(serve: Callable[..., Any], parser: str) -> None:
    with serve(create_app(), http=parser, root_path="/api") as running:
        where = httpx.get(running.url + "/where", timeout=CLIENT_TIMEOUT)
        item = httpx.get(running.url + "/items/3", timeout=CLIENT_TIMEOUT)

    assert where.status_code == 200
    assert where.json() == {
        "root_path": "/api",
        "path": "/api/where",
        "url_for": running.url + "/api/items/7",
    }
    assert item.json()["item_id"] == 3


def test_client_is_loopback(site: tuple[Any, httpx.Client]) -> None:
    running, _ = site
    request = b"GET /client HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

    local, reply = raw_exchange(running.host, running.port, request)

    status, _, body = split_reply(reply)
    assert status == 200
    assert json.loads(body) == {"host": "127.0.0.1", "port": local[1]}


def test_websocket_upgrade_gets_http_answer(site: tuple[Any, httpx.Client]) -> None:
    """A WebSocket route does not disturb HTTP, and an upgrade request gets an HTTP response."""
    _, client = site
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }

    response = client.get("/ws", headers=upgrade)

    # Starlette routes an HTTP scope past its WebSocket route to its 404.
    assert response.status_code == 404
    assert client.get("/items/5").json()["item_id"] == 5


def test_root_path_from_cli(pounce_process: Callable[..., Any]) -> None:
    args = ("starlette_site:app", "--app-dir", str(HERE), "--root-path", "/api")
    with pounce_process(*args) as proc:
        response = httpx.get(proc.url + "/where", timeout=CLIENT_TIMEOUT)

    assert response.status_code == 200
    assert response.json()["root_path"] == "/api"
    assert response.json()["url_for"] == proc.url + "/api/items/7"


def test_lifespan_without_warnings(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Starlette speaks lifespan, so the server serves it without a warning."""
    with serve(create_app()) as running:
        assert httpx.get(running.url + "/state", timeout=CLIENT_TIMEOUT).status_code == 200

    warnings = [
        record
        for record in caplog.records
        if record.name.startswith("pounce") and record.levelno >= logging.WARNING
    ]
    assert warnings == []
