"""The restart budget: how often a worker slot may be restarted, and how soon.

Each slot keeps the times of its recent restarts. A restart is allowed while
fewer than ``limit`` fall inside the last ``window`` seconds. The first one
is immediate, and each further one waits twice as long as the one before
(capped), so a worker that dies at once does not spin the CPU while its
budget lasts.
"""

from __future__ import annotations

from collections import deque

__all__ = ["RestartBudget"]

#: Delay before the second restart inside the window; doubles each time.
FIRST_BACKOFF = 0.25
#: Maximum wait between two restarts.
MAX_BACKOFF = 4.0


class RestartBudget:
    """Restart times of one slot, and the decision whether another is allowed."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def record(self, now: float) -> float | None:
        """Count a restart at ``now``; return the delay before it, or None past the budget."""
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return None
        self._times.append(now)
        recent = len(self._times)
        if recent == 1:
            return 0.0
        return float(min(FIRST_BACKOFF * 2 ** (recent - 2), MAX_BACKOFF))

    @property
    def recent(self) -> int:
        return len(self._times)
