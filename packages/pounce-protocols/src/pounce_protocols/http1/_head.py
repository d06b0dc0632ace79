"""Syntax and meaning of a request head whose lines already passed ``LineScanner``.

The checks run in a fixed order, so that a head with several faults gets the
same status whichever backend reads it:

1. syntax of the request line, then of each field line in wire order (400);
2. Host (400), then Content-Length (400), then Transfer-Encoding (400 or
   501), then the body size limit (413).
"""

from __future__ import annotations

from ._errors import ProtocolError
from ._events import Headers
from ._tables import TOKEN_TABLE, VISIBLE_TABLE

__all__ = ["MAX_CONTENT_LENGTH_DIGITS", "interpret_head", "parse_fields", "parse_request_line"]

#: Longest Content-Length accepted, in digits: 18 digits stay below 2**63.
MAX_CONTENT_LENGTH_DIGITS = 18

_VERSIONS = {b"HTTP/1.1": "1.1", b"HTTP/1.0": "1.0"}
_OWS = b" \t"
_HOST = b"host"
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_CONNECTION = b"connection"
_EXPECT = b"expect"
_FRAMING_AND_CONTROL = frozenset((_HOST, _CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION, _EXPECT))

# Tokens that most requests carry. A method or lowercased field name found
# here skips the token check, because a set lookup costs less than the
# ``translate`` call and comparison.
# Methods are case-sensitive (RFC 9110 §9.1), so only these spellings match.
_COMMON_METHODS = frozenset(
    (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH")
)
_COMMON_FIELD_NAMES = frozenset(
    (
        b"accept",
        b"accept-encoding",
        b"accept-language",
        b"authorization",
        b"cache-control",
        b"connection",
        b"content-length",
        b"content-type",
        b"cookie",
        b"expect",
        b"host",
        b"if-modified-since",
        b"if-none-match",
        b"origin",
        b"pragma",
        b"referer",
        b"sec-fetch-dest",
        b"sec-fetch-mode",
        b"sec-fetch-site",
        b"transfer-encoding",
        b"upgrade-insecure-requests",
        b"user-agent",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-request-id",
    )
)


def parse_request_line(line: bytes) -> tuple[bytes, bytes, str]:
    """Split and validate ``method SP request-target SP HTTP-version`` (RFC 9112 §3)."""
    parts = line.split(b" ")
    if len(parts) != 3:
        raise ProtocolError("Malformed request line")
    method, target, version = parts
    # RFC 9110 §9.1: the method is a token, compared case-sensitively.
    if method not in _COMMON_METHODS and (not method or method.translate(TOKEN_TABLE) != method):
        raise ProtocolError("Invalid method in the request line")
    # RFC 9112 §3.2: every request-target form is made of visible ASCII.
    if not target or target.translate(VISIBLE_TABLE) != target:
        raise ProtocolError("Invalid request target")
    http_version = _VERSIONS.get(version)
    if http_version is None:
        raise ProtocolError("Malformed HTTP version in the request line")
    return method, target, http_version


def parse_fields(lines: list[bytes]) -> Headers:
    """Parse ``field-name ":" OWS field-value OWS`` lines (RFC 9112 §5).

    The lines must have passed ``LineScanner`` (or the fast machine's
    equivalent checks): they hold no control byte but HTAB, so every field
    value is valid and only the names need checking here. Names are
    lowercased and values stripped of SP and HTAB; the order and any
    repeated fields are kept as they came.
    """
    headers: Headers = []
    append = headers.append
    token_table = TOKEN_TABLE
    common_names = _COMMON_FIELD_NAMES
    for line in lines:
        name, colon, value = line.partition(b":")
        lowered = name.lower()
        # RFC 9112 §5.1: no whitespace between name and colon. The token
        # check rejects it, and with it a folded line's leading SP or HTAB.
        # Lowercasing changes only A-Z, so a name whose lowercase form is
        # a common name is a token too.
        if lowered not in common_names and (not name or name.translate(token_table) != name):
            raise ProtocolError(f"Invalid header field name {name!r}")
        if not colon:
            raise ProtocolError("Header field line without a colon")
        append((lowered, value.strip(b" \t")))
    return headers


def _list_members(values: list[bytes]) -> list[bytes]:
    """Split comma-separated field values into members stripped of OWS (RFC 9110 §5.6.1)."""
    return [member.strip(_OWS) for value in values for member in value.split(b",")]


def _content_length(values: list[bytes]) -> int:
    # RFC 9110 §8.6: a list or repeated field is accepted only when every
    # member is the same valid value. Anything else could be read two ways.
    members = _list_members(values)
    first = members[0]
    for member in members:
        if not member.isdigit() or len(member) > MAX_CONTENT_LENGTH_DIGITS:
            raise ProtocolError(f"Invalid Content-Length {member!r}")
        if member != first:
            raise ProtocolError("Conflicting Content-Length values")
    return int(first)


def _check_transfer_coding(values: list[bytes], http_version: str, has_length: bool) -> None:
    """Raise unless the combined Transfer-Encoding list is exactly ``chunked`` (RFC 9112 §6.1)."""
    # RFC 9112 §6.1: a message with both is a smuggling attempt or a broken
    # intermediary, and HTTP/1.0 has no transfer codings at all.
    if has_length:
        raise ProtocolError("Both Transfer-Encoding and Content-Length in a request")
    if http_version == "1.0":
        raise ProtocolError("Transfer-Encoding in an HTTP/1.0 request")
    codings = [member.lower() for member in _list_members(values)]
    if b"" in codings:
        raise ProtocolError("Empty member in Transfer-Encoding")
    if codings[-1] != b"chunked":
        raise ProtocolError("Transfer-Encoding does not end with chunked")
    if len(codings) > 1:
        raise ProtocolError("Only Transfer-Encoding: chunked is supported", 501)


def _tokens(values: list[bytes]) -> list[bytes]:
    """Return the lowercased members of comma-separated values, OWS stripped."""
    return [member.strip(_OWS) for member in b",".join(values).lower().split(b",")]


def interpret_head(
    http_version: str, headers: Headers, max_body: int | None
) -> tuple[int | None, bool, bool, bool]:
    """Apply the Host and framing rules; return ``(content_length, chunked, keep_alive, expect)``.

    ``content_length`` is None for a chunked body and 0 when the request has
    neither field.
    """
    host_count = 0
    lengths: list[bytes] = []
    codings: list[bytes] = []
    connection: list[bytes] = []
    expect: list[bytes] = []
    for name, value in headers:
        if name not in _FRAMING_AND_CONTROL:
            continue
        if name == _HOST:
            host_count += 1
        elif name == _CONTENT_LENGTH:
            lengths.append(value)
        elif name == _TRANSFER_ENCODING:
            codings.append(value)
        elif name == _CONNECTION:
            connection.append(value)
        else:
            expect.append(value)

    # RFC 9112 §3.2: HTTP/1.1 requires exactly one Host, and no version may
    # send two.
    if host_count == 0 and http_version == "1.1":
        raise ProtocolError("Missing Host header field")
    if host_count > 1:
        raise ProtocolError("More than one Host header field")

    content_length: int | None = _content_length(lengths) if lengths else 0
    chunked = False
    if codings:
        _check_transfer_coding(codings, http_version, bool(lengths))
        content_length = None
        chunked = True
    if content_length is not None and max_body is not None and content_length > max_body:
        raise ProtocolError(
            f"Content-Length {content_length} exceeds the limit of {max_body} bytes", 413
        )

    # RFC 9112 §9.3: HTTP/1.1 persists unless the request carries the close
    # option. HTTP/1.0 persists only when it carries keep-alive.
    connection_tokens = _tokens(connection) if connection else []
    if http_version == "1.1":
        keep_alive = b"close" not in connection_tokens
    else:
        keep_alive = b"keep-alive" in connection_tokens and b"close" not in connection_tokens

    # RFC 9110 §10.1.1: 100-continue means something only in HTTP/1.1.
    expect_continue = bool(expect) and http_version == "1.1" and b"100-continue" in _tokens(expect)
    return content_length, chunked, keep_alive, expect_continue
