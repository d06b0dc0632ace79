"""Plain ASGI callables served by Pounce, in a thread and through the CLI with --factory."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_helpers import CLIENT_TIMEOUT, PARSERS, raw_exchange, split_reply

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


async def read_body(receive: Receive) -> bytes:
    """Read the whole request body from ``receive``."""
    pieces = []
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        pieces.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(pieces)


async def scope_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Respond with the parts of the scope a test can check, and the body's size."""
    if scope["type"] != "http":
        return  # No lifespan support: the server logs it and goes on.
    body = await read_body(receive)
    summary = {
        "type": scope["type"],
        "asgi": scope["asgi"],
        "http_version": scope["http_version"],
        "method": scope["method"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query_string": scope["query_string"].decode("latin-1"),
        "root_path": scope["root_path"],
        "headers": [
            [name.decode("latin-1"), value.decode("latin-1")] for name, value in scope["headers"]
        ],
        "client_host": scope["client"][0],
        "server": list(scope["server"]),
        "body_size": len(body),
    }
    payload = json.dumps(summary).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def pieces_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Send the body in several messages, with or without a Content-Length."""
    if scope["type"] != "http":
        return
    pieces = [b"alpha ", b"beta ", b"gamma"]
    headers = [(b"content-type", b"text/plain")]
    if scope["query_string"] == b"length":
        headers.append((b"content-length", str(sum(map(len, pieces))).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for piece in pieces:
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/fail":
        raise RuntimeError("failing before the response started")
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_scope_contents(serve: Callable[..., Any], parser: str) -> None:
    with serve(scope_app, http=parser) as running:
        response = httpx.post(
            running.url + "/a%20b/c?x=1&y=%2F",
            content=b"12345",
            headers={"X-Custom": "Value"},
            timeout=CLIENT_TIMEOUT,
        )

    assert response.status_code == 200
    seen = response.json()
    assert seen["type"] == "http"
    assert seen["asgi"]["version"] == "3.0"
    assert seen["http_version"] == "1.1"
    assert seen["method"] == "POST"
    assert seen["scheme"] == "http"
    assert seen["path"] == "/a b/c"
    assert seen["raw_path"] == "/a%20b/c"
    assert seen["query_string"] == "x=1&y=%2F"
    assert seen["root_path"] == ""
    assert ["x-custom", "Value"] in seen["headers"]
    assert ["content-length", "5"] in seen["headers"]
    assert seen["client_host"] == "127.0.0.1"
    assert seen["server"] == [running.host, running.port]
    assert seen["body_size"] == 5


@pytest.mark.parametrize(
    ("query", "framing"), [("", "transfer-encoding"), ("length", "content-length")]
)
def test_body_in_pieces(serve: Callable[..., Any], parser: str, query: str, framing: str) -> None:
    with serve(pieces_app, http=parser) as running:
        response = httpx.get(f"{running.url}/?{query}", timeout=CLIENT_TIMEOUT)

    assert response.status_code == 200
    assert response.text == "alpha beta gamma"
    assert framing in response.headers


def test_head_has_no_body(serve: Callable[..., Any], parser: str) -> None:
    request = b"HEAD /?length HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

    with serve(pieces_app, http=parser) as running:
        _, reply = raw_exchange(running.host, running.port, request)

    status, headers, body = split_reply(reply)
    assert status == 200
    assert headers["content-length"] == "16"
    assert body == b""


def test_exception_before_start_is_500(serve: Callable[..., Any], parser: str) -> None:
    with (
        serve(failing_app, http=parser) as running,
        httpx.Client(base_url=running.url, timeout=CLIENT_TIMEOUT) as client,
    ):
        failed = client.get("/fail")
        fine = client.get("/fine")

    assert failed.status_code == 500
    assert fine.status_code == 204


RAW_MODULE = '''
"""A plain ASGI app with lifespan, and a factory that builds a second one."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["started_by"] = "lifespan"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = ("plain app, state from " + scope["state"]["started_by"]).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def create_app():
    async def made(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"made by the factory"})

    return made
'''


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "raw_site.py").write_text(textwrap.dedent(RAW_MODULE), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("cli_parser", PARSERS)
def test_cli_plain_app(pounce_process: Callable[..., Any], app_dir: Path, cli_parser: str) -> None:
    with pounce_process("raw_site:app", "--app-dir", str(app_dir), "--http", cli_parser) as proc:
        response = httpx.get(proc.url + "/", timeout=CLIENT_TIMEOUT)
        code = proc.stop()

    assert response.status_code == 200
    assert response.text == "plain app, state from lifespan"
    assert code == 0, "".join(proc.log)


@pytest.mark.parametrize("cli_parser", PARSERS)
def test_cli_factory(pounce_process: Callable[..., Any], app_dir: Path, cli_parser: str) -> None:
    args = ("raw_site:create_app", "--factory", "--app-dir", str(app_dir), "--http", cli_parser)
    with pounce_process(*args) as proc:
        response = httpx.get(proc.url + "/", timeout=CLIENT_TIMEOUT)
        code = proc.stop()

    assert response.status_code == 200
    assert response.text == "made by the factory"
    assert code == 0, "".join(proc.log)
