"""Lifespan run once for all thread workers, on an event loop of its own.

Thread workers share one app object, so its startup and shutdown run once,
not once per worker. They run on a loop in a thread of their own rather
than on a worker's loop, because a worker may be replaced (crash, retirement,
rolling restart) while the app's lifespan must go on. The state the app
fills in at startup is handed to every worker's scopes.

Anything the app creates at startup is created on this loop. Objects bound
to one event loop (some database pools are) must therefore be made lazily
in the request path instead, once per worker loop. The worker-model docs say so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, cast

from pounce_asgi_bridge import ASGIApp, LifespanFailure, LifespanManager, LifespanMode

from .errors import StartupError

__all__ = ["SharedLifespan"]


class SharedLifespan:
    """Run an app's lifespan startup and shutdown on a dedicated loop thread."""

    def __init__(
        self, app: ASGIApp, mode: str, loop_factory: Callable[[], asyncio.AbstractEventLoop]
    ) -> None:
        self._manager = LifespanManager(app, cast(LifespanMode, mode))
        self._loop = loop_factory()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="pounce-lifespan", daemon=True
        )
        self._thread.start()

    @property
    def state(self) -> dict[str, Any] | None:
        return self._manager.state

    def startup(self, interrupted: Callable[[], bool]) -> None:
        """Run startup; raise ``StartupError`` if it fails or ``interrupted()`` turns true."""
        future = asyncio.run_coroutine_threadsafe(self._manager.startup(), self._loop)
        try:
            self._wait(future, interrupted)
        except LifespanFailure as exc:
            raise StartupError(f"application startup failed: {exc}") from None

    def shutdown(self, interrupted: Callable[[], bool]) -> bool:
        """Run shutdown; return False if ``interrupted()`` cut it short."""
        future = asyncio.run_coroutine_threadsafe(self._manager.shutdown(), self._loop)
        try:
            self._wait(future, interrupted)
        except StartupError:
            return False
        return True

    def close(self) -> None:
        """Stop the loop and its thread."""
        loop = self._loop
        if loop.is_closed():
            return
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            loop.close()

    @staticmethod
    def _wait(future: concurrent.futures.Future[None], interrupted: Callable[[], bool]) -> None:
        # In short steps, so that the caller's signal handlers run and a
        # forced shutdown can cut a phase that never ends.
        while True:
            try:
                future.result(timeout=0.1)
                return
            except concurrent.futures.TimeoutError:
                if interrupted():
                    future.cancel()
                    raise StartupError(
                        "application lifespan was interrupted by a forced shutdown"
                    ) from None
