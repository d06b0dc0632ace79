"""An HTTP/1.1 server machine that lets h11 parse requests and write responses.

Theory of operation
-------------------
h11 parses the request line, the header fields, Host, Content-Length and the
body, and writes every response. Each cycle gets a fresh ``h11.Connection``
for reading, so HTTP/1.0 keep-alive, which h11 does not offer, still works,
and each response is written by a fresh ``h11.Connection`` primed with a
synthetic request that makes h11 pick the framing Pounce chose.

h11 is more lenient than Pounce's rules, or returns another status, in a
few places. These checks are ours rather than h11's, and they use the same
code as the fast machine so the two backends reach the same verdict:

- ``LineScanner`` runs on the head before h11 sees it: empty lines before
  the request line, bare CR and LF, control bytes, obsolete line folding,
  the 414 and 431 limits, and 505 for an HTTP version other than 1.0/1.1.
- ``interpret_head`` runs on the raw fields after h11 accepts a head: both
  Transfer-Encoding and Content-Length, Transfer-Encoding in HTTP/1.0, our
  Transfer-Encoding verdicts (400 or 501), at most 18 Content-Length digits,
  and 413 for ``max_body``. When h11 rejects a Transfer-Encoding with 501,
  our rules decide the status instead.
- A ``ChunkedDecoder`` reads a chunked body alongside h11 and rejects first:
  chunk sizes over 16 digits, malformed extensions, long size lines, bare LF
  and ``max_body``. It also parses the trailer section, which h11 never sees,
  because h11 applies Content-Length and Transfer-Encoding rules to trailers.
- End of input, the bound on pipelined bytes and the response framing plan
  (``plan_response``) are shared with the fast machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import h11

from ._chunked import ChunkedDecoder
from ._cycle import BODY, DONE, ERROR, HEAD, PIPELINE_MARGIN, CycleState
from ._errors import ProtocolError
from ._events import Data, EndOfMessage, Event, Headers, Request
from ._head import interpret_head
from ._limits import DEFAULT_LIMITS, HTTP1Limits
from ._lines import LineScanner, skip_empty_lines
from ._status import reason_phrase
from ._writer import (
    CHUNKED,
    CLOSE_DELIMITED,
    COMPLETE,
    IDLE,
    ResponsePlan,
    ResponseSerializer,
)

__all__ = ["H11Connection"]

_HEAD = HEAD
_BODY = BODY
_DONE = DONE
_ERROR = ERROR

_SPECIAL_FIELDS = (b"content-length", b"transfer-encoding")


def _raw_fields(head: bytes) -> Headers:
    """Split the field lines of a head that h11 accepted, without checking them again."""
    fields: Headers = []
    for line in head.split(b"\r\n")[1:-2]:
        name, _, value = line.partition(b":")
        fields.append((name.lower(), value.strip(b" \t")))
    return fields


def _version_of(head: bytes) -> str:
    request_line = head.split(b"\r\n", 1)[0]
    return "1.0" if request_line.endswith(b"HTTP/1.0") else "1.1"


def _primed_writer(http_version: bytes, close: bool) -> h11.Connection:
    """Return an h11 server connection that has read a synthetic GET and awaits a response."""
    connection = h11.Connection(h11.SERVER)
    close_line = b"connection: close\r\n" if close else b""
    connection.receive_data(b"GET / HTTP/%s\r\nhost: pounce\r\n%s\r\n" % (http_version, close_line))
    connection.next_event()
    connection.next_event()
    return connection


class H11Connection(CycleState):
    """The server side of one HTTP/1.1 connection, parsed and written by h11."""

    __slots__ = (
        "_chunked",
        "_empty_lines",
        "_limits",
        "_reader",
        "_request",
        "_scanner",
        "_writer",
    )

    def __init__(self, limits: HTTP1Limits | None = None) -> None:
        self._limits = limits if limits is not None else DEFAULT_LIMITS
        self._pipeline_bound = self._limits.max_head + PIPELINE_MARGIN
        self._scanner = LineScanner(self._limits, request=True)
        # Keeps the response state and checks the app's body sizes; the
        # bytes it builds are dropped in favour of h11's.
        self._serializer = ResponseSerializer()
        self._reader = self._new_reader()
        self._writer: h11.Connection | None = None
        self._buffer = b""
        self._state = _HEAD
        self._request: Request | None = None
        self._chunked: ChunkedDecoder | None = None
        self._empty_lines = 0
        self._eof = False
        self._discarding = False
        self._error: ProtocolError | None = None

    def _new_reader(self) -> h11.Connection:
        # Our checks bound the head and every line before h11 buffers them,
        # so h11's own limit is set where it cannot be reached first.
        limits = self._limits
        bound = limits.max_head + limits.max_header_count * (limits.max_header_field + 2)
        return h11.Connection(h11.SERVER, max_incomplete_event_size=bound + 65536)

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
            return self._parse(self._buffer + data)
        except ProtocolError as exc:
            self._fail(exc)
            raise

    def start_next_cycle(self) -> list[Event]:
        """Begin the next request and return events from bytes already buffered."""
        if not (self._state == _DONE and self._serializer.state == COMPLETE and self.keep_alive):
            raise RuntimeError(
                f"start_next_cycle() needs a finished keep-alive cycle; {self._describe()}"
            )
        self._state = _HEAD
        self._request = None
        self._reader = self._new_reader()
        self._writer = None
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
            buffer = self._read_body(buffer, events)
        if self._state == _DONE:
            self._buffer = b""
            if buffer:
                self._keep_pipelined(buffer)
        else:
            self._buffer = buffer
        return events

    def _read_head(self, buffer: bytes, events: list[Event]) -> bytes:
        if buffer[:1] in (b"\r", b"\n"):
            buffer, self._empty_lines = skip_empty_lines(buffer, self._empty_lines)
            if buffer in (b"", b"\r"):
                return buffer
        end = self._scanner.scan(buffer)
        if end == -1:
            return buffer
        self._scanner.reset()
        head = buffer[:end]

        self._reader.receive_data(head)
        try:
            event = self._reader.next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 501:
                # h11 rejects every Transfer-Encoding but "chunked" with 501;
                # our rules may reject with 400 first, so they decide.
                interpret_head(_version_of(head), _raw_fields(head), self._limits.max_body)
            raise ProtocolError(str(exc), exc.error_status_hint) from exc
        if not isinstance(event, h11.Request):
            raise RuntimeError(f"h11 returned {event!r} for a complete request head")

        http_version = event.http_version.decode("ascii")
        fields = _raw_fields(head)
        content_length, chunked, keep_alive, _ = interpret_head(
            http_version, fields, self._limits.max_body
        )
        # h11 drops repeated Content-Length fields and lowercases
        # Transfer-Encoding; those two come from the raw head, all other
        # fields from h11, in wire order.
        from_h11 = iter([field for field in event.headers if field[0] not in _SPECIAL_FIELDS])
        headers = [field if field[0] in _SPECIAL_FIELDS else next(from_h11) for field in fields]
        request = Request(
            event.method,
            event.target,
            http_version,
            headers,
            keep_alive,
            self._reader.they_are_waiting_for_100_continue,
            content_length,
            chunked,
        )
        self._request = request
        self._empty_lines = 0
        self._serializer.start(http_version, event.method == b"HEAD", keep_alive)
        events.append(request)
        self._state = _BODY
        if chunked:
            self._chunked = ChunkedDecoder(self._limits)
        return buffer[end:]

    def _read_body(self, buffer: bytes, events: list[Event]) -> bytes:
        """Hand body bytes to h11 and return what follows the message."""
        decoder = self._chunked
        if decoder is None:
            self._feed_reader(buffer)
            self._drain_reader(events, [])
            return self._reader.trailing_data[0] if self._state == _DONE else b""

        # The decoder checks the chunk framing first; h11 gets only bytes the
        # decoder accepted, and an empty trailer section in place of the real one.
        _, pos = decoder.decode(buffer, 0, stop_at_trailers=True)
        self._feed_reader(buffer[:pos])
        self._drain_reader(events, [])
        if not decoder.in_trailers:
            return buffer[pos:]
        _, end = decoder.decode(buffer, pos)
        if not decoder.done:
            return buffer[pos:]
        self._reader.receive_data(b"\r\n")
        self._drain_reader(events, decoder.trailers)
        self._chunked = None
        return buffer[end:]

    def _feed_reader(self, data: bytes) -> None:
        # h11 takes b"" as the end of input, which is ours to signal.
        if data:
            self._reader.receive_data(data)

    def _drain_reader(self, events: list[Event], trailers: Headers) -> None:
        while True:
            try:
                event = self._reader.next_event()
            except h11.RemoteProtocolError as exc:
                raise ProtocolError(str(exc), exc.error_status_hint) from exc
            if isinstance(event, h11.Data):
                events.append(Data(bytes(event.data)))
            elif isinstance(event, h11.EndOfMessage):
                events.append(EndOfMessage(trailers))
                self._state = _DONE
                return
            else:
                return

    # -- sending -----------------------------------------------------------

    def _require_request(self, call: str) -> None:
        if self._request is None:
            raise RuntimeError(
                f"{call}() called before a request head was parsed; {self._describe()}"
            )

    def _send(self, event: h11.Event) -> bytes:
        assert self._writer is not None
        try:
            data = self._writer.send(event)
        except h11.LocalProtocolError as exc:
            raise ValueError(f"h11 cannot write this response: {exc}") from exc
        assert data is not None
        return data

    def _send_head(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        reason: bytes,
        plan: ResponsePlan,
    ) -> bytes:
        """Write the head with h11, framed the way ``plan`` decided."""
        # h11 writes a close-delimited body only for an HTTP/1.0 request, so
        # the writer is primed with one. h11 also writes no coding but
        # "chunked", so the app's own coding goes back into the head after.
        version = b"1.0" if plan.mode == CLOSE_DELIMITED else b"1.1"
        self._writer = _primed_writer(version, close=not plan.keep_alive)
        omitted = plan.omitted | {b"transfer-encoding"} if plan.app_coding else plan.omitted
        fields = [(n, v) for n, v in headers if n.lower() not in omitted] + plan.added
        response = h11.Response(
            status_code=status, headers=fields, reason=reason or reason_phrase(status)
        )
        head = self._send(response)
        if plan.app_coding is not None:
            coding_line = b"transfer-encoding: " + plan.app_coding + b"\r\n"
            if plan.mode == CHUNKED:
                head = head.replace(b"Transfer-Encoding: chunked\r\n", coding_line, 1)
            else:
                head = head[:-2] + coding_line + b"\r\n"
        return head

    def send_informational(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        """Serialize a 1xx response, such as ``100 Continue``."""
        self._require_request("send_informational")
        if not self._serializer.informational(status, headers):
            return b""
        self._writer = _primed_writer(b"1.1", close=False)
        informational = h11.InformationalResponse(
            status_code=status, headers=list(headers), reason=reason_phrase(status)
        )
        return self._send(informational)

    def send_response(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], reason: bytes = b""
    ) -> bytes:
        """Serialize the response head, adding framing headers where needed."""
        self._require_request("send_response")
        self._serializer.head(status, headers, reason)
        assert self._serializer.plan is not None
        return self._send_head(status, headers, reason, self._serializer.plan)

    def send_data(self, data: bytes) -> bytes:
        """Serialize a piece of the response body (chunked when framed so)."""
        self._serializer.data(data)
        if not self._serializer.sends_body:
            return b""
        return self._send(h11.Data(data=data))

    def send_end(self, trailers: Headers | None = None) -> bytes:
        """Serialize the end of the response body."""
        self._serializer.end(trailers)
        if not self._serializer.sends_body:
            return b""
        return self._send(h11.EndOfMessage(headers=list(trailers or ())))

    def send_response_full(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes, reason: bytes = b""
    ) -> bytes:
        """Serialize a whole response: head, body and end, in one buffer."""
        self._require_request("send_response_full")
        self._serializer.full(status, headers, body, reason)
        assert self._serializer.plan is not None
        head = self._send_head(status, headers, reason, self._serializer.plan)
        if not self._serializer.sends_body:
            return head
        return head + self._send(h11.Data(data=body)) + self._send(h11.EndOfMessage())

    def send_error_response(
        self, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> bytes:
        """Serialize a short plain-text error response with ``Connection: close``."""
        body = message.encode("utf-8")
        self._writer = _primed_writer(b"1.1", close=True)
        fields = [
            *headers,
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
            (b"connection", b"close"),
        ]
        response = h11.Response(status_code=status, headers=fields, reason=reason_phrase(status))
        data = (
            self._send(response) + self._send(h11.Data(data=body)) + self._send(h11.EndOfMessage())
        )
        self._serializer.error()
        return data
