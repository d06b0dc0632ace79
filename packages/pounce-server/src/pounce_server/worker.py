"""A worker: one event loop that accepts, parses and serves.

The worker owns its loop, its ``WorkerContext`` and every connection on it;
nothing it changes is seen by another thread. Other threads talk to it only
through ``request_shutdown``, which hands the request to the loop with
``call_soon_threadsafe``.

Inside the loop the worker runs, in order: lifespan startup, serving on the
listening sockets, and on shutdown: stop accepting, give idle connections
``FIRST_REQUEST_GRACE`` to send one last request, let in-flight requests
finish within ``timeout_graceful_shutdown``, cancel what remains, then
lifespan shutdown. Thread workers under a supervisor skip lifespan: the
supervisor runs it once for all of them and hands each worker its state.

A worker under a supervisor also reports, through ``report``, from its own
loop: ``"beat"`` twice a second while the loop runs (a loop that stops
beating is blocked), and ``"retire"`` once it has started the number of
requests ``max_requests`` allows, so the supervisor can start its successor.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, cast

from pounce_asgi_bridge import ASGIApp, LifespanFailure, LifespanManager, LifespanMode

from .config import ServerConfig
from .context import WorkerContext
from .errors import StartupError
from .http1 import HTTP1Protocol
from .logs import worker_logger
from .sockets import Listener

__all__ = ["Worker"]

#: Seconds between two passes of the deadline sweeper.
SWEEP_INTERVAL = 0.5
#: Seconds cancelled apps get to unwind after a forced shutdown.
CANCEL_GRACE = 2.0
#: Seconds between two heartbeats reported to a supervisor.
BEAT_INTERVAL = 0.5
#: Seconds a draining worker keeps idle connections open after it stopped
#: accepting, for a request already on its way to arrive.
FIRST_REQUEST_GRACE = 0.5


class Worker:
    """Serve the app on the given listeners in one event loop."""

    def __init__(
        self,
        *,
        app: ASGIApp,
        config: ServerConfig,
        listeners: list[Listener],
        loop_factory: Callable[[], asyncio.AbstractEventLoop],
        on_ready: Callable[[], None] | None = None,
        on_lifespan: Callable[[str], None] | None = None,
        run_lifespan: bool = True,
        lifespan_state: dict[str, Any] | None = None,
        report: Callable[[str], None] | None = None,
        max_requests: int | None = None,
        owns_listeners: bool = False,
    ) -> None:
        self.app = app
        self.config = config
        self.listeners = listeners
        self._loop_factory = loop_factory
        self._on_ready = on_ready
        self._on_lifespan = on_lifespan
        self._run_lifespan = run_lifespan
        self._lifespan_state = lifespan_state
        self._report = report
        self._max_requests = max_requests
        self._owns_listeners = owns_listeners
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._force = False
        self._stop_requested = threading.Event()
        self._force_requested = threading.Event()
        #: The lifespan phase in progress, which a forced shutdown cancels.
        self._lifespan_phase: asyncio.Future[None] | None = None
        #: Set when startup failed; the server reports it and exits non-zero.
        self.error: BaseException | None = None
        #: The connections' shared context, once the worker serves.
        self.context: WorkerContext | None = None

    def run(self) -> None:
        """Run the worker's loop until shutdown completes; call in the worker's thread."""
        loop = self._loop_factory()
        self.loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:
            self.error = exc
        finally:
            try:
                _cancel_remaining(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                if self._owns_listeners:
                    # Copies made for this worker alone; a closed one stays closed.
                    for listener in self.listeners:
                        listener.sock.close()

    def request_shutdown(self, *, force: bool = False) -> None:
        """Ask the worker to shut down; safe to call from any thread, more than once."""
        if force:
            self._force_requested.set()
        self._stop_requested.set()
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        # A RuntimeError means the loop closed in between: the worker is done.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._begin_shutdown, force)

    def _begin_shutdown(self, force: bool) -> None:
        self._force = self._force or force
        if self._stop is not None:
            self._stop.set()
        if force and self._lifespan_phase is not None:
            # Lifespan phases have no timeout, so a forced shutdown is the
            # only way out of an app that hangs in one.
            self._lifespan_phase.cancel()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested.is_set():
            self._begin_shutdown(self._force_requested.is_set())

        beat = loop.create_task(self._beat()) if self._report is not None else None

        lifespan: LifespanManager | None = None
        state = self._lifespan_state
        if self._run_lifespan:
            mode = cast(LifespanMode, self.config.lifespan)  # ServerConfig checked the choice.
            lifespan = LifespanManager(self.app, mode)
            self._notify("startup")
            try:
                started = await self._run_lifespan_phase(lifespan.startup())
            except LifespanFailure as exc:
                raise StartupError(f"application startup failed: {exc}") from None
            if not started:
                raise StartupError("application startup was interrupted by a forced shutdown")
            state = lifespan.state

        ctx = WorkerContext(app=self.app, config=self.config, loop=loop, state=state)
        self.context = ctx
        servers = [
            await loop.create_server(
                lambda: HTTP1Protocol(ctx), sock=listener.sock, backlog=self.config.backlog
            )
            for listener in self.listeners
        ]
        sweeper = loop.create_task(self._sweep(ctx))
        if self._on_ready is not None:
            self._on_ready()

        await self._stop.wait()

        sweeper.cancel()
        await self._drain(ctx, servers)
        if lifespan is not None:
            self._notify("shutdown")
            if not await self._run_lifespan_phase(lifespan.shutdown()):
                worker_logger.warning(
                    "Forced shutdown: stopped waiting for the application's lifespan shutdown"
                )
        if beat is not None:
            beat.cancel()

    async def _run_lifespan_phase(self, phase: Coroutine[Any, Any, None]) -> bool:
        """Run a lifespan phase; return False if a forced shutdown cancelled it."""
        task = asyncio.ensure_future(phase)
        self._lifespan_phase = task
        try:
            # Wait with asyncio.wait rather than await, so that cancelling the
            # phase does not cancel this task, which goes on to stop the worker.
            await asyncio.wait({task})
        finally:
            self._lifespan_phase = None
        if task.cancelled():
            return False
        task.result()
        return True

    async def _drain(self, ctx: WorkerContext, servers: list[asyncio.Server]) -> None:
        """Stop accepting, finish in-flight requests, then cancel what is left."""
        ctx.shutting_down = True
        await self._stop_accepting(ctx, servers)

        # A connection accepted just before the listeners closed may not have
        # received its first request yet, and closing it now would fail that
        # request. Such fresh connections get a grace period in which a
        # request that arrives is served, with "Connection: close". Idle
        # keep-alive connections were closed at once by _mark_closing.
        # NOTE: a client slower than the grace to send its first request
        # still has its connection closed without a response.
        if not self._force and any(_is_fresh(conn) for conn in ctx.connections):
            await asyncio.sleep(FIRST_REQUEST_GRACE)
        for conn in list(ctx.connections):
            conn.shutdown()

        # Apps that run on after their response (background work) count as
        # in flight too, because lifespan shutdown must not run under them.
        deadline = ctx.loop.time() + self.config.timeout_graceful_shutdown
        while (ctx.connections or ctx.tasks) and not self._force and ctx.loop.time() < deadline:
            await asyncio.sleep(0.05)

        if ctx.connections or ctx.tasks:
            worker_logger.warning(
                "Cancelling %d connection(s) and %d request task(s) still running %s",
                len(ctx.connections),
                len(ctx.tasks),
                "on a forced shutdown" if self._force else "after the graceful shutdown period",
            )
            for conn in list(ctx.connections):
                conn.cancel()
            tasks = list(ctx.tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=CANCEL_GRACE)
        for server in servers:
            await server.wait_closed()

    async def _stop_accepting(self, ctx: WorkerContext, servers: list[asyncio.Server]) -> None:
        """Close the listening servers and mark every connection to close after its response."""
        loop = ctx.loop
        selector = isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop)
        if selector:
            # This loop accepts a connection in one pass and attaches it to
            # its server in the next. A server closed in between leaves that
            # connection open and never served (CPython issue gh-109564), so
            # the listening sockets are unwatched first and closed one pass
            # later, once what was accepted is attached.
            for server in servers:
                for sock in server.sockets:
                    loop.remove_reader(sock.fileno())
        else:
            for server in servers:
                server.close()

        # Requests in flight finish, and their responses announce the close.
        self._mark_closing(ctx)
        if selector:
            await asyncio.sleep(0)
            for server in servers:
                server.close()
        # The connections accepted last get connection_made up to two passes
        # later; they are marked too.
        for _ in range(2):
            await asyncio.sleep(0)
        self._mark_closing(ctx)

    @staticmethod
    def _mark_closing(ctx: WorkerContext) -> None:
        for conn in list(ctx.connections):
            if _is_fresh(conn):
                # Closed after the grace period unless a request arrives.
                conn.closing = True
            else:
                # In flight: closes after its response. Idle keep-alive:
                # closes now, as a client must expect of an idle connection.
                conn.shutdown()

    async def _sweep(self, ctx: WorkerContext) -> None:
        """Close connections whose deadline has passed, twice a second."""
        loop = ctx.loop
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = loop.time()
            for conn in list(ctx.connections):
                conn.check_deadline(now)

    async def _beat(self) -> None:
        """Tell the supervisor the loop runs, and when the request budget is spent."""
        report = self._report
        assert report is not None
        limit = self._max_requests
        retiring = False
        while True:
            report("beat")
            ctx = self.context
            if limit is not None and not retiring and ctx is not None and ctx.requests >= limit:
                retiring = True
                worker_logger.info(
                    "Worker served %d requests (--limit-max-requests); asking for a successor",
                    ctx.requests,
                )
                report("retire")
            await asyncio.sleep(BEAT_INTERVAL)

    def _notify(self, phase: str) -> None:
        if self._on_lifespan is not None:
            self._on_lifespan(phase)


def _is_fresh(conn: HTTP1Protocol) -> bool:
    """Return whether the connection has not started any request yet."""
    return conn.cycle is None and conn.task is None


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    # Bounded, because a task that swallows its cancellation would
    # otherwise keep the worker, and the server with it, from ever stopping.
    done, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=CANCEL_GRACE))
    for task in done:
        if not task.cancelled():
            # Read, so that asyncio does not report it as never retrieved.
            task.exception()
    if pending:
        worker_logger.warning(
            "Abandoning %d task(s) still running %gs after they were cancelled",
            len(pending),
            CANCEL_GRACE,
        )
        for task in pending:
            # Logged once above. Without this, asyncio logs each again,
            # as an error, whenever the garbage collector reaches it.
            with contextlib.suppress(AttributeError):
                task._log_destroy_pending = False  # type: ignore[attr-defined]
