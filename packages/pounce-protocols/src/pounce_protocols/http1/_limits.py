"""Size limits an HTTP/1.1 machine enforces while it parses."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "HTTP1Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTP1Limits:
    """Bounds on what one request may send; each breach carries its status."""

    #: Maximum length of the request line in bytes, without its CRLF (414 beyond).
    max_request_line: int = 8190
    #: Maximum length of one header field line in bytes, name and value (431 beyond).
    max_header_field: int = 8190
    #: Most header fields in one head, trailers counted separately (431 beyond).
    max_header_count: int = 100
    #: Largest whole head in bytes, request line and fields (431 beyond).
    max_head: int = 65536
    #: Largest request body in bytes, ``None`` for no limit (413 beyond).
    max_body: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_request_line", "max_header_field", "max_header_count", "max_head"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.max_body is not None and (not isinstance(self.max_body, int) or self.max_body < 0):
            raise ValueError(
                f"max_body must be a non-negative integer or None, got {self.max_body!r}"
            )


#: The limits a machine uses when it is given none; frozen, so one is shared.
DEFAULT_LIMITS = HTTP1Limits()
