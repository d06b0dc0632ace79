"""A small HTTP/1.1 server that uses pounce-asgi-bridge with a parser of its own.

It shows everything a server supplies to the bridge: a request parser (here
a minimal one on ``asyncio`` streams), a ``BodySource``, a ``ResponseSink``
and the connection loop. The bridge does the rest: the scope, the order of
ASGI messages, header checks, the 500 for a failing app, and lifespan.

Run it with ``python examples/bridge_server.py [PORT]``; it serves a small
app on http://127.0.0.1:8000 by default. It needs only the standard library
and pounce-asgi-bridge.

Limits, on purpose: request bodies must use Content-Length (a chunked
request gets 501), there is no TLS, no timeouts and no HTTP/2.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import sys
from dataclasses import dataclass

from pounce_asgi_bridge import (
    ASGIApp,
    ClientDisconnected,
    HTTPCycle,
    HTTPScopeFactory,
    LifespanManager,
    LifespanMode,
    Receive,
    Scope,
    Send,
)

MAX_HEAD_BYTES = 64 * 1024
READ_PIECE_BYTES = 64 * 1024


class BadRequest(Exception):
    """A request this server cannot parse; ``status`` is the status to respond with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class Request:
    method: bytes
    target: bytes
    http_version: str
    headers: list[tuple[bytes, bytes]]
    content_length: int
    keep_alive: bool
    expects_continue: bool


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Parse one request head; return None when the client closed between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise BadRequest(400, "connection closed inside the request head") from None
    except asyncio.LimitOverrunError:
        raise BadRequest(431, "request head too large") from None

    request_line, *field_lines = head[:-4].split(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest(400, "invalid request line")
    method, target, version = parts

    headers: list[tuple[bytes, bytes]] = []
    for line in field_lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, "invalid header line")
        headers.append((name.lower(), value.strip(b" \t")))
    fields = dict(headers)

    if b"transfer-encoding" in fields:
        raise BadRequest(501, "chunked request bodies are not supported")
    length = fields.get(b"content-length", b"0")
    if not length.isdigit():
        raise BadRequest(400, "invalid Content-Length")
    connection = fields.get(b"connection", b"").lower()
    keep_alive = connection != b"close" if version == b"HTTP/1.1" else connection == b"keep-alive"
    return Request(
        method=method,
        target=target,
        http_version=version[5:].decode("ascii"),
        headers=headers,
        content_length=int(length),
        keep_alive=keep_alive,
        expects_continue=fields.get(b"expect", b"").lower() == b"100-continue",
    )


