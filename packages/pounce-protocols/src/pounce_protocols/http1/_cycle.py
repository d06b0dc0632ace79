"""Cycle bookkeeping both HTTP/1.1 machines share.

Parsing differs between the two machines, but what happens around it is the
same: which part of the request is being read, bytes kept for a pipelined
request, the end of input, and a failure that kills the machine. Keeping it
here means the differential tests compare the two parsers, not two copies of
this code.
"""

from __future__ import annotations

from ._errors import ProtocolError
from ._events import ConnectionClosed, Event
from ._writer import ResponseSerializer

__all__ = ["BODY", "CHUNKED", "DONE", "ERROR", "HEAD", "PIPELINE_MARGIN", "CycleState"]

#: Bytes a pipelined request may buffer beyond ``max_head`` while the current
#: cycle is still running.
PIPELINE_MARGIN = 65536

# What the machine reads next.
HEAD = "head"
BODY = "body"
CHUNKED = "chunked"
DONE = "done"
ERROR = "error"


class CycleState:
    """Base of a machine: state, buffered bytes, end of input and failure."""

    __slots__ = (
        "_buffer",
        "_discarding",
        "_eof",
        "_error",
        "_pipeline_bound",
        "_serializer",
        "_state",
    )

    _state: str
    _buffer: bytes
    _eof: bool
    _error: ProtocolError | None
    _discarding: bool
    _pipeline_bound: int
    _serializer: ResponseSerializer

    def _fail(self, error: ProtocolError) -> None:
        self._error = error
        self._state = ERROR
        self._buffer = b""
        self._serializer.keep_alive = False

    def _receive_eof(self) -> list[Event]:
        self._eof = True
        state = self._state
        if state == DONE:
            return [] if self._buffer else [ConnectionClosed()]
        if state == HEAD and not self._buffer:
            return [ConnectionClosed()]
        where = "head" if state == HEAD else "body"
        error = ProtocolError(f"Connection closed inside a request {where}")
        self._fail(error)
        raise error

    def _keep_pipelined(self, buffer: bytes) -> None:
        """Hold bytes that arrived after the current request, within the bound."""
        if self._discarding:
            return
        if len(buffer) > self._pipeline_bound:
            self._buffer = b""
            self._discarding = True
            self._serializer.keep_alive = False
            return
        self._buffer = buffer
