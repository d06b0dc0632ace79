"""Per-worker state the connections of one worker share.

A ``WorkerContext`` belongs to exactly one worker and its event loop: only
that loop's thread reads or changes it, so it needs no lock even when the
GIL is disabled. What it refers to that is shared across workers (the config,
the app, the scope factory) is immutable or only read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from pounce_asgi_bridge import ASGIApp, HTTPScopeFactory

from .config import ServerConfig
from .logs import access_logger, worker_logger

if TYPE_CHECKING:
    from .http1 import HTTP1Protocol

__all__ = ["WorkerContext"]

SERVER_HEADER = (b"server", b"pounce")


class WorkerContext:
    """The state shared by the connections of one worker, built once per worker."""

    def __init__(
        self,
        *,
        app: ASGIApp,
        config: ServerConfig,
        loop: asyncio.AbstractEventLoop,
        state: dict[str, Any] | None,
    ) -> None:
        self.app = app
        self.config = config
        self.loop = loop
        self.scope_factory = HTTPScopeFactory(
            scheme="http", root_path=config.root_path, state=state
        )
        self.connections: set[HTTP1Protocol] = set()
        #: The request tasks still running, kept until they finish.
        self.tasks: set[asyncio.Task[None]] = set()
        self.shutting_down = False
        #: Requests started on this worker, for --limit-max-requests.
        self.requests = 0
        # Checked once here, not per request: the access log costs nothing
        # when it is off or its logger is silenced.
        self.access_log = config.access_log and access_logger.isEnabledFor(logging.INFO)
        self.debug = worker_logger.isEnabledFor(logging.DEBUG)
        self._fixed_headers: list[tuple[bytes, bytes]] = []
        if config.server_header:
            self._fixed_headers.append(SERVER_HEADER)
        self._fixed_headers.extend(config.encoded_headers)
        self._date_header = config.date_header
        self._date_second = -1
        self._headers: list[tuple[bytes, bytes]] = list(self._fixed_headers)

    def default_headers(self) -> list[tuple[bytes, bytes]]:
        """Return the headers the server adds to each response, ``Date`` fresh to the second.

        The list is shared between responses of the second; callers must not
        change it.
        """
        if self._date_header:
            now = int(time.time())
            if now != self._date_second:
                self._date_second = now
                date = formatdate(now, usegmt=True).encode("ascii")
                self._headers = [(b"date", date), *self._fixed_headers]
        return self._headers
