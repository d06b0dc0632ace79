"""The request-target: split it into path and query, decode the path.

RFC 9112 §3.2 allows four forms of request-target. A server's parser has
already checked the syntax; these functions only take the form apart:

- origin-form ``/a/b?x=1``: the usual form,
- absolute-form ``http://host:port/p?q``: sent to proxies, and a server
  must accept it (RFC 9112 §3.2.2),
- asterisk-form ``*``: only for a server-wide ``OPTIONS`` (RFC 9112 §3.2.4),
- authority-form ``host:port``: only for ``CONNECT`` (RFC 9112 §3.2.3),
  which ASGI has no message for. It passes through as the raw path.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

__all__ = ["decode_path", "split_target"]


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """Split a request-target into ``(raw_path, query_string)``.

    The query string excludes the ``?``, and is ``b""`` when there is none.
    The absolute-form loses its scheme and authority, and an empty path in
    it becomes ``/``. The asterisk-form returns ``(b"*", b"")``.
    """
    if target[:1] == b"/":
        raw_path, _, query_string = target.partition(b"?")
        return raw_path, query_string

    # RFC 9112 §3.2.2: absolute-form is "scheme://authority path-abempty
    # [?query]", and an empty path-abempty stands for "/" (RFC 9110 §4.2.3).
    scheme_end = target.find(b"://")
    if scheme_end > 0:
        authority_start = scheme_end + 3
        rest = target[authority_start:]
        path_start = rest.find(b"/")
        query_start = rest.find(b"?")
        if path_start == -1 or (query_start != -1 and query_start < path_start):
            query_string = rest[query_start + 1 :] if query_start != -1 else b""
            return b"/", query_string
        raw_path, _, query_string = rest[path_start:].partition(b"?")
        return raw_path, query_string

    # The asterisk-form and the authority-form have no query.
    raw_path, _, query_string = target.partition(b"?")
    return raw_path, query_string


def decode_path(raw_path: bytes) -> str:
    """Percent-decode a raw path, then decode it as UTF-8.

    Invalid UTF-8 sequences become U+FFFD (``errors="replace"``). The other
    choice, ``surrogateescape``, yields strings that raise
    ``UnicodeEncodeError`` when a framework writes them to a log, a template
    or JSON, so a bad path would turn into a 500 far from its cause. An
    application that needs the exact bytes reads ``raw_path``.

    Malformed escapes such as ``%zz`` stay as they are.
    """
    if b"%" not in raw_path:
        # For ASCII input the UTF-8 decoder takes its ASCII fast path, and a
        # lenient parser's non-ASCII bytes still decode instead of raising.
        return raw_path.decode("utf-8", "replace")
    return unquote_to_bytes(raw_path).decode("utf-8", "replace")
