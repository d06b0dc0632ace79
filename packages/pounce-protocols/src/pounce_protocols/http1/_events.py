"""Events an HTTP/1.1 server machine emits while it reads a request.

These are plain slotted classes rather than frozen dataclasses: one of each
is built per request on the hot path, and a frozen dataclass pays for
``object.__setattr__`` on every field. Treat them as read-only all the same.
"""

from __future__ import annotations

__all__ = ["ConnectionClosed", "Data", "EndOfMessage", "Event", "Headers", "Request"]

Headers = list[tuple[bytes, bytes]]


class Request:
    """A request head, parsed and validated.

    ``headers`` keeps the order of the wire, with names lowercased and values
    stripped of surrounding whitespace. ``http_version`` is ``"1.0"`` or
    ``"1.1"``. ``keep_alive`` is what the request allows: false for HTTP/1.0
    without ``Connection: keep-alive`` and for any ``Connection: close``.
    ``content_length`` is the declared body size, ``None`` for a chunked body;
    a request with neither has ``content_length == 0``.
    """

    __slots__ = (
        "chunked",
        "content_length",
        "expect_continue",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "target",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        http_version: str,
        headers: Headers,
        keep_alive: bool,
        expect_continue: bool,
        content_length: int | None,
        chunked: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.content_length = content_length
        self.chunked = chunked

    def __repr__(self) -> str:
        return (
            f"Request(method={self.method!r}, target={self.target!r}, "
            f"http_version={self.http_version!r}, headers={self.headers!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)


class Data:
    """A piece of the request body, with any chunked framing removed."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Data({self.data!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Data):
            return NotImplemented
        return self.data == other.data


class EndOfMessage:
    """The end of the request body, with the trailer fields of a chunked body."""

    __slots__ = ("trailers",)

    def __init__(self, trailers: Headers | None = None) -> None:
        self.trailers: Headers = trailers if trailers is not None else []

    def __repr__(self) -> str:
        return f"EndOfMessage(trailers={self.trailers!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EndOfMessage):
            return NotImplemented
        return self.trailers == other.trailers


class ConnectionClosed:
    """The peer closed its side while no request was in progress."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ConnectionClosed()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnectionClosed)


Event = Request | Data | EndOfMessage | ConnectionClosed
