"""Look inside the workers of a server that ``serve`` runs, from the test's thread.

One worker is ``server.worker``; thread workers are the ``worker`` of each
handle the supervisor holds. Process workers live in other processes, where
nothing here can reach them: tests that call these probes are marked
``in_process``, or call them only when ``workers_in_this_process`` is true.

A worker's connection set and tasks belong to its loop's thread, so the
probes read them there, with ``run_coroutine_threadsafe``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from pounce_server.worker import Worker

__all__ = [
    "connection_count",
    "run_on_worker_loop",
    "task_count",
    "workers_in_this_process",
    "workers_of",
]

T = TypeVar("T")


def workers_in_this_process(running: Any) -> bool:
    """Return whether the server's workers, and their log records, are in this process."""
    server = running.server
    return not (server.supervised and server.worker_kind == "process")


def workers_of(running: Any) -> list[Worker]:
    """Return the workers serving now; raise RuntimeError for process workers."""
    server = running.server
    if not workers_in_this_process(running):
        raise RuntimeError(
            "process workers cannot be inspected from the test; mark the test in_process"
        )
    if server.supervisor is None:
        return [server.worker]
    workers = [handle.worker for handle in server.supervisor.handles()]
    return [worker for worker in workers if worker is not None]


def run_on_worker_loop(worker: Worker, function: Callable[[], T], timeout: float = 5.0) -> T:
    """Call ``function`` in the thread of ``worker``'s loop and return its result."""
    loop = worker.loop
    assert loop is not None, "the worker has not started its loop"

    async def call() -> T:
        return function()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)


def connection_count(running: Any) -> int:
    """Return the number of open connections, summed over the workers."""

    def count(worker: Worker) -> int:
        context = worker.context
        assert context is not None, "the worker does not serve yet"
        return run_on_worker_loop(worker, lambda: len(context.connections))

    return sum(count(worker) for worker in workers_of(running))


def task_count(running: Any) -> int:
    """Return how many unfinished tasks the workers' loops have, not counting the probes."""

    def count() -> int:
        current = asyncio.current_task()
        return sum(1 for task in asyncio.all_tasks() if task is not current)

    return sum(run_on_worker_loop(worker, count) for worker in workers_of(running))
