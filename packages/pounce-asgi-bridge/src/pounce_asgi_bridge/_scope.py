"""Build the ASGI HTTP connection scope for each request.

Everything that depends only on the server's settings (scheme, root path and
its encoded form, the default server address, the lifespan state) is worked
out once in ``HTTPScopeFactory``. ``build`` then runs per request and does
only what the request itself needs: split the target, decode the path and
fill one dict literal.
"""

from __future__ import annotations

import enum
from typing import Any, Final
from urllib.parse import quote

from ._target import decode_path, split_target

__all__ = ["HTTPScopeFactory"]

# The ASGI HTTP spec version whose keys ``build`` fills in.
HTTP_SPEC_VERSION: Final = "2.4"


class _Default(enum.Enum):
    """Marks an argument the caller left out, where ``None`` is a real value."""

    SERVER = enum.auto()


# ``build`` compares with this alias on every request, because on CPython
# 3.11 reading a member off its enum class takes about four times as long as
# a global lookup.
_DEFAULT_SERVER: Final = _Default.SERVER

# RFC 3986 §3.3: characters a path segment may carry unescaped, besides
# unreserved ones. ``quote`` always leaves ``_.-~`` and alphanumerics alone.
_PATH_SAFE: Final = "/!$&'()*+,;=:@"


class HTTPScopeFactory:
    """Builds HTTP scopes for one server or connection.

    ``root_path`` is where the application is mounted, as a decoded string
    starting with ``/`` (``""`` when it is mounted at the root). A trailing
    ``/`` is dropped. The scope's ``path`` and ``raw_path`` start with it,
    because Starlette (0.35 and later) expects ``path`` to contain
    ``root_path``, and uvicorn builds its scopes that way since 0.26.

    ``state`` is the lifespan state. Each scope gets a shallow copy under
    ``"state"``; without it, the scope has no ``"state"`` key, which ASGI
    reads as "the server does not support lifespan state".
    """

    __slots__ = ("_raw_root_path", "_root_path", "_scheme", "_server", "_state")

    def __init__(
        self,
        *,
        scheme: str = "http",
        root_path: str = "",
        server: tuple[str, int] | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        if not scheme:
            raise ValueError("scheme must not be empty; use 'http' or 'https'")
        root_path = root_path.rstrip("/")
        if root_path and not root_path.startswith("/"):
            raise ValueError(f"root_path must start with '/', got {root_path!r}")
        self._scheme = scheme
        self._root_path = root_path
        # raw_path carries bytes as they would appear on the wire, so any
        # character not allowed in a path is percent-encoded here, once.
        self._raw_root_path = quote(root_path, safe=_PATH_SAFE).encode("ascii")
        self._server = server
        self._state = state

    def build(
        self,
        method: bytes,
        target: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        client: tuple[str, int] | None,
        server: tuple[str, int] | _Default | None = _Default.SERVER,
    ) -> dict[str, Any]:
        """Return a new scope for one request.

        ``method`` and ``target`` are the request line's bytes, ``headers``
        the parsed fields with lowercase names. ``server`` overrides the
        factory's address, for example with a socket's own address.
        """
        # The origin-form without "%" is by far the most common target, so
        # it is split and decoded inline, without a function call. The
        # search uses ``find`` because CPython's ``in`` on bytes first tries
        # the needle as an int, and raising and clearing that TypeError
        # costs more than the search itself.
        if target[:1] == b"/":
            raw_path, _, query_string = target.partition(b"?")
        else:
            raw_path, query_string = split_target(target)
        if raw_path.find(b"%") == -1:
            path = raw_path.decode("utf-8", "replace")
        else:
            path = decode_path(raw_path)

        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": HTTP_SPEC_VERSION},
            "http_version": http_version,
            "method": method.decode("ascii"),
            "scheme": self._scheme,
            "path": self._root_path + path,
            "raw_path": self._raw_root_path + raw_path,
            "query_string": query_string,
            "root_path": self._root_path,
            "headers": headers,
            "client": client,
            "server": self._server if server is _DEFAULT_SERVER else server,
            "extensions": {"http.response.trailers": {}},
        }
        if self._state is not None:
            # A shallow copy: an app may add request-scoped keys without
            # touching the shared dict, while the objects in it (pools,
            # clients) stay shared.
            scope["state"] = self._state.copy()
        return scope
