"""What a server provides to the bridge for each request.

Theory of operation
-------------------
The bridge runs one ASGI HTTP request: it builds the scope, gives the app
``receive`` and ``send``, checks the order of what the app sends, and turns
an app's failure into a 500 or an aborted connection. It never touches a
socket. For each request the server hands it two objects:

- a ``BodySource``, which yields the request body piece by piece and reports
  when the client has gone, and
- a ``ResponseSink``, which turns the app's response into the server's
  protocol: a head, body pieces, optional trailers, or an abort.

A server implements both once per protocol. The sink may hold the head back
until the first body piece, so that a small response leaves in one write;
it must not buffer a streamed body whole.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["BodySource", "ClientDisconnected", "ResponseSink"]


class ClientDisconnected(OSError):
    """The client closed the connection; raised by ``send`` after it has gone."""


class BodySource(Protocol):
    """The request body as the server receives it."""

    async def read(self) -> tuple[bytes, bool]:
        """Return the next body piece and whether more will follow.

        The first call is when a server answers ``Expect: 100-continue``.
        Raise ``ClientDisconnected`` if the client left before the body
        ended. Return promptly, without waiting on the loop, when a piece
        has already arrived.
        """

    async def wait_disconnected(self) -> None:
        """Return once the client has gone or the response has been sent whole."""


class ResponseSink(Protocol):
    """The destination of the app's response."""

    def start(self, status: int, headers: list[tuple[bytes, bytes]], trailers: bool) -> None:
        """Accept the response head; it may be written with the first body piece.

        ``trailers`` is true when the app announced ``http.response.trailers``.
        ``headers`` may be the app's own list, so treat it as read-only.
        """

    async def body(self, data: bytes, more_body: bool) -> None:
        """Write a body piece, waiting while the peer applies backpressure.

        With ``more_body`` false, the response body is complete (and the
        response too, unless trailers were announced). Raise
        ``ClientDisconnected`` if the client has gone. ``data`` may be empty
        with ``more_body`` true when the app wants the head out before a
        slow stream; it must not end a chunked body.
        """

    async def trailers(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Write the trailer fields and complete the response."""

    def abort(self) -> None:
        """Close the connection because the response cannot be finished.

        Called at most once, and never after this sink raised
        ``ClientDisconnected``. It usually follows ``start``, but comes
        before it when the app raised ``ClientDisconnected`` on its own.
        """
