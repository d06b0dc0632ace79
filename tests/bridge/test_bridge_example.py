"""The example server in examples/bridge_server.py, over real loopback sockets.

It is the bridge used with a parser other than Pounce's, so it runs here,
with the standard library only, in the bridge-only environment too.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pounce_asgi_bridge import Receive, Scope, Send

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bridge_server.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bridge_server_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """Read one Content-Length response and return its status line, headers and body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers[b"content-length"])), 10)
    return status_line, headers, body


def test_example_serves_requests_with_keep_alive() -> None:
    example = load_example()
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            scope["state"]["greeting"] = "hello"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append(scope)
        request_body = b""
        while True:
            message = await receive()
            request_body += message["body"]
            if not message["more_body"]:
                break
        text = b"%s %s %s %s|%s" % (
            scope["method"].encode(),
            scope["path"].encode(),
            scope["query_string"],
            scope["state"]["greeting"].encode(),
            request_body,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": text})

    async def scenario() -> None:
        server = example.SmallServer(app, port=0, lifespan="on")
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /a%20b?x=1 HTTP/1.1\r\nHost: example.test\r\n\r\n")
            status, headers, body = await read_response(reader)
            assert status == b"HTTP/1.1 200 OK"
            assert headers[b"content-type"] == b"text/plain"
            assert body == b"GET /a b x=1 hello|"

            # The same connection carries a second request, with a body.
            writer.write(
                b"POST /echo HTTP/1.1\r\nHost: example.test\r\n"
                b"Content-Length: 5\r\nConnection: close\r\n\r\nhello"
            )
            status, headers, body = await read_response(reader)
            assert status == b"HTTP/1.1 200 OK"
            assert headers[b"connection"] == b"close"
            assert body == b"POST /echo  hello|hello"
            assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()
        finally:
            await server.stop()

    asyncio.run(scenario())
    assert [scope["client"][0] for scope in seen] == ["127.0.0.1", "127.0.0.1"]
    assert seen[0]["server"][0] == "127.0.0.1"


def test_example_answers_500_for_failing_app() -> None:
    example = load_example()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise ValueError("the example app failed on purpose")

    async def scenario() -> None:
        server = example.SmallServer(app, port=0)
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
            status, _, body = await read_response(reader)
            assert status == b"HTTP/1.1 500 Internal Server Error"
            assert body == b"Internal Server Error"
            writer.close()
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_example_streams_chunked_with_trailers() -> None:
    example = load_example()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "trailers": True,
                "headers": [(b"trailer", b"x-checksum")],
            }
        )
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await send({"type": "http.response.body", "body": b"two"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"42")]})

    async def scenario() -> bytes:
        server = example.SmallServer(app, port=0)
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
            raw = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return raw
        finally:
            await server.stop()

    raw = asyncio.run(scenario())
    head, _, framed_body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ntransfer-encoding: chunked" in head
    assert framed_body == b"3\r\none\r\n3\r\ntwo\r\n0\r\nx-checksum: 42\r\n\r\n"
