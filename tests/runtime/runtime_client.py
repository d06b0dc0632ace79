"""HTTP clients for the runtime tests: one request, and a bounded request loop.

``ClientLoop`` sends ``GET`` requests from a few threads, each on a fresh
connection, and records every outcome with the times it started and ended.
A loop stops at whichever comes first: ``stop()``, its request count or its
time limit, so a server that stops responding cannot hang a test.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass

__all__ = ["ClientLoop", "Outcome", "Reply", "request"]

#: Seconds a single connect, write or read may block.
REQUEST_TIMEOUT = 5.0
#: The body ``runtime_apps`` returns for ``/``: the serving worker's ``pid:tid``.
_IDENTITY = re.compile(rb"\d+:\d+")


@dataclass(frozen=True)
class Reply:
    """A complete response."""

    status: int
    headers: dict[str, str]
    body: bytes


def request(
    port: int,
    path: str = "/",
    *,
    method: str = "GET",
    body: bytes = b"",
    timeout: float = REQUEST_TIMEOUT,
) -> Reply:
    """Send one request on a fresh connection to 127.0.0.1 and read the whole response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None)
        response = conn.getresponse()
        data = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Reply(response.status, headers, data)
    finally:
        conn.close()


@dataclass(frozen=True)
class Outcome:
    """One request of a loop: when it ran, and the worker identity or the error."""

    started: float
    ended: float
    identity: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


class ClientLoop:
    """Send ``GET /`` in a loop from ``threads`` threads, a fresh connection each time.

    The loop ends at ``stop()``, after ``max_requests`` requests in all, or
    ``max_seconds`` after ``start()``, whichever comes first.
    """

    def __init__(
        self,
        port: int,
        *,
        threads: int = 2,
        max_requests: int = 20000,
        max_seconds: float = 15.0,
        pause: float = 0.0,
    ) -> None:
        self.port = port
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        #: Seconds each thread waits between two requests, to lighten the load.
        self.pause = pause
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._outcomes: list[Outcome] = []
        self._threads = [
            threading.Thread(target=self._run, name=f"client-loop-{i}", daemon=True)
            for i in range(threads)
        ]

    def __enter__(self) -> ClientLoop:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._deadline = time.monotonic() + self.max_seconds
        for thread in self._threads:
            thread.start()

    def stop(self) -> list[Outcome]:
        """Stop the loop, wait for its threads and return every outcome."""
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT * 3)
        return self.outcomes()

    def outcomes(self) -> list[Outcome]:
        """Return the outcomes so far, in the order the requests ended."""
        with self._lock:
            return list(self._outcomes)

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` more requests than now have succeeded."""
        target = sum(outcome.ok for outcome in self.outcomes()) + count
        deadline = time.monotonic() + timeout
        while sum(outcome.ok for outcome in self.outcomes()) < target:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the client loop did not get {count} more successful responses "
                    f"within {timeout}s: {self.outcomes()[-5:]}"
                )
            time.sleep(0.01)

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            with self._lock:
                if len(self._outcomes) >= self.max_requests:
                    return
            started = time.monotonic()
            identity = error = None
            try:
                reply = request(self.port)
                if reply.status == 200 and _IDENTITY.fullmatch(reply.body):
                    identity = reply.body.decode()
                else:
                    error = f"unexpected response {reply.status} {reply.body[:80]!r}"
            except (OSError, http.client.HTTPException) as exc:
                error = repr(exc)
            with self._lock:
                self._outcomes.append(Outcome(started, time.monotonic(), identity, error))
            if self.pause:
                self._stop.wait(self.pause)
