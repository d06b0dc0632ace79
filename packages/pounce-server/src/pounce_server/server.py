"""The Server: CONFIG -> DETECT -> BIND -> LIFESPAN -> SERVE -> SHUTDOWN.

Each phase is one method, run in order by ``run`` and logged once. With one
worker there is no supervisor. The server runs the worker's event loop in a
thread of its own and keeps the main thread for signals, so SIGINT and
SIGTERM take effect at once, whatever the app is doing.

With several workers (or ``--limit-max-requests``, or process workers asked
for by name) a ``Supervisor`` runs them instead, in the calling thread. The
sockets are bound here, once, before any worker starts, and every worker
accepts on them (or on its own ``SO_REUSEPORT`` copy).
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from pounce_asgi_bridge import ASGIApp

from .config import ServerConfig
from .detect import Runtime, detect_runtime, gil_enabled, loop_factory
from .errors import EXIT_OK, ConfigError, PounceError, StartupError
from .events import (
    EventHook,
    LifecycleEvent,
    ServingStarted,
    ShutdownFinished,
    ShutdownStarted,
)
from .handles import ProcessWorkerHandle, ThreadWorkerHandle, WorkerHandle
from .importer import AppSource
from .logs import configure_logging, server_logger
from .reload import Reloader
from .shared_lifespan import SharedLifespan
from .sockets import (
    Listener,
    bind_listeners,
    close_listeners,
    listen_copies,
    reuse_port_balances,
)
from .supervisor import Supervisor
from .worker import Worker

__all__ = ["Server"]

_SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Signals that act on a supervisor's workers. With one worker there is no
#: supervisor; they are caught and explained instead of ending (SIGHUP) or
#: suspending (SIGTTIN, SIGTTOU) the process.
_SUPERVISOR_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGHUP", "SIGTTIN", "SIGTTOU") if hasattr(signal, name)
)


class Server:
    """Run one ASGI app with one configuration.

    ``app`` is an ASGI callable or a ``"module:attribute"`` string, imported
    during CONFIG (``factory`` calls it to make the app; ``app_dir`` is put
    first on ``sys.path``).
    """

    def __init__(
        self,
        app: ASGIApp | str,
        config: ServerConfig | None = None,
        *,
        factory: bool = False,
        app_dir: str | None = ".",
        on_event: EventHook | None = None,
        listeners: list[Listener] | None = None,
    ) -> None:
        self.app_spec = app
        self.config = config if config is not None else ServerConfig()
        self.factory = factory
        self.app_dir = app_dir
        self.on_event = on_event
        self.app: ASGIApp | None = None
        self.source = AppSource(
            spec=app if isinstance(app, str) else None,
            obj=None if isinstance(app, str) else app,
            factory=factory,
            app_dir=app_dir,
        )
        #: "thread" or "process": how workers run when there are several.
        self.worker_kind = _resolve_worker_kind(self.config.worker_kind)
        #: The number of workers, and whether a supervisor runs them.
        self.worker_count = self.config.worker_count()
        self.supervised = (
            self.worker_count > 1
            or self.config.limit_max_requests is not None
            or self.config.worker_kind == "process"
        )
        self.runtime: Runtime | None = None
        #: Sockets bound by someone else (the reloader): BIND uses them as they are.
        self._prebound = listeners
        self._per_worker_sockets = False
        self.listeners: list[Listener] = []
        #: Set once the worker accepts connections; ``urls`` is filled by then.
        self.started = threading.Event()
        self.urls: list[str] = []
        self._worker: Worker | None = None
        self._supervisor: Supervisor | None = None
        self._reloader: Reloader | None = None
        # Guards the fields below, which shutdown() reads and changes
        # from any thread. Reentrant, because a signal handler may call
        # shutdown() in the main thread while it holds the lock.
        self._lock = threading.RLock()
        self._shutdown_requests = 0
        self._force_requested = False
        self._stopped = threading.Event()

    # The phases.

    def run(self) -> None:
        """Serve until shutdown; raise ``PounceError`` when the server cannot run."""
        try:
            self.configure()
            self.detect()
            self.bind()
            if self.config.reload:
                self._serve_reloading()
            else:
                self.serve()
        finally:
            self.shutdown_sockets()
            # Also after a failure in an earlier phase, so that
            # wait_stopped() returns for a server that never served.
            self._stopped.set()

    def configure(self) -> None:
        """CONFIG: set up logging and load the app (process workers load their own)."""
        configure_logging(self.config.log_level)
        # With --reload each new generation imports the app and the reloader
        # never does, so nothing of the old code stays loaded in it. Each
        # worker process imports the app too.
        in_process = not self.config.reload and not (
            self.supervised and self.worker_kind == "process"
        )
        defaults = ServerConfig()
        if self.config.bind and (
            self.config.host != defaults.host or self.config.port != defaults.port
        ):
            # Both have defaults, so only a value other than the default
            # shows that --host or --port was given.
            server_logger.warning(
                "config: --host and --port are ignored because --bind is given; "
                "put every address in --bind"
            )
        if self.config.reload:
            for directory in self.config.reload_dirs:
                if not os.path.isdir(directory):
                    raise ConfigError("reload_dirs", f"directory to watch not found: {directory!r}")
        if in_process:
            self.app = self.source.load()
        elif not self.config.reload:
            self.source.check_picklable()
        server_logger.info("config: serving %s", self.source.describe())
        server_logger.debug("config: %r", self.config)

    def detect(self) -> None:
        """DETECT: find out whether the GIL is enabled and which loop to use."""
        runtime = detect_runtime(self.config.loop)
        self.runtime = runtime
        plural = "processes" if self.worker_kind == "process" else "threads"
        if self.config.reload:
            why = "--reload: each version of the code is served by a new server process"
        elif not self.supervised:
            why = (
                "one worker in a thread of this process "
                f"(several would run as {plural}, see --workers)"
            )
        elif self.config.worker_kind != "auto":
            why = f"workers run as {plural} (--worker-kind {self.worker_kind})"
        elif runtime.gil_enabled:
            why = "so workers run as processes (the GIL would serialize threads)"
        else:
            why = "so workers run as threads of this process"
        server_logger.info(
            "detect: Python %s, GIL %s, %s; %d worker(s); %s event loop",
            runtime.python,
            "enabled" if runtime.gil_enabled else "disabled",
            why,
            self.worker_count,
            runtime.loop,
        )

    def bind(self) -> None:
        """BIND: create the listening sockets."""
        # Per-worker SO_REUSEPORT sockets: these only reserve the address,
        # and each worker slot listens on a copy of its own.
        reserve = self.supervised and self.config.reuse_port and reuse_port_balances()
        self._per_worker_sockets = reserve
        if self._prebound is not None:
            self.listeners = list(self._prebound)
        else:
            self.listeners = bind_listeners(self.config, reserve=reserve)
        self.urls = [listener.url for listener in self.listeners]
        if self.supervised:
            # Unix sockets and inherited descriptors are shared even when
            # TCP addresses get a socket per worker.
            shown = [
                listener.url
                + (" (a SO_REUSEPORT socket per worker)" if listener.reserved else " (shared)")
                for listener in self.listeners
            ]
        else:
            shown = list(self.urls)
        server_logger.info("bind: listening on %s", ", ".join(shown))

    def serve(self) -> None:
        """LIFESPAN, SERVE and SHUTDOWN: run the workers until they stop."""
        if self.supervised:
            self._serve_supervised()
            return
        assert self.app is not None and self.runtime is not None
        worker = Worker(
            app=self.app,
            config=self.config,
            listeners=self.listeners,
            loop_factory=loop_factory(self.runtime.loop),
            on_ready=self._on_ready,
            on_lifespan=self._on_lifespan,
        )
        with self._lock:
            self._worker = worker
            requested = self._shutdown_requests > 0
            force = self._force_requested
        if requested:
            # shutdown() ran before the worker existed, so pass it on now.
            worker.request_shutdown(force=force)
        thread = threading.Thread(target=worker.run, name="pounce-worker", daemon=True)
        with _signals_routed_to(self._on_signal, self._on_supervisor_signal):
            thread.start()
            # Wait in short steps: the main thread must come back to Python
            # now and then for its signal handlers to run.
            while thread.is_alive():
                thread.join(0.2)
        self._stopped.set()
        if worker.error is not None:
            error = worker.error
            if not isinstance(error, PounceError):
                error = StartupError(f"the worker stopped with an unexpected error: {error!r}")
            self._emit(ShutdownFinished(error.exit_code))
            raise error from (None if error is worker.error else worker.error)
        self._emit(ShutdownFinished(EXIT_OK))
        server_logger.info("shutdown: complete")

    def shutdown_sockets(self) -> None:
        """Close the listening sockets (and remove a Unix socket file we created)."""
        close_listeners(self.listeners)

    @property
    def worker(self) -> Worker | None:
        """The worker, once ``serve`` has created it (None under a supervisor)."""
        return self._worker

    @property
    def supervisor(self) -> Supervisor | None:
        """The supervisor, once ``serve`` has created one for several workers."""
        return self._supervisor

    def _serve_supervised(self) -> None:
        runtime = self.runtime
        assert runtime is not None
        config = self.config
        lifespan: SharedLifespan | None = None
        if self.worker_kind == "thread":
            assert self.app is not None
            server_logger.info(
                "lifespan: starting the application (--lifespan %s)", config.lifespan
            )
            lifespan = SharedLifespan(self.app, config.lifespan, loop_factory(runtime.loop))

        def launch(slot: int, listeners: list[Listener]) -> WorkerHandle:
            max_requests = _jittered(config.limit_max_requests)
            if self.worker_kind == "thread":
                assert self.app is not None and lifespan is not None
                return ThreadWorkerHandle(
                    slot,
                    app=self.app,
                    config=config,
                    listeners=listeners,
                    loop_factory=loop_factory(runtime.loop),
                    lifespan_state=lifespan.state,
                    max_requests=max_requests,
                )
            return ProcessWorkerHandle(
                slot,
                source=self.source,
                config=config,
                listeners=listeners,
                loop=runtime.loop,
                max_requests=max_requests,
            )

        def slot_listeners() -> tuple[list[Listener], list[Listener]]:
            if not self._per_worker_sockets:
                return self.listeners, []
            copies = listen_copies(self.listeners, config.backlog)
            return copies, [item for item in copies if item.owned_copy]

        supervisor = Supervisor(
            config=config,
            kind=self.worker_kind,
            count=self.worker_count,
            launch=launch,
            slot_listeners=slot_listeners,
            urls=self.urls,
            lifespan=lifespan,
            on_event=self.on_event,
            on_serving=self._on_serving,
            on_stop_accepting=self.shutdown_sockets,
        )
        with self._lock:
            self._supervisor = supervisor
            requested = self._shutdown_requests > 0
            force = self._force_requested
        if requested:
            supervisor.request_shutdown(force=force)
        try:
            supervisor.run()
        finally:
            if lifespan is not None:
                lifespan.close()
            self._stopped.set()
        server_logger.info("shutdown: complete")

    def _serve_reloading(self) -> None:
        reloader = Reloader(
            source=self.source,
            config=self.config,
            listeners=self.listeners,
            urls=self.urls,
            on_event=self.on_event,
            on_serving=self.started.set,
            on_stop_accepting=self.shutdown_sockets,
        )
        with self._lock:
            self._reloader = reloader
            requested = self._shutdown_requests > 0
            force = self._force_requested
        if requested:
            reloader.request_shutdown(force=force)
        try:
            reloader.run()
        finally:
            self._stopped.set()
        server_logger.info("shutdown: complete")

    def _on_serving(self) -> None:
        runtime = self.runtime
        assert runtime is not None
        for url in self.urls:
            server_logger.info(
                "serve: Pounce running on %s (%d %s worker%s, GIL %s; press CTRL+C to quit)",
                url,
                self.worker_count,
                self.worker_kind,
                "" if self.worker_count == 1 else "s",
                "enabled" if runtime.gil_enabled else "disabled",
            )
        self.started.set()

    # Control from other threads and from signals.

    def shutdown(self, *, force: bool = False) -> None:
        """Ask for a graceful shutdown (``force`` skips the grace period); thread-safe."""
        with self._lock:
            self._shutdown_requests += 1
            # Escalating to a forced shutdown is news; repeating a request is not.
            news = self._shutdown_requests == 1 or (force and not self._force_requested)
            self._force_requested = self._force_requested or force
            worker = self._worker
            supervisor = self._supervisor
            reloader = self._reloader
        if news and not self.supervised and not self.config.reload:
            # The supervisor and the reloader report their own shutdown.
            self._emit(ShutdownStarted("requested", force))
        if reloader is not None:
            reloader.request_shutdown(force=force)
        if worker is not None:
            worker.request_shutdown(force=force)
        if supervisor is not None:
            supervisor.request_shutdown(force=force)

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait until ``run`` has finished serving; return whether it did."""
        return self._stopped.wait(timeout)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        with self._lock:
            first = self._shutdown_requests == 0
        if first:
            server_logger.info(
                "Received %s: shutting down gracefully (within %gs); send it again to force",
                name,
                self.config.timeout_graceful_shutdown,
            )
            self.shutdown()
        else:
            server_logger.warning("Received %s again: forcing shutdown", name)
            self.shutdown(force=True)

    def _on_supervisor_signal(self, signum: int, frame: FrameType | None) -> None:
        server_logger.warning(
            "Received %s: ignored, because one worker runs without a supervisor; start with "
            "--workers 2 or more (or --worker-kind process) for rolling restarts and scaling",
            signal.Signals(signum).name,
        )

    def _on_ready(self) -> None:
        runtime = self.runtime
        assert runtime is not None
        for url in self.urls:
            server_logger.info(
                "serve: Pounce running on %s (1 worker: a thread of this process, "
                "GIL %s; press CTRL+C to quit)",
                url,
                "enabled" if runtime.gil_enabled else "disabled",
            )
        self._emit(ServingStarted(1, "thread", tuple(self.urls)))
        self.started.set()

    def _emit(self, event: LifecycleEvent) -> None:
        """Hand an event of the single-worker path to the hook (its log lines are above)."""
        server_logger.debug("%s", event.message())
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                server_logger.exception("The on_event hook raised; ignoring it")

    def _on_lifespan(self, phase: str) -> None:
        if phase == "startup":
            server_logger.info(
                "lifespan: starting the application (--lifespan %s)", self.config.lifespan
            )
        else:
            server_logger.info("shutdown: stopping the application")


class _signals_routed_to:
    """Install the single worker's signal handlers in the main thread, restore them after."""

    def __init__(
        self,
        handler: Callable[[int, FrameType | None], Any],
        other: Callable[[int, FrameType | None], Any],
    ) -> None:
        self._handler = handler
        self._other = other
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Embedded in another thread: the embedder calls shutdown().
        for signum in _SHUTDOWN_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handler)
        for signum in _SUPERVISOR_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._other)

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _resolve_worker_kind(choice: str) -> str:
    if choice != "auto":
        return choice
    return "process" if gil_enabled() else "thread"


def _jittered(limit: int | None) -> int | None:
    """Return one worker's request limit: ``limit`` plus up to a tenth more, at random."""
    if limit is None:
        return None
    # Not for security: only to keep workers from retiring in step.
    return limit + random.randint(0, limit // 10)
