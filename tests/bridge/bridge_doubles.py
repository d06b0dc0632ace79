"""Test doubles for the server side of the bridge, and small ASGI helpers.

The bridge never touches a socket, so its tests drive it with an in-memory
``BodySource`` and a ``ResponseSink`` that records what it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pounce_asgi_bridge import ClientDisconnected, HTTPCycle, HTTPScopeFactory, Message

Headers = list[tuple[bytes, bytes]]


class FakeSource:
    """A request body given up front, piece by piece.

    After the last piece, ``read`` raises ``ClientDisconnected`` when
    ``disconnect_after_body`` is true. ``wait_disconnected`` returns once the
    ``disconnected`` event is set, by the test or by a linked ``FakeSink``
    completing the response.
    """

    def __init__(
        self, pieces: Sequence[bytes] = (b"",), *, disconnect_after_body: bool = False
    ) -> None:
        self.pieces = list(pieces)
        self.disconnect_after_body = disconnect_after_body
        self.reads = 0
        self.waits = 0
        self.disconnected = asyncio.Event()

    async def read(self) -> tuple[bytes, bool]:
        self.reads += 1
        if not self.pieces:
            if self.disconnect_after_body:
                raise ClientDisconnected("client went away")
            raise AssertionError("read() called after the body ended")
        piece = self.pieces.pop(0)
        more_body = bool(self.pieces) or self.disconnect_after_body
        return piece, more_body

    async def wait_disconnected(self) -> None:
        self.waits += 1
        await self.disconnected.wait()


class FakeSink:
    """Records each call as a tuple in ``calls``.

    ``disconnect_on`` names a call ("start", "body" or "trailers") that
    raises ``ClientDisconnected`` instead, as a sink does when the client
    has gone. ``source``, when given, is notified when the response completes.
    """

    def __init__(self, *, disconnect_on: str | None = None, source: FakeSource | None = None):
        self.calls: list[tuple[Any, ...]] = []
        self.disconnect_on = disconnect_on
        self.source = source
        self._trailers_announced = False

    def start(self, status: int, headers: Headers, trailers: bool) -> None:
        self.calls.append(("start", status, headers, trailers))
        self._trailers_announced = trailers
        if self.disconnect_on == "start":
            raise ClientDisconnected("client went away")

    async def body(self, data: bytes, more_body: bool) -> None:
        self.calls.append(("body", data, more_body))
        if self.disconnect_on == "body":
            raise ClientDisconnected("client went away")
        if not more_body and not self._trailers_announced:
            self._complete()

    async def trailers(self, headers: Headers) -> None:
        self.calls.append(("trailers", headers))
        if self.disconnect_on == "trailers":
            raise ClientDisconnected("client went away")
        self._complete()

    def abort(self) -> None:
        self.calls.append(("abort",))

    def _complete(self) -> None:
        if self.source is not None:
            self.source.disconnected.set()

    @property
    def body_bytes(self) -> bytes:
        return b"".join(call[1] for call in self.calls if call[0] == "body")

    @property
    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]


def make_scope(target: bytes = b"/", method: bytes = b"GET") -> dict[str, Any]:
    return HTTPScopeFactory().build(method, target, "1.1", [(b"host", b"example.test")], None)


def make_cycle(
    source: FakeSource | None = None, sink: FakeSink | None = None, **kwargs: Any
) -> tuple[HTTPCycle, FakeSource, FakeSink]:
    source = FakeSource() if source is None else source
    sink = FakeSink(source=source) if sink is None else sink
    return HTTPCycle(make_scope(), source, sink, **kwargs), source, sink


def start(status: int = 200, headers: Headers | None = None, **extra: Any) -> Message:
    message: Message = {"type": "http.response.start", "status": status}
    if headers is not None:
        message["headers"] = headers
    message.update(extra)
    return message


def body(data: bytes = b"", more_body: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more_body}


def trailers(headers: Headers, more_trailers: bool = False) -> Message:
    return {"type": "http.response.trailers", "headers": headers, "more_trailers": more_trailers}
