"""The error a peer's bad bytes raise, carrying the status to answer with."""

from __future__ import annotations

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """A request the server must reject, with the HTTP status to answer.

    The machine that raises it has stopped: the server answers once with
    ``status`` (400, 413, 414, 431, 501 or 505) and ``Connection: close``,
    then closes the connection.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"ProtocolError({self.message!r}, status={self.status})"
