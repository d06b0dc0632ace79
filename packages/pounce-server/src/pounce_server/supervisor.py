"""The Supervisor: keep N workers serving, replace them, and stop them cleanly.

The supervisor owns a set of slots, one per worker it should run. A slot
has the worker serving in it and, while one is being replaced, that
worker's successor. Replacing a worker always starts the successor first
and stops the old worker only once the successor accepts connections, so a
rolling restart (SIGHUP) or a retirement (``--limit-max-requests``) never
leaves the listening sockets without a worker. Old workers drain: they stop
accepting, finish what they serve, and end.

Everything here runs in one thread, the one that calls ``run``: it waits on
every worker's pipe and on a wake-up socket at once, and acts on what
arrives. Other threads and signal handlers never touch the slots. They
append a command to a deque and write a byte to the wake-up socket: deque
appends are atomic, and a signal handler must not wait for a lock that its
own thread may hold.

A worker that ends without a stop request is restarted in its slot, within
the restart budget (``--restart-limit`` per ``--restart-window``). Past the
budget, the server shuts down and exits non-zero. A worker whose loop stops beating
for ``--worker-timeout`` is reported with the stack it is stuck in; a
process worker is then killed and restarted, while a thread, which cannot
be killed, is left running.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from .config import ServerConfig, max_workers
from .control import CommandQueue, ShutdownState, emit, routed_signals
from .errors import EXIT_FAILURE, WorkersFailed
from .events import (
    EventHook,
    LifecycleEvent,
    ReloadFailed,
    ReloadFinished,
    ReloadStarted,
    RestartBudgetExhausted,
    ServingStarted,
    ShutdownFinished,
    ShutdownStarted,
    WorkerBlocked,
    WorkerExited,
    WorkerReady,
    WorkerRecovered,
    WorkersScaled,
    WorkerStarted,
)
from .handles import WorkerHandle
from .logs import supervisor_logger
from .restarts import RestartBudget
from .shared_lifespan import SharedLifespan
from .sockets import Listener, close_listeners

__all__ = ["Launcher", "Supervisor"]

#: Starts a worker for a slot on the given listeners and returns its handle.
Launcher = Callable[[int, list[Listener]], WorkerHandle]
#: Makes the listeners of a new slot (per-slot SO_REUSEPORT copies, or the shared ones).
SlotListeners = Callable[[], tuple[list[Listener], list[Listener]]]

#: Maximum sleep of the supervisor loop when nothing arrives.
TICK = 0.25
#: Seconds a process worker gets to send its stack when requested.
STACK_TIMEOUT = 1.0
#: Seconds added to the graceful period before process workers are killed,
#: for their lifespan shutdown and for cancelled apps to unwind.
STOP_SLACK = 5.0


@dataclass
class _Slot:
    index: int
    listeners: list[Listener]
    #: Listening sockets made for this slot alone, closed with it.
    owned: list[Listener]
    budget: RestartBudget
    current: WorkerHandle | None = None
    successor: WorkerHandle | None = None
    restart_at: float | None = None
    handles_started: int = field(default=0)


class Supervisor:
    """Run and watch the workers of one server until it shuts down."""

    def __init__(
        self,
        *,
        config: ServerConfig,
        kind: str,
        count: int,
        launch: Launcher,
        slot_listeners: SlotListeners,
        urls: list[str],
        lifespan: SharedLifespan | None = None,
        on_event: EventHook | None = None,
        on_serving: Callable[[], None] | None = None,
        on_stop_accepting: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.kind = kind
        self._count = count
        self._launch = launch
        self._slot_listeners = slot_listeners
        self._urls = urls
        self._lifespan = lifespan
        self._on_event = on_event
        self._on_serving = on_serving
        self._on_stop_accepting = on_stop_accepting
        self._slots: dict[int, _Slot] = {}
        self._draining: list[WorkerHandle] = []
        self._serving = False
        self._shutdown = ShutdownState(config.timeout_graceful_shutdown, STOP_SLACK)
        self._rolling: deque[int] = deque()
        self._rolling_slot: int | None = None
        self._rolling_reason: str | None = None
        # Commands from other threads and signal handlers (see the module docstring).
        self._commands = CommandQueue()

    # Control from any thread.

    def request_shutdown(self, *, force: bool = False) -> None:
        """Ask for a graceful (or forced) shutdown; thread-safe."""
        self._command("shutdown", force)

    def request_restart(self) -> None:
        """Ask for a rolling restart of every worker; thread-safe."""
        self._command("restart", "requested")

    def request_scale(self, delta: int) -> None:
        """Ask for ``delta`` workers more (or fewer, if negative); thread-safe."""
        self._command("scale", delta)

    def handles(self) -> list[WorkerHandle]:
        """Return the workers serving now, one per slot (a snapshot, for tests and tools)."""
        return [slot.current for slot in list(self._slots.values()) if slot.current is not None]

    def _command(self, name: str, argument: Any) -> None:
        self._commands.put(name, argument)

    # The loop.

    def run(self) -> int:
        """Start the workers and supervise them until shutdown; return the exit code."""
        try:
            with routed_signals(self._commands):
                if self._lifespan is not None:
                    self._lifespan.startup(interrupted=self._interrupted)
                while len(self._slots) < self._count and not self._stopping:
                    self._add_slot("starting")
                while not (self._stopping and not self._live()):
                    self._step()
                if self._lifespan is not None:
                    supervisor_logger.info("shutdown: stopping the application")
                    if not self._lifespan.shutdown(interrupted=self._interrupted):
                        supervisor_logger.warning(
                            "Forced shutdown: stopped waiting for the application's "
                            "lifespan shutdown"
                        )
        finally:
            self._close()
        state = self._shutdown
        self._emit(ShutdownFinished(state.exit_code))
        if state.error is not None:
            raise WorkersFailed(state.error, state.exit_code)
        return state.exit_code

    def _step(self) -> None:
        now = time.monotonic()
        timeout = TICK
        for slot in self._slots.values():
            if slot.restart_at is not None:
                timeout = max(0.0, min(timeout, slot.restart_at - now))
        handles = {handle.conn: handle for handle in self._live() if handle.conn is not None}
        ready = wait([self._commands.reader, *handles], timeout)
        self._run_commands()
        for conn in ready:
            handle = handles.get(conn)  # type: ignore[call-overload]
            if handle is not None:
                self._read(handle)
        now = time.monotonic()
        self._check_heartbeats(now)
        self._run_restarts(now)
        self._advance_rolling()
        if self._stopping and now >= self._shutdown.kill_at:
            self._kill_remaining()

    @property
    def _stopping(self) -> bool:
        return self._shutdown.stopping

    def _live(self) -> list[WorkerHandle]:
        live = list(self._draining)
        for slot in self._slots.values():
            live.extend(h for h in (slot.current, slot.successor) if h is not None)
        return live

    def _read(self, handle: WorkerHandle) -> None:
        conn = handle.conn
        assert conn is not None
        try:
            while conn.poll(0):
                self._on_message(handle, conn.recv())
                for message in _take(handle.skipped):
                    self._on_message(handle, message)
        except (EOFError, OSError):
            self._on_exit(handle)

    def _on_message(self, handle: WorkerHandle, message: Any) -> None:
        now = time.monotonic()
        handle.last_beat = now
        handle.heard = True
        if handle.blocked_since is not None:
            self._emit(WorkerRecovered(handle.slot, now - handle.blocked_since))
            handle.blocked_since = None
        if message == "ready":
            self._on_ready(handle)
        elif message == "retire":
            self._on_retire(handle)
        elif isinstance(message, tuple) and message[0] == "fatal":
            handle.fatal = (int(message[1]), str(message[2]))

    def _on_ready(self, handle: WorkerHandle) -> None:
        handle.ready = True
        self._emit(WorkerReady(handle.slot, handle.pid))
        if self._stopping:
            handle.stop(force=self._shutdown.forced)
            return
        slot = self._slots.get(handle.slot)
        if slot is not None and slot.successor is handle:
            old, slot.current, slot.successor = slot.current, handle, None
            if old is not None:
                self._drain(old)
            if self._rolling_slot == slot.index:
                self._rolling_slot = None
        if not self._serving and all(
            s.current is not None and s.current.ready for s in self._slots.values()
        ):
            self._serving = True
            self._emit(ServingStarted(len(self._slots), self.kind, tuple(self._urls)))
            if self._on_serving is not None:
                self._on_serving()

    def _on_retire(self, handle: WorkerHandle) -> None:
        handle.retiring = True
        slot = self._slots.get(handle.slot)
        if self._stopping or slot is None or slot.current is not handle:
            return
        if slot.successor is None:
            self._start(slot, "replacing a worker that reached --limit-max-requests", True)

    def _on_exit(self, handle: WorkerHandle) -> None:
        handle.join(timeout=10)
        handle.close()
        detail = handle.describe_exit()

        if handle in self._draining:
            self._draining.remove(handle)
            self._emit(WorkerExited(handle.slot, handle.pid, True, detail))
            return

        slot = self._slots.get(handle.slot)
        if slot is None or handle not in (slot.current, slot.successor):
            return
        if slot.current is handle:
            slot.current = None
        else:
            slot.successor = None
        if handle.stopping:
            self._emit(WorkerExited(handle.slot, handle.pid, True, detail))
            return

        self._emit(WorkerExited(handle.slot, handle.pid, False, detail))
        if self._stopping:
            return
        if handle.fatal is not None and not self._serving:
            # The first workers cannot load or start the app: restarting
            # would only fail again, so report it the way one worker would.
            self._fail(handle.fatal[0], handle.fatal[1])
            return
        if self._rolling_slot == slot.index:
            self._emit(ReloadFailed(self._rolling_reason or "restart", detail))
            self._rolling.clear()
            self._rolling_slot = None
            self._rolling_reason = None
            if slot.current is not None:
                return  # The old worker keeps serving.
        if slot.current is not None or slot.successor is not None:
            return  # Someone still serves this slot.

        delay = slot.budget.record(time.monotonic())
        if delay is None:
            self._emit(
                RestartBudgetExhausted(slot.index, slot.budget.recent + 1, slot.budget.window)
            )
            self._fail(
                EXIT_FAILURE,
                f"worker {slot.index} kept dying ({detail}); the restart limit "
                f"({self.config.restart_limit} per {self.config.restart_window:g}s) was reached",
            )
            return
        slot.restart_at = time.monotonic() + delay

    # Heartbeats, restarts, rolling restarts.

    def _check_heartbeats(self, now: float) -> None:
        limit = self.config.worker_timeout
        for handle in self._live():
            if not handle.heard or handle.blocked_since is not None:
                continue
            silent = now - handle.last_beat
            if silent <= limit:
                continue
            handle.blocked_since = handle.last_beat
            stack = handle.stack(STACK_TIMEOUT)
            if handle.kind == "process":
                action = "killing it; a new worker takes its place"
                handle.kill()
            else:
                action = "a thread cannot be stopped from outside, so it is left running"
            self._emit(WorkerBlocked(handle.slot, handle.pid, silent, stack, action))
            for message in _take(handle.skipped):
                self._on_message(handle, message)

    def _run_restarts(self, now: float) -> None:
        if self._stopping:
            return
        for slot in list(self._slots.values()):
            if slot.restart_at is not None and slot.restart_at <= now:
                slot.restart_at = None
                self._start(slot, "restarting after a crash", False)

    def _advance_rolling(self) -> None:
        if self._stopping or self._rolling_slot is not None:
            return
        while self._rolling:
            index = self._rolling.popleft()
            slot = self._slots.get(index)
            if slot is None or slot.current is None or slot.successor is not None:
                continue
            self._rolling_slot = index
            self._start(slot, "rolling restart", True)
            return
        if self._rolling_reason is not None:
            self._emit(ReloadFinished(self._rolling_reason))
            self._rolling_reason = None

    # Starting and stopping workers.

    def _add_slot(self, reason: str) -> _Slot:
        index = next(i for i in range(len(self._slots) + 1) if i not in self._slots)
        listeners, owned = self._slot_listeners()
        slot = _Slot(
            index=index,
            listeners=listeners,
            owned=owned,
            budget=RestartBudget(self.config.restart_limit, self.config.restart_window),
        )
        self._slots[index] = slot
        self._start(slot, reason, False)
        return slot

    def _start(self, slot: _Slot, reason: str, as_successor: bool) -> None:
        try:
            handle = self._launch(slot.index, slot.listeners)
            handle.start()
        except Exception as exc:
            supervisor_logger.error("worker %d: could not be started: %r", slot.index, exc)
            delay = slot.budget.record(time.monotonic())
            if delay is None:
                self._fail(EXIT_FAILURE, f"worker {slot.index} could not be started: {exc!r}")
            elif not as_successor:
                slot.restart_at = time.monotonic() + delay
            return
        slot.handles_started += 1
        if as_successor:
            slot.successor = handle
        else:
            slot.current = handle
        self._emit(WorkerStarted(slot.index, handle.kind, handle.pid, reason))

    def _drain(self, handle: WorkerHandle) -> None:
        handle.stop()
        self._draining.append(handle)

    def _scale_up(self, reason: str) -> None:
        before = len(self._slots)
        if before >= max_workers():
            supervisor_logger.warning(
                "No worker added (%s): %d workers is the maximum on this machine", reason, before
            )
            return
        self._add_slot(reason)
        self._emit(WorkersScaled(before, len(self._slots)))

    def _remove_slot(self) -> None:
        if len(self._slots) <= 1:
            supervisor_logger.warning("SIGTTOU ignored: one worker is the minimum")
            return
        before = len(self._slots)
        slot = self._slots.pop(max(self._slots))
        if self._rolling_slot == slot.index:
            self._rolling_slot = None
        for handle in (slot.current, slot.successor):
            if handle is not None:
                self._drain(handle)
        # The worker stopped accepting as it drains; without this copy, the
        # kernel would queue connections on a socket that no one accepts from.
        close_listeners(slot.owned)
        self._emit(WorkersScaled(before, len(self._slots)))

    def _begin_shutdown(self, reason: str, force: bool) -> None:
        first = not self._stopping
        if not self._shutdown.begin(force):
            return
        self._emit(ShutdownStarted(reason, force))
        if first:
            # Once every worker has closed its copy too, the kernel refuses
            # new connections at once, instead of queueing them for no one.
            for slot in self._slots.values():
                close_listeners(slot.owned)
            if self._on_stop_accepting is not None:
                self._on_stop_accepting()
        self._rolling.clear()
        self._rolling_slot = None
        for handle in self._live():
            handle.stop(force=force)

    def _kill_remaining(self) -> None:
        for handle in self._live():
            if handle.kind == "process":
                supervisor_logger.warning(
                    "worker %d (pid %d) did not stop in time; killing it", handle.slot, handle.pid
                )
                handle.kill()
        self._shutdown.kill_at = float("inf")

    def _fail(self, exit_code: int, message: str) -> None:
        self._shutdown.fail(exit_code, message)
        self._begin_shutdown("a worker failed", False)

    # Commands and signals.

    def _run_commands(self) -> None:
        for name, argument in self._commands.take():
            if name == "shutdown":
                self._shutdown.requests += 1
                self._begin_shutdown("requested", bool(argument))
            elif name == "signal":
                self._on_signal(argument)
            elif name == "restart":
                self._begin_rolling(str(argument))
            elif name == "scale" and not self._stopping:
                if argument > 0:
                    self._scale_up("one more worker requested")
                elif argument < 0:
                    self._remove_slot()

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if signum in (signal.SIGINT, signal.SIGTERM):
            self._begin_shutdown(*self._shutdown.stop_signal(signum, supervisor_logger))
        elif signum == getattr(signal, "SIGHUP", None):
            self._begin_rolling(f"{name} received")
        elif signum == getattr(signal, "SIGTTIN", None) and not self._stopping:
            self._scale_up(f"{name} received")
        elif signum == getattr(signal, "SIGTTOU", None) and not self._stopping:
            self._remove_slot()

    def _begin_rolling(self, reason: str) -> None:
        if self._stopping:
            return
        if self.kind == "thread":
            supervisor_logger.warning(
                "Thread workers share the app already imported, so this restart does not "
                "load changed code; use process workers or --reload for that"
            )
        self._emit(ReloadStarted(reason))
        self._rolling = deque(sorted(self._slots))
        self._rolling_reason = reason

    def _interrupted(self) -> bool:
        """Act on commands while lifespan runs; True once a forced shutdown was asked for."""
        self._run_commands()
        return self._shutdown.forced

    # Events and cleanup.

    def _emit(self, event: LifecycleEvent) -> None:
        emit(event, self._on_event, supervisor_logger)

    def _close(self) -> None:
        for slot in self._slots.values():
            close_listeners(slot.owned)
        self._commands.close()


def _take(items: list[Any]) -> list[Any]:
    taken = list(items)
    items.clear()
    return taken
