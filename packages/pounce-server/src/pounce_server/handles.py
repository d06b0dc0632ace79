"""Worker handles: the supervisor's view of one worker, a thread or a process.

Both kinds talk to the supervisor the same way: the worker sends short
messages over a pipe (``"ready"``, ``"beat"``, ``"retire"``, and for a
process ``("fatal", exit_code, message)`` or ``("stack", text)``), and the
pipe reaching end-of-file means the worker is gone. The supervisor waits on
all the pipes at once with ``multiprocessing.connection.wait``, so one
thread watches any number of workers without polling each.

Only the supervisor's thread uses a handle. The worker's side of the pipe
has one writer at a time: the worker's loop thread, or in a process also
its main thread, which shares a lock with the loop thread for that reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from pounce_asgi_bridge import ASGIApp

from .config import ServerConfig
from .importer import AppSource
from .sockets import Listener
from .worker import Worker

__all__ = [
    "ProcessWorkerHandle",
    "SpawnedHandle",
    "ThreadWorkerHandle",
    "WorkerHandle",
    "describe_exit",
]


class WorkerHandle:
    """The supervisor's record of one running worker."""

    kind = ""

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.pid = os.getpid()
        self.conn: Connection | None = None
        self.started_at = time.monotonic()
        self.last_beat = self.started_at
        #: Whether any message came yet; heartbeats are checked only after one.
        self.heard = False
        self.ready = False
        self.retiring = False
        #: Set once the supervisor asked it to stop: its exit is expected.
        self.stopping = False
        #: When its loop was found blocked, until it beats again.
        self.blocked_since: float | None = None
        #: The (exit code, message) a process sent when it could not start.
        self.fatal: tuple[int, str] | None = None
        self.exitcode: int | None = None
        #: Messages read while waiting for a stack; the supervisor handles them next.
        self.skipped: list[Any] = []

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, *, force: bool = False) -> None:
        """Ask the worker to shut down (gracefully unless ``force``)."""
        raise NotImplementedError

    def kill(self) -> None:
        """End the worker now, where the kind allows it."""

    def stack(self, timeout: float) -> str:
        """Return the current stack of the worker's event loop thread."""
        raise NotImplementedError

    def join(self, timeout: float | None = None) -> None:
        """Collect the ended worker; call once its pipe reached end-of-file."""
        raise NotImplementedError

    def describe_exit(self) -> str:
        """Say how the worker ended, for the log."""
        raise NotImplementedError

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class ThreadWorkerHandle(WorkerHandle):
    """A worker running in a thread of the supervisor's process."""

    kind = "thread"

    def __init__(
        self,
        slot: int,
        *,
        app: ASGIApp,
        config: ServerConfig,
        listeners: list[Listener],
        loop_factory: Callable[[], Any],
        lifespan_state: dict[str, Any] | None,
        max_requests: int | None,
    ) -> None:
        super().__init__(slot)
        self._app = app
        self._config = config
        self._listeners = listeners
        self._loop_factory = loop_factory
        self._lifespan_state = lifespan_state
        self._max_requests = max_requests
        self._thread: threading.Thread | None = None
        self.worker: Worker | None = None

    def start(self) -> None:
        receiver, sender = multiprocessing.Pipe(duplex=False)
        self.conn = receiver
        # Each worker closes its listening sockets when it stops accepting;
        # copies keep that from closing the ones the other workers use.
        own = [
            dataclasses.replace(listener, sock=listener.sock.dup(), unlink_path=None)
            for listener in self._listeners
        ]

        def report(message: str) -> None:
            # OSError: the supervisor is gone, or no longer listens.
            with contextlib.suppress(OSError):
                sender.send(message)

        worker = Worker(
            app=self._app,
            config=self._config,
            listeners=own,
            loop_factory=self._loop_factory,
            on_ready=lambda: report("ready"),
            run_lifespan=False,
            lifespan_state=self._lifespan_state,
            report=report,
            max_requests=self._max_requests,
            owns_listeners=True,
        )
        self.worker = worker

        def run() -> None:
            try:
                worker.run()
            finally:
                # End-of-file on the pipe is how the supervisor learns this worker ended.
                sender.close()

        self._thread = threading.Thread(target=run, name=f"pounce-worker-{self.slot}", daemon=True)
        self._thread.start()

    def stop(self, *, force: bool = False) -> None:
        self.stopping = True
        if self.worker is not None:
            self.worker.request_shutdown(force=force)

    def stack(self, timeout: float) -> str:
        thread = self._thread
        frame = sys._current_frames().get(thread.ident or -1) if thread is not None else None
        if frame is None:
            return "(the thread has no Python frame)"
        return "".join(traceback.format_stack(frame))

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
        worker = self.worker
        self.exitcode = 0 if worker is None or worker.error is None else 1

    def describe_exit(self) -> str:
        worker = self.worker
        if worker is not None and worker.error is not None:
            return f"its event loop failed: {worker.error!r}"
        return "its event loop ended"


