"""The ASGI side of an HTTP server, usable with any parser and event loop.

``HTTPScopeFactory`` builds each request's scope, ``HTTPCycle`` runs the
application for one request over a server's ``BodySource`` and
``ResponseSink``, and ``LifespanManager`` runs the lifespan protocol. The
package imports only the standard library.
"""

from __future__ import annotations

from ._http import HTTPCycle
from ._interface import BodySource, ClientDisconnected, ResponseSink
from ._lifespan import LIFESPAN_MODES, LifespanFailure, LifespanManager, LifespanMode
from ._scope import HTTPScopeFactory
from ._target import decode_path, split_target
from ._types import (
    ASGIApp,
    ASGIVersions,
    HTTPDisconnectEvent,
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPResponseTrailersEvent,
    HTTPScope,
    LifespanScope,
    LifespanShutdownCompleteEvent,
    LifespanShutdownEvent,
    LifespanShutdownFailedEvent,
    LifespanStartupCompleteEvent,
    LifespanStartupEvent,
    LifespanStartupFailedEvent,
    Message,
    Receive,
    Scope,
    Send,
)

__all__ = [
    "LIFESPAN_MODES",
    "ASGIApp",
    "ASGIVersions",
    "BodySource",
    "ClientDisconnected",
    "HTTPCycle",
    "HTTPDisconnectEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPScope",
    "HTTPScopeFactory",
    "LifespanFailure",
    "LifespanManager",
    "LifespanMode",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Message",
    "Receive",
    "ResponseSink",
    "Scope",
    "Send",
    "decode_path",
    "split_target",
]
