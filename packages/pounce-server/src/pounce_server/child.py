"""The entry point of a worker process.

The supervisor starts each process worker with the ``spawn`` method: a fresh
interpreter that imports the app itself and runs its own lifespan. Nothing
from the supervisor's memory (threads, locks, an app object half way
through something) is copied into it. The listening sockets arrive as
inherited file descriptors.

In the process, the worker's event loop runs in a thread and the main thread
listens to the supervisor: ``("stop", force)`` asks for a shutdown and
``("stack",)`` for the loop thread's stack, which the main thread can give
even while the loop is blocked. When the supervisor disappears (its end of
the pipe closes), the worker shuts down gracefully instead of serving on as
an orphan.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from .config import ServerConfig
from .detect import loop_factory
from .errors import EXIT_FAILURE, PounceError
from .importer import AppSource
from .logs import configure_logging, worker_logger
from .sockets import Listener
from .worker import Worker

__all__ = ["WorkerProcessSpec", "run_worker_process"]


@dataclass(frozen=True, slots=True)
class WorkerProcessSpec:
    """Everything a worker process needs, sent to it by pickling."""

    slot: int
    source: AppSource
    config: ServerConfig
    listeners: list[Listener]
    loop: str
    max_requests: int | None


def run_worker_process(spec: WorkerProcessSpec, conn: Connection) -> None:
    """Run one worker until the supervisor stops it; the target of the process."""
    # CTRL+C in a terminal signals the whole process group. The supervisor
    # decides what it means, so the worker acts only on the supervisor's messages.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(spec.config.log_level)
    # Both the loop thread (reports) and this thread (stack replies) send.
    send_lock = threading.Lock()

    def send(message: Any) -> None:
        # OSError: the supervisor is gone, which the main thread detects too.
        with send_lock, contextlib.suppress(OSError):
            conn.send(message)

    try:
        app = spec.source.load()
    except PounceError as exc:
        send(("fatal", exc.exit_code, str(exc)))
        sys.exit(exc.exit_code)

    worker = Worker(
        app=app,
        config=spec.config,
        listeners=spec.listeners,
        loop_factory=loop_factory(spec.loop),
        on_ready=lambda: send("ready"),
        report=send,
        max_requests=spec.max_requests,
        owns_listeners=True,
    )

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # Someone stopped this one worker; the supervisor will replace it.
        worker.request_shutdown()

    signal.signal(signal.SIGTERM, on_sigterm)
    thread = threading.Thread(target=worker.run, name=f"pounce-worker-{spec.slot}")
    thread.start()
    try:
        _listen(conn, worker, thread, send)
    finally:
        thread.join()
    error = worker.error
    if error is not None:
        if isinstance(error, PounceError):
            send(("fatal", error.exit_code, str(error)))
            sys.exit(error.exit_code)
        worker_logger.error("The worker's event loop failed: %r", error)
        sys.exit(EXIT_FAILURE)


def _listen(conn: Connection, worker: Worker, thread: threading.Thread, send: Any) -> None:
    """Carry out the supervisor's requests until the worker's loop has ended."""
    while thread.is_alive():
        try:
            if not conn.poll(0.2):
                continue
            message = conn.recv()
        except (EOFError, OSError):
            worker_logger.warning("The supervisor is gone; shutting down this worker")
            worker.request_shutdown()
            return
        if message[0] == "stop":
            worker.request_shutdown(force=bool(message[1]))
        elif message[0] == "stack":
            frame = sys._current_frames().get(thread.ident or -1)
            text = "".join(traceback.format_stack(frame)) if frame is not None else "(no frame)"
            send(("stack", text))
