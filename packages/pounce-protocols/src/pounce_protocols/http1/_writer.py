"""Response framing rules and the fast machine's response serializer.

Theory of operation
-------------------
``plan_response`` reads the app's headers once and decides how the body is
framed (RFC 9112 §6). The order of preference is: the app's Content-Length,
the app's ``Transfer-Encoding: chunked``, a Content-Length for a body known
whole, chunked for an HTTP/1.1 request, and last a close-delimited body,
whose end is the end of the connection. Responses 204 and
304 carry no body and get no framing headers added. Both backends use this
plan, so they agree on framing and on ``keep_alive``.

``ResponseSerializer`` turns the plan into bytes for the fast machine and
tracks the response state: ``idle``, ``sending body``, ``complete``. Header
names and values are written as given: the server sanitizes the app's
headers before they reach this layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from ._status import status_line

__all__ = [
    "CHUNKED",
    "CLOSE_DELIMITED",
    "CONTENT_LENGTH",
    "NO_BODY",
    "ResponsePlan",
    "ResponseSerializer",
    "build_error_response",
    "encode_fields",
    "plan_response",
]

NO_BODY = 0
CONTENT_LENGTH = 1
CHUNKED = 2
CLOSE_DELIMITED = 3

IDLE = "idle"
SENDING_BODY = "sending body"
COMPLETE = "complete"


def encode_fields(headers: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
    """Return one ``name: value`` CRLF line per header, in order."""
    return [name + b": " + value + b"\r\n" for name, value in headers]


# Shared by every plan that leaves no app header out, instead of a new empty
# frozenset per response.
_NOTHING_OMITTED: frozenset[bytes] = frozenset()


def _tokens(value: bytes) -> list[bytes]:
    return [token.strip(b" \t").lower() for token in value.split(b",")]


class ResponsePlan:
    """Framing decision for one response: body framing and the headers the machine adds."""

    __slots__ = ("added", "app_close", "app_coding", "keep_alive", "length", "mode", "omitted")

    def __init__(self) -> None:
        #: One of NO_BODY, CONTENT_LENGTH, CHUNKED, CLOSE_DELIMITED, before HEAD is applied.
        self.mode = NO_BODY
        #: The Content-Length in force, when ``mode`` is CONTENT_LENGTH.
        self.length = 0
        #: Whether the app's own Connection header asked to close.
        self.app_close = False
        #: The app's Transfer-Encoding value when it is kept, else None.
        self.app_coding: bytes | None = None
        #: Lowercased names of app headers left out of the response.
        self.omitted = _NOTHING_OMITTED
        #: Headers the machine adds after the app's.
        self.added: list[tuple[bytes, bytes]] = []
        #: Whether the connection may carry another request after this response.
        self.keep_alive = True


def plan_response(
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    http_version: str,
    keep_alive: bool,
    body_length: int | None,
) -> ResponsePlan:
    """Decide the framing of a response; ``body_length`` is set for a body known whole."""
    plan = ResponsePlan()
    length: int | None = None
    coding: bytes | None = None
    has_length = False
    keep_alive_token = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            has_length = True
            if not value.isdigit():
                raise ValueError(f"Invalid content-length header value {value!r}")
            length = int(value)
        elif lowered == b"transfer-encoding":
            coding = value
        elif lowered == b"connection":
            tokens = _tokens(value)
            plan.app_close = plan.app_close or b"close" in tokens
            keep_alive_token = keep_alive_token or b"keep-alive" in tokens

    omitted: set[bytes] = set()
    # RFC 9112 §6.1: no Transfer-Encoding goes to an HTTP/1.0 client.
    if coding is not None and http_version == "1.0":
        omitted.add(b"transfer-encoding")
        coding = None
    if status in (204, 304):
        plan.mode = NO_BODY
    elif coding is not None:
        # RFC 9112 §6.2: Content-Length is not sent beside Transfer-Encoding.
        if has_length:
            omitted.add(b"content-length")
        plan.app_coding = coding
        last = coding.rsplit(b",", 1)[-1].strip(b" \t").lower()
        plan.mode = CHUNKED if last == b"chunked" else CLOSE_DELIMITED
    elif length is not None:
        plan.mode = CONTENT_LENGTH
        plan.length = length
    elif body_length is not None:
        plan.mode = CONTENT_LENGTH
        plan.length = body_length
        plan.added.append((b"content-length", b"%d" % body_length))
    elif http_version == "1.1":
        plan.mode = CHUNKED
        plan.added.append((b"transfer-encoding", b"chunked"))
    else:
        plan.mode = CLOSE_DELIMITED

    keep = keep_alive and not plan.app_close and plan.mode != CLOSE_DELIMITED
    if not keep and not plan.app_close:
        # An app Connection header that requests keep-alive would contradict ours.
        omitted.add(b"connection")
        plan.added.append((b"connection", b"close"))
    elif keep and http_version == "1.0" and not keep_alive_token:
        plan.added.append((b"connection", b"keep-alive"))
    plan.keep_alive = keep
    if omitted:
        plan.omitted = frozenset(omitted)
    return plan


def _head_bytes(
    status: int, reason: bytes, headers: Sequence[tuple[bytes, bytes]], plan: ResponsePlan
) -> list[bytes]:
    """Return the pieces of a response head, to be joined with its body in one call."""
    parts = [status_line(status, reason)]
    omitted = plan.omitted
    # Extending with the four pieces is cheaper than concatenating each line.
    for name, value in headers:
        if omitted and name.lower() in omitted:
            continue
        parts += (name, b": ", value, b"\r\n")
    for name, value in plan.added:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return parts


def build_error_response(
    status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> bytes:
    """Serialize a short plain-text response that ends the connection."""
    body = message.encode("utf-8")
    parts = [status_line(status), *encode_fields(headers)]
    parts.append(
        b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % len(body)
    )
    parts.append(body)
    return b"".join(parts)


class ResponseSerializer:
    """Serializes the responses of one connection, one cycle at a time."""

    __slots__ = ("_is_head", "_length", "_mode", "_sent", "_version", "keep_alive", "plan", "state")

    def __init__(self) -> None:
        self.state = IDLE
        self.keep_alive = True
        self._version = "1.1"
        self._is_head = False
        self._mode = NO_BODY
        self._length = 0
        self._sent = 0
        #: The plan of the current response, once its head was serialized.
        self.plan: ResponsePlan | None = None

    @property
    def sends_body(self) -> bool:
        """Whether body bytes of the current response go on the wire."""
        return self._mode != NO_BODY

    def start(self, http_version: str, is_head: bool, keep_alive: bool) -> None:
        """Prepare for the response to a request just parsed."""
        self.state = IDLE
        self.keep_alive = keep_alive
        self._version = http_version
        self._is_head = is_head
        self._mode = NO_BODY
        self._length = 0
        self._sent = 0
        self.plan = None

    def _raise_wrong_state(self, expected: str, call: str) -> NoReturn:
        # Callers test the state inline, so the common case costs no call.
        raise RuntimeError(
            f"{call}() called in response state {self.state!r}, expected {expected!r}"
        )

    def informational(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        """Serialize a 1xx response; HTTP/1.0 clients get nothing (RFC 9110 §15.2)."""
        if self.state != IDLE:
            self._raise_wrong_state(IDLE, "send_informational")
        if not 100 <= status <= 199 or status == 101:
            raise ValueError(
                f"send_informational() takes a 1xx status other than 101, got {status}"
            )
        if self._version == "1.0":
            return b""
        return b"".join([status_line(status), *encode_fields(headers), b"\r\n"])

    def _plan(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], body_length: int | None
    ) -> ResponsePlan:
        if not 200 <= status <= 999:
            raise ValueError(f"Invalid final status {status}: 1xx go through send_informational()")
        plan = plan_response(status, headers, self._version, self.keep_alive, body_length)
        self.keep_alive = plan.keep_alive
        self._mode = NO_BODY if self._is_head else plan.mode
        self._length = plan.length
        self.plan = plan
        return plan

    def head(self, status: int, headers: Sequence[tuple[bytes, bytes]], reason: bytes) -> bytes:
        """Serialize the response head of a streamed body."""
        if self.state != IDLE:
            self._raise_wrong_state(IDLE, "send_response")
        plan = self._plan(status, headers, None)
        data = b"".join(_head_bytes(status, reason, headers, plan))
        self.state = SENDING_BODY
        return data

    def data(self, data: bytes) -> bytes:
        """Serialize one piece of a streamed body."""
        if self.state != SENDING_BODY:
            self._raise_wrong_state(SENDING_BODY, "send_data")
        mode = self._mode
        if mode == CHUNKED:
            if not data:
                return b""
            return b"%x\r\n" % len(data) + data + b"\r\n"
        if mode == CONTENT_LENGTH:
            total = self._sent + len(data)
            if total > self._length:
                raise RuntimeError(
                    f"send_data() would bring the body to {total} bytes, "
                    f"more than the content-length of {self._length}"
                )
            self._sent = total
            return data
        if mode == CLOSE_DELIMITED:
            return data
        return b""

    def end(self, trailers: Sequence[tuple[bytes, bytes]] | None) -> bytes:
        """Serialize the end of a streamed body, with trailers for a chunked one."""
        if self.state != SENDING_BODY:
            self._raise_wrong_state(SENDING_BODY, "send_end")
        mode = self._mode
        if mode == CONTENT_LENGTH and self._sent < self._length:
            raise RuntimeError(
                f"send_end() after {self._sent} body bytes, "
                f"fewer than the content-length of {self._length}"
            )
        if trailers and mode in (CONTENT_LENGTH, CLOSE_DELIMITED):
            raise RuntimeError("send_end() got trailers, but only a chunked body can carry them")
        self.state = COMPLETE
        if mode == CHUNKED:
            return b"".join([b"0\r\n", *encode_fields(trailers or ()), b"\r\n"])
        return b""

    def full(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes, reason: bytes
    ) -> bytes:
        """Serialize a whole response in one buffer."""
        if self.state != IDLE:
            self._raise_wrong_state(IDLE, "send_response_full")
        plan = self._plan(status, headers, len(body))
        parts = _head_bytes(status, reason, headers, plan)
        mode = self._mode
        if mode == CONTENT_LENGTH:
            if len(body) != self._length:
                raise RuntimeError(
                    f"send_response_full() got a body of {len(body)} bytes "
                    f"for a content-length of {self._length}"
                )
            parts.append(body)
        elif mode == CHUNKED:
            if body:
                parts += (b"%x\r\n" % len(body), body, b"\r\n")
            parts.append(b"0\r\n\r\n")
        elif mode == CLOSE_DELIMITED:
            parts.append(body)
        self.state = COMPLETE
        return b"".join(parts)

    def error(self) -> None:
        """Record that an error response ended the cycle and the connection."""
        self.state = COMPLETE
        self.keep_alive = False
