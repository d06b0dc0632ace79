"""Run one ASGI HTTP request: ``receive``, ``send`` and the app's failures.

Theory of operation
-------------------
``HTTPCycle`` connects one request to the application. ``receive``
returns the request body piece by piece from the ``BodySource``, then
``http.disconnect``. ``send`` classifies each message as an event, looks up
(state, event) in one transition table, validates the response head, and
passes the message on to the ``ResponseSink``. ``run`` calls the app and,
when it fails, does what the server can still do: send a 500 while nothing
has been sent, or abort once the head is out.

The send states, with the events that move between them::

    awaiting http.response.start
        | start                          | start with "trailers": True
        v                                v
    sending http.response.body       sending http.response.body before trailers
        | last body piece                | last body piece
        |                                v
        |                            awaiting http.response.trailers
        v                                | last trailers
    response complete  <-----------------+

A body piece with ``more_body`` and trailers with ``more_trailers`` keep
the state. From any state, a ``ClientDisconnected`` raised by the sink leads
to "client disconnected", and ``run`` calling ``sink.abort()`` leads to
"response aborted". In both, every ``send`` raises ``ClientDisconnected``.

Invariants:

- The sink gets ``start`` once, before any body piece, and nothing after the
  response is complete. Any other order raises ``RuntimeError`` in the
  app's task, naming the message and the state.
- The state moves before the sink is awaited, so a ``send`` made while
  another is waiting on backpressure is checked against the new state.
"""

from __future__ import annotations

import enum
import logging
from typing import Final, NoReturn

from ._headers import validate_fields
from ._interface import BodySource, ClientDisconnected, ResponseSink
from ._types import ASGIApp, Message, Scope

__all__ = ["HTTPCycle"]

_LOGGER: Final = logging.getLogger("pounce.bridge")


class _State(enum.StrEnum):
    AWAITING_START = "awaiting http.response.start"
    SENDING_BODY = "sending http.response.body"
    SENDING_BODY_BEFORE_TRAILERS = "sending http.response.body before trailers"
    AWAITING_TRAILERS = "awaiting http.response.trailers"
    COMPLETE = "response complete"
    DISCONNECTED = "client disconnected"
    ABORTED = "response aborted"


class _Event(enum.StrEnum):
    START = "start"
    START_WITH_TRAILERS = "start with trailers"
    BODY = "body piece"
    LAST_BODY = "last body piece"
    TRAILERS = "trailers"
    LAST_TRAILERS = "last trailers"


_TRANSITIONS: Final[dict[tuple[_State, _Event], _State]] = {
    (_State.AWAITING_START, _Event.START): _State.SENDING_BODY,
    (_State.AWAITING_START, _Event.START_WITH_TRAILERS): _State.SENDING_BODY_BEFORE_TRAILERS,
    (_State.SENDING_BODY, _Event.BODY): _State.SENDING_BODY,
    (_State.SENDING_BODY, _Event.LAST_BODY): _State.COMPLETE,
    (_State.SENDING_BODY_BEFORE_TRAILERS, _Event.BODY): _State.SENDING_BODY_BEFORE_TRAILERS,
    (_State.SENDING_BODY_BEFORE_TRAILERS, _Event.LAST_BODY): _State.AWAITING_TRAILERS,
    (_State.AWAITING_TRAILERS, _Event.TRAILERS): _State.AWAITING_TRAILERS,
    (_State.AWAITING_TRAILERS, _Event.LAST_TRAILERS): _State.COMPLETE,
}

# The messages each state accepts, quoted in the error for a misplaced one.
_EXPECTED: Final[dict[_State, str]] = {
    _State.AWAITING_START: "expected 'http.response.start'",
    _State.SENDING_BODY: "expected 'http.response.body'",
    _State.SENDING_BODY_BEFORE_TRAILERS: "expected 'http.response.body'",
    _State.AWAITING_TRAILERS: "expected 'http.response.trailers'",
    _State.COMPLETE: "the response is already complete",
    _State.DISCONNECTED: "the client has disconnected",
    _State.ABORTED: "the response was aborted",
}

# States in which the response can no longer change.
_ENDED: Final = frozenset({_State.COMPLETE, _State.DISCONNECTED, _State.ABORTED})

