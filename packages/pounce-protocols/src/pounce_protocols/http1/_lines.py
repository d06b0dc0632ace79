"""Line-level checks on a request head or trailer section, in stream order.

Theory of operation
-------------------
A head is read as lines ended by LF. Each line is checked as soon as its LF
arrives, and the line still being received (the tail) is checked for size on
every call, so a client cannot make the buffer grow without bound. These
checks run before the syntax of any line is parsed:

1. size: the line's content (without CRLF) beyond its limit gives 414 for the
   request line and 431 for a field line. The section as a whole beyond
   ``max_head`` gives 431. When both apply, the one the stream reached first
   wins (a line's limit is reached ``limit + 2`` bytes after it starts, the
   head limit ``max_head + 1`` bytes after the section starts).
2. line endings and control bytes: a LF without CR before it, a CR anywhere
   else, or a control byte other than HTAB give 400 (RFC 9112 §2.2; RFC 9110
   §5.5 for field values).
3. on the request line, an ``HTTP/<digit>.<digit>`` version other than 1.0 or
   1.1 after the last space gives 505 (RFC 9110 §15.6.6), before the rest of
   the line is judged.
4. on a field line, a leading SP or HTAB (obsolete line folding, RFC 9112
   §5.2) gives 400, and one field more than ``max_header_count`` gives 431.

Because every check is decided by bytes already received, and the tail is
checked only for the size limits whose deciding byte it may already hold,
the verdict on a stream does not depend on how it was split into reads.
"""

from __future__ import annotations

from ._errors import ProtocolError
from ._limits import HTTP1Limits
from ._tables import FIELD_VALUE_TABLE

__all__ = ["MAX_LEADING_EMPTY_LINES", "LineScanner", "skip_empty_lines"]

#: Maximum number of empty lines ignored before a request line. RFC 9112 §2.2
#: recommends ignoring at least one, and more than this is a 400.
MAX_LEADING_EMPTY_LINES = 8

_SUPPORTED_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0")


def skip_empty_lines(buffer: bytes, skipped: int) -> tuple[bytes, int]:
    """Remove CRLF pairs from the start of ``buffer``; return the rest and the new count.

    ``skipped`` counts the pairs already removed in this cycle. A LF without
    CR, or a CR followed by anything but LF, raises a 400, as does a count
    beyond ``MAX_LEADING_EMPTY_LINES``. A lone CR at the end is left in place
    until the next byte decides it.
    """
    while buffer[:2] == b"\r\n":
        skipped += 1
        if skipped > MAX_LEADING_EMPTY_LINES:
            raise ProtocolError("Too many empty lines before the request line")
        buffer = buffer[2:]
    first = buffer[:1]
    if first == b"\n":
        raise ProtocolError("Bare LF before the request line")
    if first == b"\r" and len(buffer) > 1:
        raise ProtocolError("Bare CR before the request line")
    return buffer, skipped


class LineScanner:
    """Runs the line-level checks on one head or trailer section as it arrives.

    ``scan`` is called with the buffer that contains the section, from the same
    start offset each time, and resumes after the last complete line it
    checked. Call ``reset`` before a new section.
    """

    __slots__ = (
        "_count",
        "_field_limit",
        "_first_limit",
        "_max_count",
        "_max_size",
        "_pos",
        "_request",
        "_section",
    )

    def __init__(self, limits: HTTP1Limits, *, request: bool) -> None:
        self._request = request
        self._section = "request head" if request else "trailer section"
        self._first_limit = limits.max_request_line if request else limits.max_header_field
        self._field_limit = limits.max_header_field
        self._max_count = limits.max_header_count
        self._max_size = limits.max_head
        self._pos = 0
        self._count = 0

    def reset(self) -> None:
        """Forget the lines checked so far, for a new section."""
        self._pos = 0
        self._count = 0

    def scan(self, buffer: bytes, start: int = 0) -> int:
        """Check the lines of the section at ``buffer[start:]`` that completed since the last call.

        Returns the section's end offset in ``buffer`` (just after its empty
        line) once that line has arrived, else -1. Raises ``ProtocolError``.
        """
        pos = start + self._pos
        while True:
            lf = buffer.find(b"\n", pos)
            if lf == -1:
                self._check_tail(buffer, start, pos)
                self._pos = pos - start
                return -1
            if self._check_line(buffer, start, pos, lf):
                self._pos = lf + 1 - start
                return lf + 1
            pos = lf + 1

    def _is_request_line(self, line_start: int, start: int) -> bool:
        return self._request and line_start == start

    def _check_size(self, start: int, line_start: int, content_length: int, end: int) -> None:
        """Raise for the size limit the stream reached first, if any."""
        limit = self._first_limit if self._is_request_line(line_start, start) else self._field_limit
        line_witness = line_start + limit + 2 if content_length > limit else -1
        head_witness = start + self._max_size + 1 if end - start > self._max_size else -1
        if head_witness != -1 and (line_witness == -1 or head_witness <= line_witness):
            raise ProtocolError(f"The {self._section} exceeds {self._max_size} bytes", 431)
        if line_witness != -1:
            if self._is_request_line(line_start, start):
                raise ProtocolError(f"Request line exceeds {limit} bytes", 414)
            raise ProtocolError(f"A field line in the {self._section} exceeds {limit} bytes", 431)

    def _check_tail(self, buffer: bytes, start: int, line_start: int) -> None:
        # The tail's content is at least its length less a final CR, so a
        # tail of limit + 2 bytes already proves the line too long.
        tail_length = len(buffer) - line_start
        self._check_size(start, line_start, tail_length - 1, len(buffer))

    def _check_line(self, buffer: bytes, start: int, line_start: int, lf: int) -> bool:
        """Check one complete line; return True when it is the section's empty line."""
        line = buffer[line_start:lf]
        has_cr = line[-1:] == b"\r"
        self._check_size(start, line_start, len(line) - has_cr, lf + 1)

        # RFC 9112 §2.2: a line ends with CRLF, and CR appears nowhere else.
        if not has_cr:
            raise ProtocolError(f"Bare LF in the {self._section}")
        content = line[:-1]
        if b"\r" in content:
            raise ProtocolError(f"Bare CR in the {self._section}")
        if content.translate(FIELD_VALUE_TABLE) != content:
            raise ProtocolError(f"Control character in the {self._section}")

        if self._is_request_line(line_start, start):
            _check_version(content)
            return False
        if not content:
            return True

        # RFC 9112 §5.2: obsolete line folding is rejected in requests.
        if content[0] in b" \t":
            raise ProtocolError(f"Obsolete line folding in the {self._section}")
        self._count += 1
        if self._count > self._max_count:
            raise ProtocolError(f"More than {self._max_count} fields in the {self._section}", 431)
        return False


def _check_version(request_line: bytes) -> None:
    """Raise 505 for a well-formed HTTP version that is not 1.0 or 1.1."""
    _, space, version = request_line.rpartition(b" ")
    if not space or version in _SUPPORTED_VERSIONS:
        return
    if (
        len(version) == 8
        and version[:5] == b"HTTP/"
        and version[5:6].isdigit()
        and version[6:7] == b"."
        and version[7:8].isdigit()
    ):
        raise ProtocolError(f"HTTP version {version.decode('ascii')} is not supported", 505)
