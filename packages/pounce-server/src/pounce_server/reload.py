"""``--reload``: serve each version of the code from a fresh process.

The process the user started becomes the reloader. It binds the sockets
once, watches the source files, and never imports the app. The app runs in
a *generation*: a child process, started with ``spawn``, that runs a whole
``Server`` (one worker, or a supervisor with its workers of either kind) on
the inherited sockets. Because every generation is a new interpreter, a
change to any module takes effect, thread workers included.

On a change (or SIGHUP) the reloader starts the next generation beside the
current one. Both accept on the same sockets for a moment. Once the new one
reports that it serves, the reloader requests a graceful shutdown of the old
one, which stops accepting, finishes its requests and exits. New connections therefore
always find a generation, and no request is cut. If the new generation
fails to start (a syntax error, a failing lifespan startup), the error is
logged and the old generation keeps serving until the next change.

The first generation is different: with nothing to fall back on, its
failure ends the reloader with the same exit code a server without
``--reload`` would return.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import FrameType
from typing import Any

from .config import ServerConfig
from .control import CommandQueue, ShutdownState, emit, routed_signals
from .errors import EXIT_FAILURE, ConfigError, PounceError, WorkersFailed
from .events import (
    EventHook,
    GenerationExited,
    GenerationStarted,
    LifecycleEvent,
    ReloadFailed,
    ReloadFinished,
    ReloadStarted,
    ServingStarted,
    ShutdownFinished,
    ShutdownStarted,
)
from .handles import SpawnedHandle
from .importer import AppSource
from .logs import supervisor_logger
from .restarts import RestartBudget
from .sockets import Listener
from .watch import DEFAULT_EXCLUDES, DEFAULT_INCLUDES, FileWatcher

__all__ = ["GenerationSpec", "Reloader", "run_generation"]

#: Seconds the reloader waits for file changes between two looks at its children.
WATCH_STEP = 0.1
#: Seconds on top of the graceful period before a generation is killed.
STOP_SLACK = 10.0


@dataclass(frozen=True, slots=True)
class GenerationSpec:
    """The settings a generation process needs to run the server, sent by pickling."""

    number: int
    source: AppSource
    config: ServerConfig
    listeners: list[Listener]


def run_generation(spec: GenerationSpec, conn: Connection) -> None:
    """Run one generation's server until the reloader stops it; a process target.

    The server runs in a thread, so that it installs no signal handlers of
    its own. The reloader decides what SIGINT and SIGHUP mean (CTRL+C in a
    terminal reaches this process too); SIGTERM sent to this process alone
    stops it, and SIGTTIN and SIGTTOU, which the reloader forwards, scale
    its workers.
    """
    from .server import Server  # The server module imports this one.

    server = Server(
        spec.source.spec or "",
        spec.config,
        factory=spec.source.factory,
        app_dir=spec.source.app_dir,
        listeners=spec.listeners,
    )
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            server.run()
        except BaseException as exc:  # Reported by the main thread below.
            failures.append(exc)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: server.shutdown())

    def on_scale(signum: int, frame: FrameType | None) -> None:
        _scale(server, 1 if signum == getattr(signal, "SIGTTIN", None) else -1)

    for name in ("SIGTTIN", "SIGTTOU"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_scale)
    thread = threading.Thread(target=serve, name="pounce-generation-server")
    thread.start()
    _follow_reloader(server, conn)
    thread.join()
    if failures:
        error = failures[0]
        if not isinstance(error, PounceError):
            raise error
        with contextlib.suppress(OSError):
            conn.send(("fatal", error.exit_code, str(error)))
        sys.exit(error.exit_code)


def _scale(server: Any, delta: int) -> None:
    supervisor = server.supervisor
    if supervisor is None:
        supervisor_logger.warning(
            "Ignored a request for %s worker: this generation runs one worker without a "
            "supervisor; start with --workers 2 or more to scale it",
            "one more" if delta > 0 else "one less",
        )
        return
    supervisor.request_scale(delta)


def _follow_reloader(server: Any, conn: Connection) -> None:
    """Report when the generation's server serves, and act on the reloader's requests."""
    announced = False
    while not server.wait_stopped(0):
        if not announced and server.started.is_set():
            announced = True
            with contextlib.suppress(OSError):
                conn.send("ready")
        try:
            if not conn.poll(0.1):
                continue
            message = conn.recv()
        except (EOFError, OSError):
            # The reloader is gone: do not serve on as an orphan.
            server.shutdown()
            return
        if message[0] == "stop":
            server.shutdown(force=bool(message[1]))


class _Generation(SpawnedHandle):
    """The reloader's handle on one generation process."""

    kind = "generation"
    name_prefix = "pounce-generation"

    def __init__(self, spec: GenerationSpec) -> None:
        super().__init__(spec.number)
        self._spec = spec

    def target_and_spec(self) -> tuple[Callable[[Any, Connection], None], Any]:
        return run_generation, self._spec

    def stack(self, timeout: float) -> str:
        return "(not available for a generation)"


