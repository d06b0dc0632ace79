"""One request on an HTTP/1.1 connection: the bridge's body source and sink.

Theory of operation
-------------------
A ``RequestCycle`` lives from a request head to the end of its response. The
connection feeds it body pieces as the parser emits them; the bridge reads
them through ``read`` and writes the app's response through ``start``,
``body``, ``trailers`` and ``abort``.

Flow control, both ways:

- Request body: pieces wait in a small buffer until the app reads them. Past
  ``BODY_HIGH_WATER`` buffered bytes the connection stops reading from the
  socket, and it reads again once the app has taken them. A body is never
  held whole unless the app never reads and it is small.
- Response body: each piece is written at once; while the transport's
  buffer is above its high-water mark, ``body`` waits for it to drain.

The head is held back until the first body piece, so that a response with a
body known whole leaves in a single ``transport.write``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pounce_asgi_bridge import ClientDisconnected
from pounce_protocols.http1 import Request

if TYPE_CHECKING:
    from .http1 import HTTP1Protocol

__all__ = ["BODY_HIGH_WATER", "RequestCycle"]

#: Buffered request-body bytes beyond which the socket stops being read.
BODY_HIGH_WATER = 65536

_CONNECTION_CLOSE = (b"connection", b"close")


class RequestCycle:
    """The server side of one request: ``BodySource`` and ``ResponseSink`` at once."""

    __slots__ = (
        "_body_waiter",
        "_buffered",
        "_chunks",
        "_continue_pending",
        "_disconnect_waiter",
        "_head_headers",
        "_head_status",
        "_trailers",
        "body_bytes_sent",
        "body_complete",
        "body_received",
        "conn",
        "continue_sent",
        "disconnected",
        "head_written",
        "peer_closed",
        "request",
        "response_complete",
        "started_at",
        "status",
    )

    def __init__(self, conn: HTTP1Protocol, request: Request, started_at: float) -> None:
        self.conn = conn
        self.request = request
        self.started_at = started_at
        self._chunks: list[bytes] = []
        self._buffered = 0
        self.body_received = 0
        self.body_complete = False
        self.disconnected = False
        self.peer_closed = False
        self._body_waiter: asyncio.Future[None] | None = None
        self._disconnect_waiter: asyncio.Future[None] | None = None
        self._continue_pending = request.expect_continue
        self.continue_sent = False
        self._head_status = 0
        self._head_headers: list[tuple[bytes, bytes]] = []
        self._trailers = False
        self.head_written = False
        self.response_complete = False
        self.status = 0
        self.body_bytes_sent = 0

    # The connection feeds the request body in.

    def feed(self, data: bytes) -> None:
        """Take a body piece from the parser."""
        self._chunks.append(data)
        self._buffered += len(data)
        self.body_received += len(data)
        if self._buffered > BODY_HIGH_WATER:
            self.conn.pause_reading()
        self._wake_reader()

    def end_body(self) -> None:
        """Mark the request body complete."""
        self.body_complete = True
        self._wake_reader()

    def lose(self) -> None:
        """Mark the client gone: readers see a disconnect, writers an error."""
        if self.disconnected:
            return
        self.disconnected = True
        self._chunks.clear()
        self._buffered = 0
        self._wake_reader()
        self._wake_disconnect_waiter()

    def notify_peer_closed(self) -> None:
        """Mark the client's input ended: ``wait_disconnected`` returns, writes go on."""
        self.peer_closed = True
        self._wake_disconnect_waiter()

    def _wake_reader(self) -> None:
        waiter = self._body_waiter
        if waiter is not None:
            self._body_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _wake_disconnect_waiter(self) -> None:
        waiter = self._disconnect_waiter
        if waiter is not None:
            self._disconnect_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # BodySource, used by the bridge.

    async def read(self) -> tuple[bytes, bool]:
        """Return the next body piece and whether more will follow."""
        while True:
            if self.disconnected:
                raise ClientDisconnected("the client closed the connection")
            if self._chunks:
                chunks = self._chunks
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self._buffered = 0
                self.conn.resume_reading()
                return data, not self.body_complete
            if self.body_complete:
                return b"", False
            if self._continue_pending:
                # RFC 9110 §10.1.1: the client waits for 100 before sending
                # the body; the app asking for the body is our consent.
                # Once the final head is out, a 100 would land inside the
                # response, so the app waits for a body the client may
                # still send unasked.
                self._continue_pending = False
                if not self.head_written:
                    self.continue_sent = True
                    self.conn.write(self.conn.parser.send_informational(100, []))
            # Readers share one future, which only _wake_reader resolves.
            # The shield keeps a reader that is cancelled (by a timeout,
            # say) from cancelling it under the other readers.
            waiter = self._body_waiter
            if waiter is None:
                waiter = self.conn.loop.create_future()
                self._body_waiter = waiter
            await asyncio.shield(waiter)

    async def wait_disconnected(self) -> None:
        """Return once the client has gone or the response has been sent whole."""
        if self.disconnected or self.peer_closed or self.response_complete:
            return
        waiter = self._disconnect_waiter
        if waiter is None:
            waiter = self.conn.loop.create_future()
            self._disconnect_waiter = waiter
            # Only reading finds the client's EOF, so the connection reads
            # on even with a pipelined request held back (which the
            # machine bounds on its own).
            self.conn.resume_reading()
        # Shielded like the reader's future: a caller that gives up must
        # not cancel the wait of the others or of the next call.
        await asyncio.shield(waiter)

    @property
    def awaiting_disconnect(self) -> bool:
        """Whether the app waits in ``wait_disconnected`` for the client to go."""
        return self._disconnect_waiter is not None

    # ResponseSink, used by the bridge.

    def start(self, status: int, headers: list[tuple[bytes, bytes]], trailers: bool) -> None:
        """Hold the response head until the first body piece."""
        self.status = status
        defaults = self.conn.ctx.default_headers()
        if defaults:
            names = {name for name, _ in headers}
            if names:
                headers = headers + [item for item in defaults if item[0] not in names]
            else:
                headers = headers + defaults
        if self._continue_pending and self.body_received == 0 and not self.body_complete:
            # RFC 9110 §10.1.1: a final response sent while the client still
            # waits for 100 Continue should announce whether the server closes. The
            # client will not send the body, so the connection cannot carry
            # another request.
            self.conn.closing = True
        self._head_status = status
        self._head_headers = headers
        self._trailers = trailers

    async def body(self, data: bytes, more_body: bool) -> None:
        """Write a body piece, with the head when it is the first."""
        if self.disconnected:
            raise ClientDisconnected("the client closed the connection")
        parser = self.conn.parser
        ends = not more_body and not self._trailers
        try:
            if self.head_written:
                out = parser.send_data(data)
                if ends:
                    out += parser.send_end()
            elif ends:
                # The common case: the whole response in one write.
                out = parser.send_response_full(self._head_status, self._final_headers(), data)
            else:
                out = parser.send_response(self._head_status, self._final_headers())
                out += parser.send_data(data)
        except Exception:
            # The machine rejected the response, for example a body that
            # contradicts its Content-Length. The bridge already counts it
            # as sent, so closing the connection is the only signal left.
            self.abort()
            raise
        self.head_written = True
        if self.request.method != b"HEAD":  # a HEAD response carries no body
            self.body_bytes_sent += len(data)
        self.conn.write(out)
        if ends:
            self._finish()
        elif self.conn.write_paused:
            await self.conn.drain()

    async def trailers(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Write the trailer fields, completing the response."""
        if self.disconnected:
            raise ClientDisconnected("the client closed the connection")
        parser = self.conn.parser
        try:
            if self.head_written:
                out = parser.send_end(headers)
            else:
                # Trailers announced but no body sent: the head goes out first.
                out = parser.send_response(self._head_status, self._final_headers())
                out += parser.send_end(headers)
        except Exception:
            # As in body(): a response the machine rejects ends the connection.
            self.abort()
            raise
        self.head_written = True
        self.conn.write(out)
        self._finish()

    def abort(self) -> None:
        """Close the connection: the response cannot be completed."""
        self.conn.abort_cycle(self, reset=self._close_delimited())

    def _close_delimited(self) -> bool:
        # With Content-Length or chunked framing a clean close already shows
        # the body is short. An HTTP/1.0 body without Content-Length ends
        # where the connection does, so only a reset shows it was cut.
        if not self.head_written or self.request.http_version != "1.0":
            return False
        return all(name != b"content-length" for name, _ in self._head_headers)

    def _final_headers(self) -> list[tuple[bytes, bytes]]:
        # Decided as the head goes out rather than in start(), because a
        # graceful shutdown may begin while the app prepares its body.
        if self.conn.closing:
            return [*self._head_headers, _CONNECTION_CLOSE]
        return self._head_headers

    def _finish(self) -> None:
        self.response_complete = True
        self._wake_disconnect_waiter()
        self.conn.response_finished(self)
