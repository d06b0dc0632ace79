"""The interface every server-side HTTP/1.1 machine implements.

Theory of operation
-------------------
A machine is sans-I/O: the server feeds it the bytes a socket produced and
writes out the bytes it returns. One machine serves one connection, one
request/response cycle at a time:

1. ``receive_data(data)`` parses what it can and returns the events now
   complete: a ``Request``, then ``Data`` pieces, then ``EndOfMessage``. After
   ``EndOfMessage`` it parses nothing more; later bytes (a pipelined request)
   are kept until the cycle ends. ``receive_data(b"")`` tells it the peer
   closed its side: at a message boundary that yields ``ConnectionClosed``,
   inside a message it raises ``ProtocolError``.
2. The server answers with ``send_response`` (the head), ``send_data`` and
   ``send_end``, or with ``send_response_full`` for a body known whole. Each
   returns the bytes to write. The machine picks the framing: Content-Length
   when the app gave one, chunked for HTTP/1.1 otherwise, close-delimited for
   HTTP/1.0, and no body at all for HEAD, 1xx, 204 and 304.
3. When the response is complete and ``keep_alive`` is true, the server calls
   ``start_next_cycle()``, which returns the events of any request already
   buffered. If ``keep_alive`` is false, the server closes the connection.

Bad input raises ``ProtocolError`` carrying the status to answer with; the
machine is then dead, and ``send_error_response`` builds the one answer the
server writes before it closes. Misuse by the server itself (a body before the
head, a second head) raises ``RuntimeError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._events import Event, Headers, Request

__all__ = ["HTTP1ServerConnection"]


class HTTP1ServerConnection(Protocol):
    """The server side of one HTTP/1.1 connection."""

    @property
    def request(self) -> Request | None:
        """The request of the current cycle, once its head has been parsed."""

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this cycle.

        False once either side asked to close (``Connection: close``, HTTP/1.0
        without keep-alive, a close-delimited response body) or the request
        body was not read to its end.
        """

    @property
    def request_complete(self) -> bool:
        """Whether the current request's ``EndOfMessage`` has been emitted."""

    @property
    def response_complete(self) -> bool:
        """Whether the current response has been serialized to its end."""

    def receive_data(self, data: bytes) -> list[Event]:
        """Parse ``data`` (``b""`` for end of input) and return complete events."""

    def start_next_cycle(self) -> list[Event]:
        """Begin the next request and return events from bytes already buffered."""

    def send_informational(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        """Serialize a 1xx response, such as ``100 Continue``."""

    def send_response(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], reason: bytes = b""
    ) -> bytes:
        """Serialize the response head, adding framing headers where needed."""

    def send_data(self, data: bytes) -> bytes:
        """Serialize a piece of the response body (chunked when framed so)."""

    def send_end(self, trailers: Headers | None = None) -> bytes:
        """Serialize the end of the response body."""

    def send_response_full(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes, reason: bytes = b""
    ) -> bytes:
        """Serialize a whole response: head, body and end, in one buffer."""

    def send_error_response(
        self, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> bytes:
        """Serialize a short plain-text error answer with ``Connection: close``.

        ``headers`` are added as given (the server's ``Date`` and ``Server``).
        This works in any state, including after a ``ProtocolError``.
        """
