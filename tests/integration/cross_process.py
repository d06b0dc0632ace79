"""An event and a queue that work across processes, for apps served by process workers.

A test and the app it serves often need to exchange signals. The app reports
that a request has started, or how it ended, and the test lets the app go on.
``threading.Event`` and ``queue.Queue`` do that when the app runs in the
test's process, but process workers receive a pickled copy of the app, and
neither of those objects can be pickled. ``FileEvent`` and ``FileQueue``
keep their state in a file under the test's ``tmp_path`` instead, so a copy
in any process reads the same state. Both sides poll: waits cost up to one
``POLL_INTERVAL`` of latency, which these tests do not measure.

Keep this module free of heavy imports: every worker process imports it.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileEvent", "FileQueue"]

#: Seconds between two checks of the file while waiting.
POLL_INTERVAL = 0.01


@dataclass(frozen=True)
class FileEvent:
    """A flag that is set once the file exists, like ``threading.Event`` without clear()."""

    path: Path

    def set(self) -> None:
        """Set the flag for every process."""
        self.path.touch()

    def is_set(self) -> bool:
        """Return whether some process has set the flag."""
        return self.path.exists()

    def wait(self, timeout: float) -> bool:
        """Block until the flag is set or ``timeout`` seconds pass; return whether it is set."""
        deadline = time.monotonic() + timeout
        while not self.is_set():
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL)
        return True

    async def wait_async(self, timeout: float) -> bool:
        """Wait like ``wait`` without blocking the event loop; for apps."""
        deadline = time.monotonic() + timeout
        while not self.is_set():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_INTERVAL)
        return True


@dataclass
class FileQueue:
    """Lines of text that any process appends and the test reads in order.

    One reader only: the read position lives in the reader's own copy.
    """

    path: Path
    #: How many lines this copy has returned from ``get``.
    lines_read: int = 0

    def put(self, text: str) -> None:
        """Append ``text`` as one line; ``text`` must not contain a newline."""
        if "\n" in text:
            raise ValueError(f"a queued item must be one line, not {text!r}")
        # One write() on an O_APPEND descriptor, so on a local Linux file
        # system lines from several processes do not interleave. The
        # reader counts a line only once its newline is there.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, text.encode() + b"\n")
        finally:
            os.close(descriptor)

    def get(self, timeout: float) -> str:
        """Return the next line, waiting up to ``timeout`` seconds; raise TimeoutError after."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self._complete_lines()
            if len(lines) > self.lines_read:
                self.lines_read += 1
                return lines[self.lines_read - 1]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no item arrived in {self.path.name} within {timeout:g}s")
            time.sleep(POLL_INTERVAL)

    def items(self) -> list[str]:
        """Return every line written so far, read or not."""
        return self._complete_lines()

    def _complete_lines(self) -> list[str]:
        try:
            data = self.path.read_text()
        except FileNotFoundError:
            return []
        # The part after the last newline is a line still being written.
        return data.split("\n")[:-1]
