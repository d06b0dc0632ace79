"""Servers with process workers, kept running between tests that serve the same thing.

Starting four worker processes costs about a second of CPU (each imports
the server and the app in a fresh interpreter), far more than most tests
take. Many tests serve the same stateless app with the same options (every
rejection case of the bad-input suite, for one), so with process workers
the ``serve`` fixture hands them one server in turn instead of starting one
per test.

A server is reused only when nothing can leak from one test into the next:

- the key is the pickled app and options, so apps holding per-test state
  (a ``FileEvent`` under the test's ``tmp_path``) never match another test;
- a test that raised inside ``with serve(...)`` closes the server, since
  a failure may have left it in any state;
- a server that reported shutting down, or a worker exiting, is not reused.

The pool keeps a few servers at most and closes the least recently used.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from pounce_server.events import ShutdownStarted, WorkerExited

__all__ = ["ServerPool"]

#: Servers kept per test process (pytest-xdist worker); each has four children.
CAPACITY = 3

Starter = Callable[..., AbstractContextManager[Any]]


class ServerPool:
    """Running servers, keyed by what they serve."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[ExitStack, Any]] = OrderedDict()

    @contextmanager
    def serve(self, start: Starter, app: Any, **options: Any) -> Iterator[Any]:
        """Yield a running server for ``app`` and ``options``, or start one with ``start``."""
        key = pickle.dumps((app, sorted(options.items())))
        entry = self._entries.pop(key, None)
        if entry is not None and not _reusable(entry[1]):
            entry[0].close()
            entry = None
        if entry is None:
            stack = ExitStack()
            entry = (stack, stack.enter_context(start(app, **options)))
        stack, running = entry
        try:
            yield running
        except BaseException:
            stack.close()
            raise
        self._entries[key] = entry
        while len(self._entries) > self._capacity:
            _, (oldest, _) = self._entries.popitem(last=False)
            oldest.close()

    def close(self) -> None:
        """Stop every server in the pool."""
        while self._entries:
            _, (stack, _) = self._entries.popitem(last=False)
            stack.close()


def _reusable(running: Any) -> bool:
    if running.errors or running.server.wait_stopped(0):
        return False
    return not any(isinstance(event, ShutdownStarted | WorkerExited) for event in running.events)
