"""Reason phrases and prebuilt status lines for responses."""

from __future__ import annotations

from ._tables import FIELD_VALUE_TABLE

__all__ = ["REASON_PHRASES", "reason_phrase", "status_line"]

#: Reason phrases as named in the IANA HTTP Status Code Registry (RFC 9110
#: §15 and the RFCs that registered the rest). Codes the registry marks
#: unused or obsolete are left out and get an empty phrase.
REASON_PHRASES: dict[int, bytes] = {
    100: b"Continue",
    101: b"Switching Protocols",
    102: b"Processing",
    103: b"Early Hints",
    200: b"OK",
    201: b"Created",
    202: b"Accepted",
    203: b"Non-Authoritative Information",
    204: b"No Content",
    205: b"Reset Content",
    206: b"Partial Content",
    207: b"Multi-Status",
    208: b"Already Reported",
    226: b"IM Used",
    300: b"Multiple Choices",
    301: b"Moved Permanently",
    302: b"Found",
    303: b"See Other",
    304: b"Not Modified",
    305: b"Use Proxy",
    307: b"Temporary Redirect",
    308: b"Permanent Redirect",
    400: b"Bad Request",
    401: b"Unauthorized",
    402: b"Payment Required",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    406: b"Not Acceptable",
    407: b"Proxy Authentication Required",
    408: b"Request Timeout",
    409: b"Conflict",
    410: b"Gone",
    411: b"Length Required",
    412: b"Precondition Failed",
    413: b"Content Too Large",
    414: b"URI Too Long",
    415: b"Unsupported Media Type",
    416: b"Range Not Satisfiable",
    417: b"Expectation Failed",
    421: b"Misdirected Request",
    422: b"Unprocessable Content",
    423: b"Locked",
    424: b"Failed Dependency",
    425: b"Too Early",
    426: b"Upgrade Required",
    428: b"Precondition Required",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    451: b"Unavailable For Legal Reasons",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
    506: b"Variant Also Negotiates",
    507: b"Insufficient Storage",
    508: b"Loop Detected",
    511: b"Network Authentication Required",
}

_STATUS_LINES: dict[int, bytes] = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, phrase) for code, phrase in REASON_PHRASES.items()
}


def reason_phrase(status: int) -> bytes:
    """Return the registered reason phrase for ``status``, or ``b""`` for an unknown code."""
    return REASON_PHRASES.get(status, b"")


def status_line(status: int, reason: bytes = b"") -> bytes:
    """Return ``HTTP/1.1 <status> <reason>`` with its CRLF, from the table when possible."""
    if not reason:
        line = _STATUS_LINES.get(status)
        if line is not None:
            return line
    if not 100 <= status <= 999:
        raise ValueError(f"Invalid status code {status!r}: expected a number from 100 to 999")
    # reason-phrase (RFC 9112 §4) has the bytes of a field value, so no CR or LF.
    if reason.translate(FIELD_VALUE_TABLE) != reason:
        raise ValueError(f"Invalid reason phrase {reason!r}: control characters are not allowed")
    return b"HTTP/1.1 %d %s\r\n" % (status, reason)