class Reloader:
    """Watch the source, and keep the newest working generation serving."""

    def __init__(
        self,
        *,
        source: AppSource,
        config: ServerConfig,
        listeners: list[Listener],
        urls: list[str],
        on_event: EventHook | None = None,
        on_serving: Callable[[], None] | None = None,
        on_stop_accepting: Callable[[], None] | None = None,
    ) -> None:
        if source.spec is None:
            raise ConfigError(
                "reload",
                "--reload imports the app again in each new process, so name it as "
                "'module:attribute' instead of passing the object",
            )
        self._source = source
        self._config = config
        self._child_config = config.replace(reload=False)
        # The generations inherit these; they must not remove a Unix socket
        # file that the reloader still serves on.
        self._listeners = [dataclasses.replace(item, unlink_path=None) for item in listeners]
        self._urls = urls
        self._on_event = on_event
        self._on_serving = on_serving
        self._on_stop_accepting = on_stop_accepting
        dirs = config.reload_dirs or (source.app_dir or ".",)
        try:
            # Given globs add to the defaults: excluding node_modules should
            # not start watching .git and __pycache__ again.
            self._watcher = FileWatcher(
                dirs,
                (*DEFAULT_INCLUDES, *config.reload_includes),
                (*DEFAULT_EXCLUDES, *config.reload_excludes),
            )
        except ValueError as exc:
            raise ConfigError("reload_dirs", str(exc)) from None
        self._numbers = 0
        self._current: _Generation | None = None
        self._pending: _Generation | None = None
        self._pending_reason = ""
        self._again: str | None = None
        self._draining: list[_Generation] = []
        self._budget = RestartBudget(config.restart_limit, config.restart_window)
        self._restart_at: float | None = None
        self._serving = False
        self._shutdown = ShutdownState(config.timeout_graceful_shutdown, STOP_SLACK)
        # Commands from signal handlers and other threads: a deque, because
        # a signal handler must not wait for a lock its own thread may hold.
        self._commands = CommandQueue()

    def request_shutdown(self, *, force: bool = False) -> None:
        """Stop every generation (gracefully unless ``force``); thread-safe."""
        self._command("shutdown", force)

    def request_reload(self) -> None:
        """Start a new generation as if the files had changed; thread-safe."""
        self._command("reload", "requested")

    def _command(self, name: str, argument: Any) -> None:
        self._commands.put(name, argument)

    def run(self) -> int:
        """Serve generations until shutdown; return the exit code."""
        dirs = ", ".join(str(path) for path in self._watcher.dirs)
        supervisor_logger.info("reload: watching %s for changes (%s)", dirs, self._watcher.backend)
        try:
            with routed_signals(self._commands):
                self._start_generation("first start")
                while not (self._stopping and not self._live()):
                    self._step()
        finally:
            self._watcher.close()
            self._commands.close()
        state = self._shutdown
        self._emit(ShutdownFinished(state.exit_code))
        if state.error is not None:
            raise WorkersFailed(state.error, state.exit_code)
        return state.exit_code

    @property
    def _stopping(self) -> bool:
        return self._shutdown.stopping

    def _live(self) -> list[_Generation]:
        live = list(self._draining)
        live.extend(g for g in (self._current, self._pending) if g is not None)
        return live

    def _step(self) -> None:
        changed = None if self._stopping else self._watcher.wait(WATCH_STEP)
        generations = {g.conn: g for g in self._live() if g.conn is not None}
        ready = wait([self._commands.reader, *generations], 0 if changed else WATCH_STEP)
        self._run_commands()
        for conn in ready:
            generation = generations.get(conn)  # type: ignore[call-overload]
            if generation is not None:
                self._read(generation)
        if changed:
            _forget_bytecode(changed)
            self._reload(_describe_changes(changed))
        now = time.monotonic()
        if self._restart_at is not None and now >= self._restart_at and not self._stopping:
            self._restart_at = None
            self._start_generation("restarting after a crash")
        if self._stopping and now >= self._shutdown.kill_at:
            for generation in self._live():
                supervisor_logger.warning(
                    "generation %d (pid %d) did not stop in time; killing it",
                    generation.slot,
                    generation.pid,
                )
                generation.kill()
            self._shutdown.kill_at = float("inf")

    def _read(self, generation: _Generation) -> None:
        conn = generation.conn
        assert conn is not None
        try:
            while conn.poll(0):
                message = conn.recv()
                if message == "ready":
                    self._on_ready(generation)
                elif isinstance(message, tuple) and message[0] == "fatal":
                    generation.fatal = (int(message[1]), str(message[2]))
        except (EOFError, OSError):
            self._on_exit(generation)

    def _on_ready(self, generation: _Generation) -> None:
        if generation is not self._pending:
            return
        if self._stopping:
            generation.stop(force=self._shutdown.forced)
            return
        old, self._current, self._pending = self._current, generation, None
        if old is not None:
            old.stop()
            self._draining.append(old)
            self._emit(ReloadFinished(self._pending_reason))
        if not self._serving:
            self._serving = True
            self._emit(ServingStarted(1, "generation", tuple(self._urls)))
            if self._on_serving is not None:
                self._on_serving()
        self._reload_again()

    def _on_exit(self, generation: _Generation) -> None:
        generation.join(timeout=10)
        generation.close()
        detail = generation.describe_exit()
        if generation in self._draining:
            self._draining.remove(generation)
            self._emit(GenerationExited(generation.slot, generation.pid, True, detail))
            return
        expected = generation.stopping
        self._emit(GenerationExited(generation.slot, generation.pid, expected, detail))
        if generation is self._pending:
            self._pending = None
            if self._stopping or expected:
                return
            if not self._serving:
                code = generation.fatal[0] if generation.fatal else EXIT_FAILURE
                self._fail(code, detail)
                return
            self._emit(ReloadFailed(self._pending_reason, detail))
            self._reload_again()
            return
        if generation is self._current:
            self._current = None
            if self._stopping or expected:
                return
            delay = self._budget.record(time.monotonic())
            if delay is None:
                self._fail(
                    EXIT_FAILURE,
                    f"the server process kept dying ({detail}); the restart limit "
                    f"({self._config.restart_limit} per {self._config.restart_window:g}s) "
                    "was reached",
                )
            elif self._pending is None:
                self._restart_at = time.monotonic() + delay

    def _reload(self, reason: str) -> None:
        if self._stopping:
            return
        if self._pending is not None:
            # One generation starts at a time; the latest change follows it.
            self._again = reason
            return
        self._emit(ReloadStarted(reason))
        self._start_generation(reason)

    def _reload_again(self) -> None:
        if self._again is not None:
            reason, self._again = self._again, None
            self._reload(reason)

    def _start_generation(self, reason: str) -> None:
        self._numbers += 1
        spec = GenerationSpec(
            number=self._numbers,
            source=self._source,
            config=self._child_config,
            listeners=self._listeners,
        )
        generation = _Generation(spec)
        try:
            generation.start()
        except Exception as exc:
            self._fail(EXIT_FAILURE, f"could not start a server process: {exc!r}")
            return
        self._pending = generation
        self._pending_reason = reason
        self._emit(GenerationStarted(generation.slot, generation.pid, reason))

    def _begin_shutdown(self, reason: str, force: bool) -> None:
        first = not self._stopping
        if not self._shutdown.begin(force):
            return
        self._emit(ShutdownStarted(reason, force))
        if first and self._on_stop_accepting is not None:
            # The generations close their copies as they drain; closing ours
            # lets the kernel refuse new connections instead of queueing them.
            self._on_stop_accepting()
        for generation in self._live():
            generation.stop(force=force)

    def _fail(self, exit_code: int, message: str) -> None:
        self._shutdown.fail(exit_code, message)
        self._begin_shutdown("the server process failed", False)

    def _run_commands(self) -> None:
        for name, argument in self._commands.take():
            if name == "shutdown":
                self._begin_shutdown("requested", bool(argument))
            elif name == "reload":
                self._reload(str(argument))
            elif name == "signal":
                self._on_signal(argument)

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if signum in (signal.SIGINT, signal.SIGTERM):
            self._begin_shutdown(*self._shutdown.stop_signal(signum, supervisor_logger))
        elif signum == getattr(signal, "SIGHUP", None):
            self._reload(f"{name} received")
        elif self._current is not None:
            # SIGTTIN and SIGTTOU change the worker count of the serving generation.
            self._current.signal(signum)

    def _emit(self, event: LifecycleEvent) -> None:
        emit(event, self._on_event, supervisor_logger)


def _forget_bytecode(paths: list[Path]) -> None:
    """Remove the cached byte-code of changed modules.

    Python trusts a cached module while the source's size and modification
    second match. An edit that keeps the size, saved within the second the
    cache was written, would otherwise load the old code in the new
    generation.
    """
    for path in paths:
        if path.suffix != ".py":
            continue
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            os.unlink(importlib.util.cache_from_source(str(path)))


def _describe_changes(paths: list[Path]) -> str:
    names = [path.name for path in paths[:3]]
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return f"changed: {', '.join(names)}{more}"
