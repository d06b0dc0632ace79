"""Translation tables for validating HTTP/1.1 text with ``bytes.translate``.

Each ``*_TABLE`` maps the bytes a grammar rule allows to themselves and
every other byte to a different byte, so ``value.translate(TABLE) ==
value`` is true exactly when every byte of ``value`` is allowed. That runs in
C over the whole value; a per-byte Python loop would cost far more on the
hot path. A table is used rather than a string of bytes to delete because,
in CPython, ``translate`` with bytes to delete builds a 256-entry table on
every call, which costs more than the check itself on short values.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "CONTROLS_TO_LF",
    "FIELD_VALUE_TABLE",
    "HEX_DIGIT_TABLE",
    "TOKEN_TABLE",
    "VISIBLE_TABLE",
]


def _allowing(predicate: Callable[[int], bool]) -> bytes:
    """Return a table that keeps the bytes ``predicate`` allows and changes every other."""
    return bytes(byte if predicate(byte) else (byte + 1) % 256 for byte in range(256))


def _is_control(byte: int) -> bool:
    # CTL (RFC 5234 appendix B.1) other than HTAB, which field values may hold.
    return (byte < 0x20 and byte != 0x09) or byte == 0x7F


#: tchar (RFC 9110 §5.6.2): the bytes of a token such as a method or field name.
TOKEN_TABLE = _allowing(
    lambda b: chr(b).isascii() and (chr(b).isalnum() or chr(b) in "!#$%&'*+-.^_`|~")
)

#: VCHAR (RFC 5234 appendix B.1): visible ASCII, the bytes of a request-target.
VISIBLE_TABLE = _allowing(lambda b: 0x21 <= b <= 0x7E)

#: field-vchar, SP and HTAB (RFC 9110 §5.5): the bytes of a field value.
#: obs-text (0x80-0xFF) is allowed; every control byte except HTAB is not.
FIELD_VALUE_TABLE = _allowing(lambda b: not _is_control(b))

#: HEXDIG (RFC 5234 appendix B.1), both cases.
HEX_DIGIT_TABLE = _allowing(lambda b: chr(b) in "0123456789abcdefABCDEF")

#: Maps every control byte except HTAB to LF and keeps the rest, so
#: ``text.translate(CONTROLS_TO_LF).count(b"\n")`` counts the control bytes.
CONTROLS_TO_LF = bytes(0x0A if _is_control(byte) else byte for byte in range(256))