class SpawnedHandle(WorkerHandle):
    """A child process started with the ``spawn`` method, talking over a duplex pipe.

    Subclasses set the process name and return what it runs: ``target(spec, conn)``.
    """

    kind = "process"
    name_prefix = "pounce-worker"

    def __init__(self, slot: int) -> None:
        super().__init__(slot)
        self._process: Any = None

    def target_and_spec(self) -> tuple[Callable[[Any, Connection], None], Any]:
        raise NotImplementedError

    def start(self) -> None:
        target, spec = self.target_and_spec()
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        # Not a daemon: daemonic processes may not start processes of their own.
        process = context.Process(
            target=target, args=(spec, child_end), name=f"{self.name_prefix}-{self.slot}"
        )
        process.start()
        # Only the child keeps its end open, so its exit ends our reads.
        child_end.close()
        self._process = process
        self.pid = process.pid or 0
        self.conn = parent_end

    def stop(self, *, force: bool = False) -> None:
        self.stopping = True
        conn = self.conn
        if conn is None:
            return
        # OSError: already gone, and its end-of-file is on the way.
        with contextlib.suppress(OSError):
            conn.send(("stop", force))

    def kill(self) -> None:
        if self._process is not None and self._process.exitcode is None:
            self._process.kill()

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process, if it still runs."""
        if self._process is not None and self._process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def stack(self, timeout: float) -> str:
        conn = self.conn
        if conn is None:
            return "(the process has ended)"
        try:
            conn.send(("stack",))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0 and conn.poll(left):
                message = conn.recv()
                if isinstance(message, tuple) and message[0] == "stack":
                    return str(message[1])
                self.skipped.append(message)
        except (OSError, EOFError):
            return "(the process has ended)"
        return "(no reply: the process holds its interpreter lock; it was not reachable)"

    def join(self, timeout: float | None = None) -> None:
        if self._process is not None:
            self._process.join(timeout)
            self.exitcode = self._process.exitcode
            if self.exitcode is not None:
                self._process.close()

    def describe_exit(self) -> str:
        if self.fatal is not None:
            # The first line only: a failed startup's traceback is in the
            # process's own log above, and again in the final error.
            return self.fatal[1].splitlines()[0]
        return describe_exit(self.exitcode)


class ProcessWorkerHandle(SpawnedHandle):
    """A worker in a child process of its own."""

    def __init__(
        self,
        slot: int,
        *,
        source: AppSource,
        config: ServerConfig,
        listeners: list[Listener],
        loop: str,
        max_requests: int | None,
    ) -> None:
        super().__init__(slot)
        self._source = source
        self._config = config
        self._listeners = listeners
        self._loop = loop
        self._max_requests = max_requests

    def target_and_spec(self) -> tuple[Callable[[Any, Connection], None], Any]:
        from .child import WorkerProcessSpec, run_worker_process

        spec = WorkerProcessSpec(
            slot=self.slot,
            source=self._source,
            config=self._config,
            listeners=[dataclasses.replace(item, unlink_path=None) for item in self._listeners],
            loop=self._loop,
            max_requests=self._max_requests,
        )
        return run_worker_process, spec


def describe_exit(code: int | None) -> str:
    """Say how a process ended: its exit code, or the signal that killed it."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit code {code}"
