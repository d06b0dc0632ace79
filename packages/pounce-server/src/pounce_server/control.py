"""Control plumbing shared by the supervisor and the reloader.

Both run a loop in one thread that waits on pipes and acts on commands sent
from other threads and from signal handlers. A command goes into a deque,
and a byte into a socket pair so that the loop's wait returns at once. A
deque, because its appends are atomic and a signal handler must not wait
for a lock that its own thread may hold.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from types import FrameType
from typing import Any

from .errors import EXIT_OK
from .events import EventHook, LifecycleEvent
from .worker import CANCEL_GRACE

__all__ = ["CONTROL_SIGNALS", "CommandQueue", "ShutdownState", "emit", "routed_signals"]

#: The signals a supervisor or reloader acts on, where the platform has them.
CONTROL_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGTTIN", "SIGTTOU")
    if hasattr(signal, name)
)


class CommandQueue:
    """Commands for the loop thread, put from any thread or signal handler."""

    def __init__(self) -> None:
        self._commands: deque[tuple[str, Any]] = deque()
        self.reader, self._writer = socket.socketpair()
        self.reader.setblocking(False)
        self._writer.setblocking(False)

    def put(self, name: str, argument: Any) -> None:
        self._commands.append((name, argument))
        # OSError: the buffer is full or the queue closed; a wake-up is pending anyway.
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")

    def take(self) -> Iterator[tuple[str, Any]]:
        """Yield the commands put so far, oldest first, after clearing the wake-up bytes."""
        with contextlib.suppress(OSError):
            self.reader.recv(4096)
        while self._commands:
            yield self._commands.popleft()

    def close(self) -> None:
        self.reader.close()
        self._writer.close()


@contextlib.contextmanager
def routed_signals(queue: CommandQueue) -> Iterator[None]:
    """Turn the control signals into ``("signal", signum)`` commands while inside.

    Only the main thread can install handlers. Embedded in another thread,
    the embedder sends commands through the object's methods instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        queue.put("signal", signum)

    previous = {signum: signal.signal(signum, handler) for signum in CONTROL_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def emit(event: LifecycleEvent, hook: EventHook | None, logger: logging.Logger) -> None:
    """Log ``event`` and hand it to ``hook``; a failing hook is logged and ignored."""
    logger.log(event.level, "%s", event.message())
    if hook is None:
        return
    try:
        hook(event)
    except Exception:
        logger.exception("The on_event hook raised; ignoring it")


class ShutdownState:
    """The shutdown bookkeeping of a supervisor or reloader loop.

    ``slack`` is the time, beyond the graceful period and the cancel grace,
    that children get before the loop kills the ones still running.
    """

    def __init__(self, graceful: float, slack: float) -> None:
        self.graceful = graceful
        self.slack = slack
        self.stopping = False
        self.forced = False
        #: When children still running get killed, by ``time.monotonic()``.
        self.kill_at = float("inf")
        self.exit_code = EXIT_OK
        #: The first failure, reported when the loop ends.
        self.error: str | None = None
        #: Shutdown requests so far; from the second one on, a signal forces.
        self.requests = 0

    def begin(self, force: bool) -> bool:
        """Record a shutdown; return False if it changes nothing (already under way)."""
        if self.stopping and (self.forced or not force):
            return False
        self.stopping = True
        self.forced = self.forced or force
        grace = CANCEL_GRACE + self.slack
        if not force:
            grace += self.graceful
        self.kill_at = min(self.kill_at, time.monotonic() + grace)
        return True

    def fail(self, exit_code: int, message: str) -> None:
        """Record a failure; the first one decides the exit code."""
        if self.error is None:
            self.exit_code = exit_code
            self.error = message

    def stop_signal(self, signum: int, logger: logging.Logger) -> tuple[str, bool]:
        """Count a SIGINT or SIGTERM; return the shutdown reason and whether it forces."""
        name = signal.Signals(signum).name
        self.requests += 1
        if self.requests == 1:
            logger.info(
                "Received %s: shutting down gracefully (within %gs); send it again to force",
                name,
                self.graceful,
            )
            return f"{name} received", False
        return f"{name} received again", True