# Aliases of the members read on every request. On CPython 3.11, reading a
# member off its enum class takes about four times as long as a global lookup.
_AWAITING_START: Final = _State.AWAITING_START
_COMPLETE: Final = _State.COMPLETE
_START: Final = _Event.START
_START_WITH_TRAILERS: Final = _Event.START_WITH_TRAILERS
_BODY: Final = _Event.BODY
_LAST_BODY: Final = _Event.LAST_BODY
_TRAILERS: Final = _Event.TRAILERS
_LAST_TRAILERS: Final = _Event.LAST_TRAILERS

# The response sent for a failed app while no part of its own was sent.
_ERROR_BODY: Final = b"Internal Server Error"
_ERROR_HEADERS: Final = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_ERROR_BODY)).encode("ascii")),
)


class HTTPCycle:
    """One request and its response, between a server and an ASGI app.

    The server builds one per request, with the scope from
    ``HTTPScopeFactory.build``, and awaits ``run(app)`` in the request's
    task. ``logger`` receives the app's failures, ``pounce.bridge`` by
    default.
    """

    __slots__ = (
        "_body_ended",
        "_disconnect_seen",
        "_logger",
        "_pending_trailers",
        "_scope",
        "_sink",
        "_source",
        "_state",
        "_status",
    )

    def __init__(
        self,
        scope: Scope,
        source: BodySource,
        sink: ResponseSink,
        *,
        logger: logging.Logger | None = None,
    ) -> None:
        self._scope = scope
        self._source = source
        self._sink = sink
        self._logger = _LOGGER if logger is None else logger
        self._state = _AWAITING_START
        self._status: int | None = None
        self._body_ended = False
        self._disconnect_seen = False
        self._pending_trailers: list[tuple[bytes, bytes]] = []

    @property
    def response_started(self) -> bool:
        """Whether ``http.response.start`` has reached the sink."""
        return self._status is not None

    @property
    def response_complete(self) -> bool:
        """Whether the whole response, trailers included, went to the sink and the client stayed."""
        return self._state is _COMPLETE

    @property
    def status(self) -> int | None:
        """The status code sent to the sink, or None before the response started."""
        return self._status

    async def receive(self) -> Message:
        """Return the next request body piece, then ``http.disconnect``."""
        if self._body_ended or self._disconnect_seen:
            return await self._receive_after_body()
        if self._state in _ENDED:
            self._disconnect_seen = True
            return {"type": "http.disconnect"}

        try:
            body, more_body = await self._source.read()
        except ClientDisconnected:
            self._disconnect_seen = True
            return {"type": "http.disconnect"}
        if not more_body:
            self._body_ended = True
        return {"type": "http.request", "body": body, "more_body": more_body}

    async def _receive_after_body(self) -> Message:
        # The body has ended: the only message left is the disconnect, sent
        # at once when the response is done, else when the client leaves.
        if not self._disconnect_seen and self._state not in _ENDED:
            await self._source.wait_disconnected()
        self._disconnect_seen = True
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        """Pass one response message to the sink, checking its order and head.

        Raise ``RuntimeError`` for a message out of order or a malformed one,
        and ``ClientDisconnected`` (an ``OSError``) once the client has gone.
        """
        message_type = message.get("type")
        if message_type == "http.response.body":
            event = _BODY if message.get("more_body", False) else _LAST_BODY
        elif message_type == "http.response.start":
            event = _START_WITH_TRAILERS if message.get("trailers", False) else _START
        elif message_type == "http.response.trailers":
            event = _TRAILERS if message.get("more_trailers", False) else _LAST_TRAILERS
        else:
            self._raise_unexpected(message_type)

        state = self._state
        next_state = _TRANSITIONS.get((state, event))
        if next_state is None:
            self._raise_unexpected(message_type)

        if event is _BODY or event is _LAST_BODY:
            await self._send_body(message, event is _BODY, next_state)
        elif event is _START or event is _START_WITH_TRAILERS:
            self._send_start(message, event is _START_WITH_TRAILERS, next_state)
        else:
            await self._send_trailers(message, event is _TRAILERS, next_state)

    def _raise_unexpected(self, message_type: object) -> NoReturn:
        if self._state is _State.DISCONNECTED or self._state is _State.ABORTED:
            raise ClientDisconnected("The client disconnected before the response was complete")
        if message_type is None:
            raise RuntimeError(
                f"ASGI message has no 'type' key in state '{self._state}'; {_EXPECTED[self._state]}"
            )
        raise RuntimeError(
            f"Unexpected ASGI message {message_type!r} in state '{self._state}'; "
            f"{_EXPECTED[self._state]}"
        )

    def _send_start(self, message: Message, trailers: bool, next_state: _State) -> None:
        status = message.get("status")
        if type(status) is not int:
            # Accept int subclasses such as http.HTTPStatus, but not bool.
            if not isinstance(status, int) or isinstance(status, bool):
                raise RuntimeError(
                    f"Invalid status in 'http.response.start': expected an int, got {status!r}"
                )
            status = int(status)
        # RFC 9110 §15: a status code is three digits, 100 to 599. ASGI has
        # no way to send an informational (1xx) response before the final
        # one, so http.response.start takes only 200 to 599.
        if not 200 <= status <= 599:
            if 100 <= status <= 199:
                raise RuntimeError(
                    f"Invalid status {status} in 'http.response.start': informational (1xx) "
                    "responses cannot be sent through ASGI; send the final status (200-599)"
                )
            raise RuntimeError(
                f"Invalid status {status} in 'http.response.start': expected 200 to 599"
            )
        raw_headers = message.get("headers")
        headers = [] if raw_headers is None else validate_fields(raw_headers, "header")

        self._state = next_state
        self._status = status
        try:
            self._sink.start(status, headers, trailers)
        except ClientDisconnected:
            self._state = _State.DISCONNECTED
            raise

    async def _send_body(self, message: Message, more_body: bool, next_state: _State) -> None:
        body = message.get("body", b"")
        if type(body) is not bytes:
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise RuntimeError(
                    "Invalid body in 'http.response.body': expected bytes, "
                    f"got {type(body).__name__}"
                )
            body = bytes(body)

        self._state = next_state
        try:
            await self._sink.body(body, more_body)
        except ClientDisconnected:
            self._state = _State.DISCONNECTED
            raise

    async def _send_trailers(
        self, message: Message, more_trailers: bool, next_state: _State
    ) -> None:
        raw_fields = message.get("headers")
        fields = [] if raw_fields is None else validate_fields(raw_fields, "trailer")
        if more_trailers:
            # The sink takes all trailer fields in one call, so pieces wait
            # here until the last one arrives.
            self._pending_trailers.extend(fields)
            return
        if self._pending_trailers:
            fields = self._pending_trailers + fields

        self._state = next_state
        try:
            await self._sink.trailers(fields)
        except ClientDisconnected:
            self._state = _State.DISCONNECTED
            raise

    async def run(self, app: ASGIApp) -> None:
        """Call the app for this request and handle whatever it leaves undone.

        Return normally in every case except cancellation. An app failure
        is logged on the cycle's logger, then followed by a 500 response when
        no response has started, or by ``sink.abort()`` when one has. A
        ``ClientDisconnected`` out of the app is logged at debug level only.
        """
        try:
            await app(self._scope, self.receive, self.send)
        except ClientDisconnected:
            self._logger.debug(
                "Client disconnected while the ASGI application handled %s",
                self._describe_request(),
            )
            if self._state not in _ENDED:
                self._abort()
            return
        except Exception:
            self._logger.error(
                "ASGI application raised an exception while handling %s",
                self._describe_request(),
                exc_info=True,
            )
            await self._finish_after_failure()
            return

        if self._state in _ENDED:
            return
        if self._state is _State.AWAITING_START:
            self._logger.error(
                "ASGI application returned without sending a response for %s; "
                "sending 500 Internal Server Error",
                self._describe_request(),
            )
        else:
            self._logger.error(
                "ASGI application returned in state '%s' for %s; aborting the connection",
                self._state,
                self._describe_request(),
            )
        await self._finish_after_failure()

    async def _finish_after_failure(self) -> None:
        # Once the response is complete or the client is gone, nothing is
        # left to tell the client.
        if self._state in _ENDED:
            return
        if self._state is not _State.AWAITING_START:
            self._abort()
            return

        self._state = _State.COMPLETE
        self._status = 500
        try:
            self._sink.start(500, list(_ERROR_HEADERS), False)
            await self._sink.body(_ERROR_BODY, False)
        except ClientDisconnected:
            self._state = _State.DISCONNECTED
            self._logger.debug(
                "Client disconnected before the 500 response for %s was sent",
                self._describe_request(),
            )
        except Exception:
            # A failing sink is the server's fault; closing the connection is
            # all that is left to do for this client.
            self._logger.error(
                "Sending the 500 response for %s failed; aborting the connection",
                self._describe_request(),
                exc_info=True,
            )
            self._abort()

    def _abort(self) -> None:
        self._state = _State.ABORTED
        self._sink.abort()

    def _describe_request(self) -> str:
        scope = self._scope
        return f"{scope.get('method')} {scope.get('path')!r}"
