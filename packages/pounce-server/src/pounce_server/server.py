"""The Server: CONFIG -> DETECT -> BIND -> LIFESPAN -> SERVE -> SHUTDOWN.

Each phase is one method, run in order by ``run`` and logged once. With one
worker there is no supervisor. The server runs the worker's event loop in a
thread of its own and keeps the main thread for signals, so SIGINT and
SIGTERM take effect at once, whatever the app is doing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from pounce_asgi_bridge import ASGIApp

from .config import ServerConfig
from .detect import Runtime, detect_runtime, loop_factory
from .errors import PounceError, StartupError
from .importer import load_app
from .logs import configure_logging, server_logger
from .sockets import Listener, bind_listeners, close_listeners
from .worker import Worker

__all__ = ["Server"]

_SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    ) -> None:
        self.app_spec = app
        self.config = config if config is not None else ServerConfig()
        self.factory = factory
        self.app_dir = app_dir
        self.app: ASGIApp | None = None
        self.runtime: Runtime | None = None
        self.listeners: list[Listener] = []
        #: Set once the worker accepts connections; ``urls`` is filled by then.
        self.started = threading.Event()
        self.urls: list[str] = []
        self._worker: Worker | None = None
        # Guards the three fields below, which shutdown() reads and changes
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
            self.serve()
        finally:
            self.shutdown_sockets()
            # Also after a failure in an earlier phase, so that
            # wait_stopped() returns for a server that never served.
            self._stopped.set()

    def configure(self) -> None:
        """CONFIG: set up logging and load the app."""
        configure_logging(self.config.log_level)
        if isinstance(self.app_spec, str):
            self.app = load_app(self.app_spec, factory=self.factory, app_dir=self.app_dir)
        else:
            self.app = self.app_spec
        server_logger.info(
            "config: serving %s",
            self.app_spec if isinstance(self.app_spec, str) else _describe(self.app),
        )
        server_logger.debug("config: %r", self.config)

    def detect(self) -> None:
        """DETECT: find out whether the GIL is enabled and which loop to use."""
        runtime = detect_runtime(self.config.loop)
        self.runtime = runtime
        server_logger.info(
            "detect: Python %s, GIL %s, so several workers would run as %s; %s event loop",
            runtime.python,
            "enabled" if runtime.gil_enabled else "disabled",
            "processes" if runtime.worker_kind == "process" else "threads",
            runtime.loop,
        )

    def bind(self) -> None:
        """BIND: create the listening sockets."""
        self.listeners = bind_listeners(self.config)
        self.urls = [listener.url for listener in self.listeners]
        server_logger.info("bind: listening on %s", ", ".join(self.urls))

    def serve(self) -> None:
        """LIFESPAN, SERVE and SHUTDOWN: run the worker until it stops."""
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
        thread = threading.Thread(target=worker.run, name="pounce-worker-0", daemon=True)
        with _signals_routed_to(self._on_signal):
            thread.start()
            # Wait in short steps: the main thread must come back to Python
            # now and then for its signal handlers to run.
            while thread.is_alive():
                thread.join(0.2)
        self._stopped.set()
        if worker.error is not None:
            if isinstance(worker.error, PounceError):
                raise worker.error
            raise StartupError(
                f"the worker stopped with an unexpected error: {worker.error!r}"
            ) from worker.error
        server_logger.info("shutdown: complete")

    def shutdown_sockets(self) -> None:
        """Close the listening sockets (and remove a Unix socket file we created)."""
        close_listeners(self.listeners)

    @property
    def worker(self) -> Worker | None:
        """The worker, once ``serve`` has created it."""
        return self._worker

    # Control from other threads and from signals.

    def shutdown(self, *, force: bool = False) -> None:
        """Ask for a graceful shutdown (``force`` skips the grace period); thread-safe."""
        with self._lock:
            self._shutdown_requests += 1
            self._force_requested = self._force_requested or force
            worker = self._worker
        if worker is not None:
            worker.request_shutdown(force=force)

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
        self.started.set()

    def _on_lifespan(self, phase: str) -> None:
        if phase == "startup":
            server_logger.info(
                "lifespan: starting the application (--lifespan %s)", self.config.lifespan
            )
        else:
            server_logger.info("shutdown: stopping the application")


class _signals_routed_to:
    """Install handlers for SIGINT and SIGTERM in the main thread, restore them after."""

    def __init__(self, handler: Callable[[int, FrameType | None], Any]) -> None:
        self._handler = handler
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Embedded in another thread: the embedder calls shutdown().
        for signum in _SHUTDOWN_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handler)

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _describe(app: object) -> str:
    name = getattr(app, "__qualname__", None) or type(app).__qualname__
    return f"{getattr(app, '__module__', '?')}.{name}"
