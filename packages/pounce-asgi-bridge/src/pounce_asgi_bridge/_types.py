"""ASGI 3.0 types: the scopes and messages the bridge builds and accepts.

The TypedDicts describe each scope and message as the ASGI specification
defines it, tagged by a ``Literal`` ``type``. The aliases that callables use
(``Scope``, ``Message``, ``Receive``, ``Send``, ``ASGIApp``) are plain
``MutableMapping[str, Any]`` forms instead. A TypedDict is not assignable to
``MutableMapping[str, Any]``, and most frameworks (Starlette, FastAPI) type
their application's parameters that way, so these aliases let such an
application type-check as an ``ASGIApp``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "ASGIApp",
    "ASGIVersions",
    "HTTPDisconnectEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPScope",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Message",
    "Receive",
    "Scope",
    "Send",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGIVersions(TypedDict):
    """The ``asgi`` key of a scope."""

    version: Literal["3.0"]
    spec_version: str


class HTTPScope(TypedDict):
    """The scope of one HTTP request (ASGI HTTP spec 2.4)."""

    type: Literal["http"]
    asgi: ASGIVersions
    http_version: str
    method: str
    scheme: str
    path: str
    raw_path: bytes
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]]]


class LifespanScope(TypedDict):
    """The scope of the lifespan protocol (ASGI lifespan spec 2.0)."""

    type: Literal["lifespan"]
    asgi: ASGIVersions
    state: NotRequired[dict[str, Any]]


class HTTPRequestEvent(TypedDict):
    """A piece of the request body, returned by ``receive``."""

    type: Literal["http.request"]
    body: bytes
    more_body: bool


class HTTPDisconnectEvent(TypedDict):
    """The client is gone or the response has been sent whole."""

    type: Literal["http.disconnect"]


class HTTPResponseStartEvent(TypedDict):
    """The response head an application sends."""

    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[Iterable[tuple[bytes, bytes]]]
    trailers: NotRequired[bool]


class HTTPResponseBodyEvent(TypedDict):
    """A piece of the response body an application sends."""

    type: Literal["http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HTTPResponseTrailersEvent(TypedDict):
    """Trailer fields an application sends after the body."""

    type: Literal["http.response.trailers"]
    headers: NotRequired[Iterable[tuple[bytes, bytes]]]
    more_trailers: NotRequired[bool]


class LifespanStartupEvent(TypedDict):
    """The server is starting; the application should get ready."""

    type: Literal["lifespan.startup"]


class LifespanStartupCompleteEvent(TypedDict):
    """The application is ready to serve requests."""

    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    """The application could not start."""

    type: Literal["lifespan.startup.failed"]
    message: NotRequired[str]


class LifespanShutdownEvent(TypedDict):
    """The server has stopped serving; the application should clean up."""

    type: Literal["lifespan.shutdown"]


class LifespanShutdownCompleteEvent(TypedDict):
    """The application has cleaned up."""

    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    """The application's cleanup failed."""

    type: Literal["lifespan.shutdown.failed"]
    message: NotRequired[str]
