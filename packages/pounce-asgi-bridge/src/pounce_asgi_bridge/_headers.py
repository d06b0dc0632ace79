"""Validate the header and trailer fields an application sends.

This is the response's header sanitization step: a field that could split
the response or smuggle a second one never reaches a protocol serializer.
Each check runs ``bytes.translate`` with a table built at import that
keeps the allowed bytes and changes every other, then compares the result
with the input. For a valid field, CPython returns the input itself, so
the check allocates nothing. A table is used rather than a string of
bytes to delete, because ``translate`` with bytes to delete fills a
256-entry table on every call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

__all__ = ["validate_fields"]

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
# "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
_TOKEN_CHARS: Final = (
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_TOKEN_TABLE: Final = bytes(
    byte if byte in _TOKEN_CHARS else (byte + 1) % 256 for byte in range(256)
)

# RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are
# invalid and dangerous". Other control characters are invalid too, but the
# RFC lets recipients keep them, so they pass to stay lenient with apps.
_FORBIDDEN_VALUE_BYTES: Final = b"\r\n\x00"
_VALUE_TABLE: Final = bytes(
    byte if byte not in _FORBIDDEN_VALUE_BYTES else 0x20 for byte in range(256)
)

# Lowercase tokens that apps send in most responses. A name found here skips
# the token check, because a set lookup costs less than the ``translate``
# call and comparison.
_COMMON_NAMES: Final = frozenset(
    {
        b"accept-ranges",
        b"access-control-allow-credentials",
        b"access-control-allow-headers",
        b"access-control-allow-methods",
        b"access-control-allow-origin",
        b"access-control-expose-headers",
        b"access-control-max-age",
        b"age",
        b"allow",
        b"cache-control",
        b"connection",
        b"content-disposition",
        b"content-encoding",
        b"content-language",
        b"content-length",
        b"content-security-policy",
        b"content-type",
        b"date",
        b"etag",
        b"expires",
        b"keep-alive",
        b"last-modified",
        b"link",
        b"location",
        b"referrer-policy",
        b"retry-after",
        b"server",
        b"server-timing",
        b"set-cookie",
        b"strict-transport-security",
        b"transfer-encoding",
        b"vary",
        b"www-authenticate",
        b"x-content-type-options",
        b"x-frame-options",
        b"x-request-id",
    }
)


def _already_clean(fields: list[Any]) -> bool:
    """Return whether every field is a ``(name, value)`` tuple that passes unchanged.

    This is the common case, checked without the bookkeeping that the full
    loop in ``validate_fields`` needs to name a bad field or rewrite one.
    """
    for field in fields:
        if type(field) is not tuple or len(field) != 2:
            return False
        name, value = field
        if type(name) is not bytes or type(value) is not bytes:
            return False
        if name not in _COMMON_NAMES and (
            not name.islower() or name.translate(_TOKEN_TABLE) != name
        ):
            return False
        if value.translate(_VALUE_TABLE) != value:
            return False
    return True


def validate_fields(fields: Iterable[Any], kind: str) -> list[tuple[bytes, bytes]]:
    """Check the fields of a response head or trailer and return them as a list.

    ``fields`` is what the app put under ``"headers"``: an iterable of
    ``(name, value)`` pairs of bytes. Names with uppercase letters are
    lowercased, because ASGI requires lowercase names from apps but some
    send mixed case. When nothing needs changing and ``fields`` is a list of
    tuples, that same list is returned.

    Raise ``RuntimeError`` naming the field (``kind`` is "header" or
    "trailer" in the message) when a pair is not two bytes objects, a name
    is not a token, or a value contains CR, LF or NUL.
    """
    field_list: list[Any]
    if type(fields) is list:
        if _already_clean(fields):
            return fields
        field_list = fields
    else:
        try:
            field_list = list(fields)
        except TypeError:
            raise RuntimeError(
                f"Invalid response {kind}s: expected a list of (name, value) pairs, "
                f"got {type(fields).__name__}"
            ) from None

    # ``cleaned`` stays None while every field is already a lowercase
    # (bytes, bytes) tuple; the first field that needs rewriting starts a copy.
    cleaned: list[tuple[bytes, bytes]] | None = None
    for index, field in enumerate(field_list):
        try:
            name, value = field
        except (TypeError, ValueError):
            raise RuntimeError(
                f"Invalid response {kind} at index {index}: expected a (name, value) "
                f"pair, got {field!r}"
            ) from None
        if type(name) is not bytes or type(value) is not bytes:
            raise RuntimeError(
                f"Invalid response {kind} {name!r} at index {index}: name and value must be bytes, "
                f"got {type(name).__name__} and {type(value).__name__}"
            )

        # RFC 9110 §5.1: field-name = token, and a token is one or more tchar.
        if not name or name.translate(_TOKEN_TABLE) != name:
            raise RuntimeError(
                f"Invalid response {kind} name {name!r}: a name must be a non-empty "
                "token (RFC 9110 §5.6.2)"
            )
        if value.translate(_VALUE_TABLE) != value:
            raise RuntimeError(
                f"Invalid response {kind} {name!r}: the value contains CR, LF or NUL "
                "(RFC 9110 §5.5)"
            )

        needs_rewrite = type(field) is not tuple or not name.islower()
        if needs_rewrite and cleaned is None:
            cleaned = field_list[:index]
        if cleaned is not None:
            cleaned.append((name.lower(), value))

    return field_list if cleaned is None else cleaned