class StreamBody:
    """The ``BodySource``: reads exactly Content-Length bytes from the stream."""

    def __init__(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.remaining = request.content_length
        self.response_done = asyncio.Event()
        self._reader = reader
        self._writer = writer
        self._send_continue = request.expects_continue and request.http_version == "1.1"

    async def read(self) -> tuple[bytes, bool]:
        if self._send_continue:
            # The app asked for the body, so now the client may send it.
            self._send_continue = False
            self._writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self.remaining == 0:
            return b"", False
        try:
            data = await self._reader.read(min(self.remaining, READ_PIECE_BYTES))
        except ConnectionError as exc:
            raise ClientDisconnected(str(exc)) from exc
        if not data:
            raise ClientDisconnected("the client closed the connection inside the body")
        self.remaining -= len(data)
        return data, self.remaining > 0

    async def wait_disconnected(self) -> None:
        # NOTE: this server notices a departed client only when a write
        # fails, because watching for the peer to close would mean reading
        # ahead into a pipelined request. Until then this waits for the
        # response to end.
        await self.response_done.wait()


class StreamSink:
    """The ``ResponseSink``: frames the response as HTTP/1.1 on the stream."""

    def __init__(self, request: Request, writer: asyncio.StreamWriter, body: StreamBody) -> None:
        self.keep_alive = request.keep_alive
        self._writer = writer
        self._body = body
        self._http11 = request.http_version == "1.1"
        self._no_body = request.method == b"HEAD"
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._has_length = False
        self._trailers = False
        self._head_sent = False
        self._chunked = False

    def start(self, status: int, headers: list[tuple[bytes, bytes]], trailers: bool) -> None:
        # The head waits for the first body piece so that it can carry a
        # Content-Length when the body arrives whole.
        self._status = status
        self._headers = headers
        self._has_length = any(name == b"content-length" for name, _ in headers)
        self._no_body = self._no_body or status in (204, 304)
        # Trailers need chunked framing, so HTTP/1.0 and fixed-length
        # responses drop them.
        self._trailers = trailers and self._http11 and not self._has_length and not self._no_body

    async def body(self, data: bytes, more_body: bool) -> None:
        out = b""
        if not self._head_sent:
            out = self._serialize_head(data, more_body)
        if data and not self._no_body:
            out += b"%x\r\n%s\r\n" % (len(data), data) if self._chunked else data
        if not more_body and self._chunked and not self._trailers:
            out += b"0\r\n\r\n"
        await self._write(out)
        if not more_body and not self._trailers:
            self._body.response_done.set()

    async def trailers(self, headers: list[tuple[bytes, bytes]]) -> None:
        if self._trailers:
            fields = b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers)
            await self._write(b"0\r\n" + fields + b"\r\n")
        self._body.response_done.set()

    def abort(self) -> None:
        self.keep_alive = False
        self._writer.transport.abort()
        self._body.response_done.set()

    def _serialize_head(self, data: bytes, more_body: bool) -> bytes:
        self._head_sent = True
        framing: list[tuple[bytes, bytes]] = []
        if self._no_body or self._has_length:
            pass
        elif not more_body and not self._trailers:
            framing.append((b"content-length", b"%d" % len(data)))
        elif self._http11:
            self._chunked = True
            framing.append((b"transfer-encoding", b"chunked"))
        else:
            self.keep_alive = False  # HTTP/1.0 without a length: close-delimited.
        if not self.keep_alive:
            framing.append((b"connection", b"close"))

        try:
            reason = http.HTTPStatus(self._status).phrase.encode("ascii")
        except ValueError:
            reason = b""
        lines = [b"HTTP/1.1 %d %s\r\n" % (self._status, reason)]
        lines += [b"%s: %s\r\n" % field for field in self._headers + framing]
        return b"".join(lines) + b"\r\n"

    async def _write(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise ClientDisconnected("the connection is closed")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except ConnectionError as exc:
            raise ClientDisconnected(str(exc)) from exc


class SmallServer:
    """Serves an ASGI app on 127.0.0.1, with lifespan, until ``stop``."""

    def __init__(self, app: ASGIApp, port: int = 8000, lifespan: LifespanMode = "auto") -> None:
        self._app = app
        self._port = port
        self._lifespan = LifespanManager(app, lifespan)
        self._factory = HTTPScopeFactory()
        self._connections: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port bound, useful after binding port 0."""
        if self._server is None:
            raise RuntimeError("The server is not listening yet; call start() first")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        await self._lifespan.startup()
        state = self._lifespan.state if self._lifespan.supported else None
        self._factory = HTTPScopeFactory(state=state)
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self._port, limit=MAX_HEAD_BYTES
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        await self._lifespan.shutdown()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        client = writer.get_extra_info("peername")[:2]
        server = writer.get_extra_info("sockname")[:2]
        try:
            while True:
                try:
                    request = await read_request(reader)
                except BadRequest as exc:
                    await answer_error(writer, exc.status)
                    break
                if request is None:
                    break

                source = StreamBody(request, reader, writer)
                sink = StreamSink(request, writer, source)
                scope = self._factory.build(
                    request.method,
                    request.target,
                    request.http_version,
                    request.headers,
                    client,
                    server,
                )
                cycle = HTTPCycle(scope, source, sink)
                await cycle.run(self._app)
                # An unread body would be parsed as the next request.
                if not (cycle.response_complete and sink.keep_alive and source.remaining == 0):
                    break
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def answer_error(writer: asyncio.StreamWriter, status: int) -> None:
    reason = http.HTTPStatus(status).phrase.encode("ascii")
    writer.write(
        b"HTTP/1.1 %d %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n" % (status, reason)
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Say hello on GET, echo the body on POST."""
    if scope["type"] != "http":
        return  # No lifespan needed: returning first makes "auto" skip it.
    body = b""
    more_body = True
    while more_body:
        message = await receive()
        body += message.get("body", b"")
        more_body = message.get("more_body", False)
    text = body if scope["method"] == "POST" else b"Hello from %s\n" % scope["raw_path"]
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": text})


async def main(port: int) -> None:
    server = SmallServer(hello_app, port)
    await server.start()
    print(f"Serving on http://127.0.0.1:{server.port} (Ctrl+C stops)")
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000))
