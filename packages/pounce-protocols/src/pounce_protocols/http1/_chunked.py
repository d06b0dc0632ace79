"""Decoder for the chunked transfer coding of a request body (RFC 9112 §7.1).

Theory of operation
-------------------
The decoder reads from its caller's buffer at an offset and returns the new
offset, so body bytes are sliced once and never copied into a buffer of its
own. It moves through four states:

- ``SIZE``: wait for a whole chunk-size line, at most ``MAX_CHUNK_LINE``
  bytes, then check it: 1 to 16 hex digits, then chunk extensions, which are
  checked and dropped. The declared sizes count against ``max_body`` before
  any of the chunk is read.
- ``DATA``: hand out chunk bytes as they arrive.
- ``DATA_END``: require exactly CRLF after the chunk data.
- ``TRAILERS``: after the zero-size last chunk, read the trailer section with
  the same line checks and field syntax as a request head. The section stays
  in the caller's buffer until its empty line arrives.
"""

from __future__ import annotations

import re

from ._errors import ProtocolError
from ._events import Headers
from ._head import parse_fields
from ._limits import HTTP1Limits
from ._lines import LineScanner
from ._tables import HEX_DIGIT_TABLE

__all__ = ["MAX_CHUNK_LINE", "MAX_CHUNK_SIZE_DIGITS", "ChunkedDecoder"]

#: Maximum length of a chunk-size line, extensions included, without its CRLF.
MAX_CHUNK_LINE = 4096
#: Maximum number of hex digits in a chunk size: 16 digits cover any 64-bit size.
MAX_CHUNK_SIZE_DIGITS = 16

# chunk-ext = *( ";" chunk-ext-name [ "=" chunk-ext-val ] ), each a token or
# a quoted-string (RFC 9112 §7.1.1, RFC 9110 §5.6.4). Whitespace around ";"
# and "=" (BWS in the RFC) is rejected, as h11 does. Extensions are rare, so
# a regular expression here stays off the hot path.
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_EXTENSIONS = re.compile(rb"(?:;%s(?:=(?:%s|%s))?)*" % (_TOKEN, _TOKEN, _QUOTED))

_SIZE = 0
_DATA = 1
_DATA_END = 2
_TRAILERS = 3
_DONE = 4


class ChunkedDecoder:
    """Decodes one chunked request body; ``trailers`` is set once ``done``."""

    __slots__ = ("_max_body", "_remaining", "_scanner", "_state", "_total", "trailers")

    def __init__(self, limits: HTTP1Limits) -> None:
        self._max_body = limits.max_body
        self._scanner = LineScanner(limits, request=False)
        self._state = _SIZE
        self._remaining = 0
        self._total = 0
        self.trailers: Headers = []

    @property
    def done(self) -> bool:
        """Whether the last chunk and the trailer section have been read."""
        return self._state == _DONE

    @property
    def in_trailers(self) -> bool:
        """Whether the last chunk has been read and the trailer section is pending."""
        return self._state == _TRAILERS

    def decode(
        self, buffer: bytes, pos: int, *, stop_at_trailers: bool = False
    ) -> tuple[list[bytes], int]:
        """Decode from ``buffer[pos:]``; return the body pieces and the offset reached.

        Bytes from the returned offset on are not consumed yet and must be
        passed again, with more after them, on the next call. With
        ``stop_at_trailers``, decoding stops where the trailer section starts.
        """
        pieces: list[bytes] = []
        end = len(buffer)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                pieces.append(buffer[pos : pos + take])
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state = _DATA_END
            elif state == _SIZE:
                lf = buffer.find(b"\n", pos)
                if lf == -1:
                    if end - pos > MAX_CHUNK_LINE + 1:
                        raise ProtocolError(f"Chunk size line exceeds {MAX_CHUNK_LINE} bytes")
                    break
                self._read_size_line(buffer[pos:lf])
                pos = lf + 1
                if stop_at_trailers and self._state == _TRAILERS:
                    break
            elif state == _DATA_END:
                # RFC 9112 §7.1: chunk data is followed by exactly CRLF.
                ending = buffer[pos : pos + 2]
                if ending == b"\r\n":
                    pos += 2
                    self._state = _SIZE
                elif ending != b"\r":
                    raise ProtocolError("Chunk data not followed by CRLF")
                else:
                    break
            elif state == _TRAILERS and not stop_at_trailers:
                section_end = self._scanner.scan(buffer, pos)
                if section_end == -1:
                    break
                self.trailers = parse_fields(buffer[pos : section_end - 2].split(b"\r\n")[:-1])
                pos = section_end
                self._state = _DONE
            else:
                break
        return pieces, pos

    def _read_size_line(self, line: bytes) -> None:
        """Check ``chunk-size [chunk-ext]`` and its CR, then set up the chunk."""
        if len(line) - (line[-1:] == b"\r") > MAX_CHUNK_LINE:
            raise ProtocolError(f"Chunk size line exceeds {MAX_CHUNK_LINE} bytes")
        if line[-1:] != b"\r":
            raise ProtocolError("Bare LF after a chunk size")
        content = line[:-1]
        size_end = content.find(b";")
        if size_end == -1:
            size_end = len(content)
        digits = content[:size_end]
        if not digits or digits.translate(HEX_DIGIT_TABLE) != digits:
            raise ProtocolError(f"Invalid chunk size {digits!r}")
        if len(digits) > MAX_CHUNK_SIZE_DIGITS:
            raise ProtocolError(f"Chunk size has more than {MAX_CHUNK_SIZE_DIGITS} digits")
        if size_end != len(content) and _EXTENSIONS.fullmatch(content, size_end) is None:
            raise ProtocolError("Invalid chunk extension")

        size = int(digits, 16)
        self._total += size
        if self._max_body is not None and self._total > self._max_body:
            raise ProtocolError(f"Chunked body exceeds the limit of {self._max_body} bytes", 413)
        if size:
            self._state = _DATA
            self._remaining = size
        else:
            self._state = _TRAILERS
            self._scanner.reset()
