"""Choice of HTTP/1.1 backend by name."""

from __future__ import annotations

from ._fast import FastHTTP1Connection
from ._h11 import H11Connection
from ._interface import HTTP1ServerConnection
from ._limits import HTTP1Limits

__all__ = ["BACKENDS", "create_connection"]

#: Names ``create_connection`` accepts: "auto" picks Pounce's own parser.
BACKENDS = ("auto", "pounce", "h11")


def create_connection(
    backend: str = "auto", limits: HTTP1Limits | None = None
) -> HTTP1ServerConnection:
    """Return a new server machine for one connection, using the named backend."""
    if backend in ("auto", "pounce"):
        return FastHTTP1Connection(limits)
    if backend == "h11":
        return H11Connection(limits)
    raise ValueError(f"Unknown HTTP/1.1 backend {backend!r}: expected one of {', '.join(BACKENDS)}")
