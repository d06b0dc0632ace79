"""Byte tables for validating HTTP/1.1 text with ``bytes.translate``.

Each table lists the bytes a grammar rule allows. ``value.translate(None,
TABLE)`` deletes those bytes, so an empty result means every byte of
``value`` is allowed. That runs in C over the whole value; a per-byte Python
loop would cost far more on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "CONTROL_BYTES",
    "FIELD_VALUE_BYTES",
    "HEX_DIGITS",
    "NOT_CONTROL_BYTES",
    "TOKEN_BYTES",
    "VISIBLE_BYTES",
]


def _bytes_where(predicate: Callable[[int], bool]) -> bytes:
    return bytes(byte for byte in range(256) if predicate(byte))


#: tchar (RFC 9110 §5.6.2): the bytes of a token such as a method or field name.
TOKEN_BYTES = _bytes_where(
    lambda b: chr(b).isascii() and (chr(b).isalnum() or chr(b) in "!#$%&'*+-.^_`|~")
)

#: VCHAR (RFC 5234 appendix B.1): visible ASCII, the bytes of a request-target.
VISIBLE_BYTES = _bytes_where(lambda b: 0x21 <= b <= 0x7E)

#: field-vchar, SP and HTAB (RFC 9110 §5.5): the bytes of a field value.
#: obs-text (0x80-0xFF) is allowed; every control byte except HTAB is not.
FIELD_VALUE_BYTES = _bytes_where(lambda b: b == 0x09 or 0x20 <= b <= 0x7E or b >= 0x80)

#: CTL bytes (RFC 5234 appendix B.1) other than HTAB, which field values may hold.
CONTROL_BYTES = _bytes_where(lambda b: (b < 0x20 and b != 0x09) or b == 0x7F)

#: Every byte outside ``CONTROL_BYTES``: deleting these leaves only the controls.
NOT_CONTROL_BYTES = _bytes_where(lambda b: not ((b < 0x20 and b != 0x09) or b == 0x7F))

#: HEXDIG (RFC 5234 appendix B.1), both cases.
HEX_DIGITS = b"0123456789abcdefABCDEF"
