"""Pounce's own HTTP/1.1 server machine, built for the hot path.

Theory of operation
-------------------
The machine keeps one ``bytes`` buffer of input not yet consumed and a
receive state: ``head``, ``body`` (Content-Length), ``chunked``, ``done``
(EndOfMessage emitted) or ``error``.

In ``head``, the common case is a whole head in one read. It is found with
one ``find(b"\\r\\n\\r\\n")`` and checked with a few whole-buffer C calls
(control bytes, CRLF count, line lengths, folding, version). Only when one of
those fails, or the head is still incomplete, does ``LineScanner`` walk the
lines to name the first fault in stream order. Syntax and framing rules then
run on the split lines (``_head``).

In ``done``, bytes of a pipelined request are kept, not parsed, until
``start_next_cycle``. They are bounded: once more than ``max_head`` plus
``PIPELINE_MARGIN`` bytes are waiting, the machine drops them, ignores any
that follow and turns ``keep_alive`` off, so the connection closes after the
current response and the client must send those requests again.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._chunked import ChunkedDecoder
from ._cycle import BODY, CHUNKED, DONE, ERROR, HEAD, PIPELINE_MARGIN, CycleState
from ._errors import ProtocolError
from ._events import Data, EndOfMessage, Event, Headers, Request
from ._head import interpret_head, parse_fields, parse_request_line
from ._limits import DEFAULT_LIMITS, HTTP1Limits
from ._lines import LineScanner, skip_empty_lines
from ._tables import CONTROLS_TO_LF
from ._writer import COMPLETE, IDLE, ResponseSerializer, build_error_response

__all__ = ["PIPELINE_MARGIN", "FastHTTP1Connection"]

_HEAD = HEAD
_BODY = BODY
_CHUNKED = CHUNKED
_DONE = DONE
_ERROR = ERROR

_SUPPORTED_VERSION_ENDINGS = (b" HTTP/1.1", b" HTTP/1.0")


class FastHTTP1Connection(CycleState):
    """The server side of one HTTP/1.1 connection, parsed by Pounce's own code."""

    __slots__ = (
        "_chunked",
        "_empty_lines",
        "_limits",
        "_max_body",
        "_min_line_limit",
        "_remaining",
        "_request",
        "_scanner",
        "_searched",
    )

    def __init__(self, limits: HTTP1Limits | None = None) -> None:
        self._limits = limits if limits is not None else DEFAULT_LIMITS
        self._max_body = self._limits.max_body
        self._min_line_limit = min(self._limits.max_request_line, self._limits.max_header_field)
        self._pipeline_bound = self._limits.max_head + PIPELINE_MARGIN
        self._scanner = LineScanner(self._limits, request=True)
        self._serializer = ResponseSerializer()
        self._buffer = b""
        self._searched = 0
        self._state = _HEAD
        self._request: Request | None = None
        self._remaining = 0
        self._chunked: ChunkedDecoder | None = None
        self._empty_lines = 0
        self._eof = False
        self._discarding = False
        self._error: ProtocolError | None = None

    # -- state -------------------------------------------------------------

    @property
    def request(self) -> Request | None:
        """The request of the current cycle, once its head has been parsed."""
        return self._request

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this cycle."""
        if self._state == _ERROR:
            return False
        if self._serializer.state == COMPLETE and self._state != _DONE:
            return False
        return self._serializer.keep_alive

    @property
    def request_complete(self) -> bool:
        """Whether the current request's ``EndOfMessage`` has been emitted."""
        return self._state == _DONE

    @property
    def response_complete(self) -> bool:
        """Whether the current response has been serialized to its end."""
        return self._serializer.state == COMPLETE

    def _describe(self) -> str:
        return (
            f"request state {self._state!r}, response state {self._serializer.state!r}, "
            f"keep_alive {self.keep_alive}"
        )

    # -- receiving ---------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Parse ``data`` (``b""`` for end of input) and return complete events."""
        if self._error is not None:
            raise self._error
        if not data:
            return self._receive_eof()
        if self._eof:
            raise RuntimeError("receive_data() got bytes after the end of input was signaled")
        if self._state == _DONE:
            self._keep_pipelined(self._buffer + data)
            return []
        try:
            return self._parse(self._buffer + data if self._buffer else data)
        except ProtocolError as exc:
            self._fail(exc)
            raise

    def start_next_cycle(self) -> list[Event]:
        """Begin the next request and return events from bytes already buffered."""
        # With both sides complete, ``keep_alive`` reduces to the writer's flag.
        if not (
            self._state == _DONE
            and self._serializer.state == COMPLETE
            and self._serializer.keep_alive
        ):
            raise RuntimeError(
                f"start_next_cycle() needs a finished keep-alive cycle; {self._describe()}"
            )
        self._state = _HEAD
        self._request = None
        self._serializer.state = IDLE
        buffer = self._buffer
        self._buffer = b""
        try:
            events = self._parse(buffer) if buffer else []
            if self._eof:
                events += self._receive_eof()
        except ProtocolError as exc:
            self._fail(exc)
            raise
        return events

    def _parse(self, buffer: bytes) -> list[Event]:
        events: list[Event] = []
        if self._state == _HEAD:
            buffer = self._read_head(buffer, events)
            if self._state == _HEAD:
                self._buffer = buffer
                return events
        if self._state == _BODY:
            buffer = self._read_length_body(buffer, events)
        elif self._state == _CHUNKED:
            buffer = self._read_chunked_body(buffer, events)
        if self._state == _DONE:
            self._buffer = b""
            if buffer:
                self._keep_pipelined(buffer)
        else:
            self._buffer = buffer
        return events

    def _read_head(self, buffer: bytes, events: list[Event]) -> bytes:
        """Parse a request head from ``buffer`` if it is complete; return what is left."""
        if buffer[:1] in (b"\r", b"\n"):
            buffer, self._empty_lines = skip_empty_lines(buffer, self._empty_lines)
            if buffer in (b"", b"\r"):
                return buffer
            self._searched = 0

        # The end of the head may straddle the previous read, so search again
        # from three bytes before where the last search stopped.
        end = buffer.find(b"\r\n\r\n", self._searched)
        if end == -1:
            self._searched = max(0, len(buffer) - 3)
            self._scanner.scan(buffer)
            return buffer
        self._searched = 0

        if end + 4 > self._limits.max_head:
            # The scanner raises for the first line past the limit, or earlier.
            self._scanner.scan(buffer)
        head = buffer[:end]
        lines = head.split(b"\r\n")
        if not self._head_passes_line_checks(head, lines):
            # Let the scanner find and raise the first fault in stream order.
            # A 505 is its only verdict the fast checks leave undecided; any
            # other request line it lets through fails the syntax check below.
            self._scanner.scan(buffer)
        self._scanner.reset()

        method, target, http_version = parse_request_line(lines[0])
        headers = parse_fields(lines[1:])
        self._start_request(method, target, http_version, headers, events)
        return buffer[end + 4 :]

    def _head_passes_line_checks(self, head: bytes, lines: list[bytes]) -> bool:
        """Run the ``LineScanner`` checks on a whole head as whole-buffer C calls.

        Obsolete line folding is left to ``parse_fields``: a folded line has
        no valid field name, and once the size, count and version checks
        here have passed, the scanner would raise a 400 for it as well.
        """
        field_count = len(lines) - 1
        # Every control byte becomes LF, so a clean head counts exactly the
        # CR and LF of its CRLF pairs.
        if head.translate(CONTROLS_TO_LF).count(b"\n") != 2 * field_count:
            return False
        if not lines[0].endswith(_SUPPORTED_VERSION_ENDINGS):
            return False
        limits = self._limits
        if field_count > limits.max_header_count:
            return False
        # No line is longer than the whole head, so a head within both line
        # limits needs no line measured.
        if len(head) > self._min_line_limit:
            if len(lines[0]) > limits.max_request_line:
                return False
            if field_count and max(map(len, lines[1:])) > limits.max_header_field:
                return False
        return True

    def _start_request(
        self,
        method: bytes,
        target: bytes,
        http_version: str,
        headers: Headers,
        events: list[Event],
    ) -> None:
        content_length, chunked, keep_alive, expect = interpret_head(
            http_version, headers, self._max_body
        )
        request = Request(
            method, target, http_version, headers, keep_alive, expect, content_length, chunked
        )
        self._request = request
        self._empty_lines = 0
        self._serializer.start(http_version, method == b"HEAD", keep_alive)
        events.append(request)
        if chunked:
            self._chunked = ChunkedDecoder(self._limits)
            self._state = _CHUNKED
        elif content_length:
            self._remaining = content_length
            self._state = _BODY
        else:
            events.append(EndOfMessage())
            self._state = _DONE

    def _read_length_body(self, buffer: bytes, events: list[Event]) -> bytes:
        remaining = self._remaining
        if len(buffer) < remaining:
            if buffer:
                events.append(Data(buffer))
                self._remaining = remaining - len(buffer)
            return b""
        events.append(Data(buffer[:remaining]))
        events.append(EndOfMessage())
        self._state = _DONE
        return buffer[remaining:]

    def _read_chunked_body(self, buffer: bytes, events: list[Event]) -> bytes:
        decoder = self._chunked
        assert decoder is not None
        pieces, pos = decoder.decode(buffer, 0)
        events += [Data(piece) for piece in pieces]
        if decoder.done:
            events.append(EndOfMessage(decoder.trailers))
            self._chunked = None
            self._state = _DONE
        return buffer[pos:]

    # -- sending -----------------------------------------------------------

    def _require_request(self, call: str) -> None:
        if self._request is None:
            raise RuntimeError(
                f"{call}() called before a request head was parsed; {self._describe()}"
            )

    def send_informational(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        """Serialize a 1xx response, such as ``100 Continue``."""
        self._require_request("send_informational")
        return self._serializer.informational(status, headers)

    def send_response(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], reason: bytes = b""
    ) -> bytes:
        """Serialize the response head, adding framing headers where needed."""
        self._require_request("send_response")
        return self._serializer.head(status, headers, reason)

    def send_data(self, data: bytes) -> bytes:
        """Serialize a piece of the response body (chunked when framed so)."""
        return self._serializer.data(data)

    def send_end(self, trailers: Headers | None = None) -> bytes:
        """Serialize the end of the response body."""
        return self._serializer.end(trailers)

    def send_response_full(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes, reason: bytes = b""
    ) -> bytes:
        """Serialize a whole response: head, body and end, in one buffer."""
        self._require_request("send_response_full")
        return self._serializer.full(status, headers, body, reason)

    def send_error_response(
        self, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> bytes:
        """Serialize a short plain-text error response with ``Connection: close``."""
        data = build_error_response(status, message, headers)
        self._serializer.error()
        return data
