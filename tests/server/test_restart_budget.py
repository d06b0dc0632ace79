"""The restart budget: how many restarts a slot gets, and how long each waits."""

from __future__ import annotations

import pytest

from pounce_server.restarts import FIRST_BACKOFF, MAX_BACKOFF, RestartBudget


def test_restart_backoff_doubles() -> None:
    budget = RestartBudget(limit=5, window=60)
    delays = [budget.record(100.0 + i) for i in range(5)]
    assert delays[0] == 0.0
    assert delays[1:] == [FIRST_BACKOFF * 2**i for i in range(4)]
    assert all(delay is not None and delay <= MAX_BACKOFF for delay in delays)


def test_restart_past_the_limit_is_refused() -> None:
    budget = RestartBudget(limit=2, window=60)
    assert budget.record(0.0) is not None
    assert budget.record(1.0) is not None
    assert budget.record(2.0) is None
    assert budget.recent == 2


def test_restarts_older_than_the_window_no_longer_count() -> None:
    budget = RestartBudget(limit=2, window=10)
    budget.record(0.0)
    budget.record(1.0)
    assert budget.record(5.0) is None
    # Both earlier restarts have left the window by t=11.5.
    assert budget.record(11.5) == 0.0
    assert budget.recent == 1


def test_backoff_is_capped() -> None:
    budget = RestartBudget(limit=50, window=1000)
    delays = [budget.record(float(i)) for i in range(20)]
    assert max(d for d in delays if d is not None) == MAX_BACKOFF


@pytest.mark.parametrize("limit", [0])
def test_restart_budget_zero_limit(limit: int) -> None:
    assert RestartBudget(limit=limit, window=60).record(0.0) is None
