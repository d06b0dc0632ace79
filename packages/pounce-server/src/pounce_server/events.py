"""Typed lifecycle events of the supervisor and the reloader.

Each event is a frozen dataclass that formats its own log line.
The supervisor logs every event on ``pounce.supervisor`` and then hands it
to the ``on_event`` hook given to ``Server``, if any, in the supervisor's
own thread. A hook must return quickly and must not raise: an exception
from it is logged and otherwise ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "EventHook",
    "GenerationExited",
    "GenerationStarted",
    "LifecycleEvent",
    "ReloadFailed",
    "ReloadFinished",
    "ReloadStarted",
    "RestartBudgetExhausted",
    "ServingStarted",
    "ShutdownFinished",
    "ShutdownStarted",
    "WorkerBlocked",
    "WorkerExited",
    "WorkerReady",
    "WorkerRecovered",
    "WorkerStarted",
    "WorkersScaled",
]


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """Base class: every event has a log level and a message."""

    @property
    def level(self) -> int:
        return logging.INFO

    def message(self) -> str:
        raise NotImplementedError


EventHook = Callable[[LifecycleEvent], None]


@dataclass(frozen=True, slots=True)
class WorkerStarted(LifecycleEvent):
    """A worker was started in ``slot``; ``pid`` is its process (ours for threads)."""

    slot: int
    kind: str
    pid: int
    reason: str

    def message(self) -> str:
        return f"worker {self.slot}: started ({self.kind}, pid {self.pid}, {self.reason})"


@dataclass(frozen=True, slots=True)
class WorkerReady(LifecycleEvent):
    """The worker in ``slot`` accepts connections."""

    slot: int
    pid: int

    @property
    def level(self) -> int:
        return logging.DEBUG

    def message(self) -> str:
        return f"worker {self.slot}: accepting connections (pid {self.pid})"


@dataclass(frozen=True, slots=True)
class WorkerExited(LifecycleEvent):
    """A worker ended; ``expected`` is False for a crash or a kill from outside."""

    slot: int
    pid: int
    expected: bool
    detail: str

    @property
    def level(self) -> int:
        return logging.INFO if self.expected else logging.ERROR

    def message(self) -> str:
        if self.expected:
            return f"worker {self.slot}: stopped (pid {self.pid}, {self.detail})"
        return f"worker {self.slot}: died unexpectedly (pid {self.pid}, {self.detail})"


@dataclass(frozen=True, slots=True)
class WorkerBlocked(LifecycleEvent):
    """A worker's event loop has not run for ``seconds``; ``stack`` is where it is stuck."""

    slot: int
    pid: int
    seconds: float
    stack: str
    action: str

    @property
    def level(self) -> int:
        return logging.ERROR

    def message(self) -> str:
        return (
            f"worker {self.slot}: event loop blocked for {self.seconds:.1f}s "
            f"(--worker-timeout); {self.action}. It is stuck here:\n{self.stack.rstrip()}"
        )


@dataclass(frozen=True, slots=True)
class WorkerRecovered(LifecycleEvent):
    """A blocked worker's loop runs again."""

    slot: int
    seconds: float

    @property
    def level(self) -> int:
        return logging.WARNING

    def message(self) -> str:
        return f"worker {self.slot}: event loop running again after {self.seconds:.1f}s"


@dataclass(frozen=True, slots=True)
class RestartBudgetExhausted(LifecycleEvent):
    """A slot restarted more often than the budget allows: the server stops."""

    slot: int
    restarts: int
    window: float

    @property
    def level(self) -> int:
        return logging.CRITICAL

    def message(self) -> str:
        return (
            f"worker {self.slot} died {self.restarts} times within {self.window:g}s, more than "
            "--restart-limit allows; shutting down. Fix the crash (see the errors above) "
            "or raise --restart-limit"
        )


@dataclass(frozen=True, slots=True)
class WorkersScaled(LifecycleEvent):
    """The number of workers changed (SIGTTIN, SIGTTOU)."""

    before: int
    after: int

    def message(self) -> str:
        return f"workers: {self.before} -> {self.after}"


@dataclass(frozen=True, slots=True)
class ServingStarted(LifecycleEvent):
    """Every worker of the first generation accepts connections."""

    workers: int
    kind: str
    urls: tuple[str, ...]

    def message(self) -> str:
        where = ", ".join(self.urls)
        if self.kind == "generation":
            return f"serving on {where}; reloading when the code changes"
        return f"serving on {where} with {self.workers} {self.kind} worker(s)"


@dataclass(frozen=True, slots=True)
class GenerationStarted(LifecycleEvent):
    """With --reload: a new server process (generation ``number``) was started."""

    number: int
    pid: int
    reason: str

    def message(self) -> str:
        return f"generation {self.number}: server process started (pid {self.pid}, {self.reason})"


@dataclass(frozen=True, slots=True)
class GenerationExited(LifecycleEvent):
    """With --reload: a generation's process ended."""

    number: int
    pid: int
    expected: bool
    detail: str

    @property
    def level(self) -> int:
        return logging.INFO if self.expected else logging.ERROR

    def message(self) -> str:
        if self.expected:
            return f"generation {self.number}: server process stopped ({self.detail})"
        return f"generation {self.number}: server process failed (pid {self.pid}, {self.detail})"


@dataclass(frozen=True, slots=True)
class ReloadStarted(LifecycleEvent):
    """A rolling restart (SIGHUP) or code reload began."""

    reason: str

    def message(self) -> str:
        return f"reload: starting new workers ({self.reason})"


@dataclass(frozen=True, slots=True)
class ReloadFinished(LifecycleEvent):
    """The new workers serve; the old ones are draining or gone."""

    reason: str

    def message(self) -> str:
        return f"reload: new workers serving ({self.reason})"


@dataclass(frozen=True, slots=True)
class ReloadFailed(LifecycleEvent):
    """The new workers could not start; the old ones keep serving."""

    reason: str
    error: str

    @property
    def level(self) -> int:
        return logging.ERROR

    def message(self) -> str:
        return f"reload: the new workers failed to start, the old ones keep serving: {self.error}"


@dataclass(frozen=True, slots=True)
class ShutdownStarted(LifecycleEvent):
    """A shutdown began; ``force`` skips the grace period."""

    reason: str
    force: bool

    def message(self) -> str:
        how = "forcing shutdown" if self.force else "shutting down gracefully"
        return f"shutdown: {how} ({self.reason})"


@dataclass(frozen=True, slots=True)
class ShutdownFinished(LifecycleEvent):
    """Every worker stopped; ``exit_code`` is what the server exits with."""

    exit_code: int

    def message(self) -> str:
        return f"shutdown: all workers stopped (exit code {self.exit_code})"
