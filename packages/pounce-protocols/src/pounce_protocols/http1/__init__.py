"""Sans-I/O HTTP/1.1 server machines: Pounce's own fast parser and an h11 backend.

Both implement ``HTTP1ServerConnection`` and reach the same verdict on every
request; ``create_connection`` picks one by name.
"""

from __future__ import annotations

from ._errors import ProtocolError
from ._events import ConnectionClosed, Data, EndOfMessage, Event, Headers, Request
from ._factory import BACKENDS, create_connection
from ._fast import FastHTTP1Connection
from ._h11 import H11Connection
from ._interface import HTTP1ServerConnection
from ._limits import HTTP1Limits

__all__ = [
    "BACKENDS",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "FastHTTP1Connection",
    "H11Connection",
    "HTTP1Limits",
    "HTTP1ServerConnection",
    "Headers",
    "ProtocolError",
    "Request",
    "create_connection",
]
