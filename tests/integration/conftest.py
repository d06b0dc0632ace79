"""Run every integration test that serves under each worker mode.

The ``serve`` fixture of tests/conftest.py runs one worker. Here it is
parametrized over ``WORKER_MODES``: one worker, four thread workers and four
process workers, so one run covers all three and the test id names the mode.
Options a test passes to ``serve`` win over the mode's, so a test that needs
every connection on one worker passes ``workers=1``.

Process workers import the app in each child process, so an app served
there must be importable by name: a module-level function, or an instance
of a module-level class whose fields pickle (the apps in ``http1_apps``,
``streaming_apps`` and ``reporting_apps``). A test that needs the workers in
its own process (a ``threading.Event`` shared with the app, ``caplog``
records of the workers, a worker's loop or context) gives the reason in
``@pytest.mark.in_process("reason")`` and is skipped with process workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from server_pool import ServerPool

#: The ``serve`` options of each worker mode.
WORKER_MODES: dict[str, dict[str, Any]] = {
    "single": {},
    "threads": {"workers": 4, "worker_kind": "thread"},
    "processes": {"workers": 4, "worker_kind": "process"},
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "worker_mode" in metafunc.fixturenames:
        # Module scope runs a module's tests mode by mode, so tests that
        # can share a process-worker server run one after another.
        metafunc.parametrize("worker_mode", list(WORKER_MODES), indirect=True, scope="module")


@pytest.fixture
def worker_mode(request: pytest.FixtureRequest) -> str:
    """The worker mode of this run of the test."""
    mode: str = request.param
    return mode


@pytest.fixture(scope="session")
def process_server_pool() -> Iterator[ServerPool]:
    """Process-worker servers shared by tests that serve the same app and options."""
    pool = ServerPool()
    yield pool
    pool.close()


@pytest.fixture
def serve(
    serve: Callable[..., Any], request: pytest.FixtureRequest, worker_mode: str
) -> Callable[..., Any]:
    """Return ``serve(app, **config)`` with the options of the worker mode added."""
    defaults = WORKER_MODES[worker_mode]
    if worker_mode == "processes":
        _skip_if_in_process(request)
        pool: ServerPool = request.getfixturevalue("process_server_pool")
        return lambda app, **options: pool.serve(serve, app, **{**defaults, **options})
    return lambda app, **options: serve(app, **{**defaults, **options})


def _skip_if_in_process(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("in_process")
    if marker is None:
        return
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise TypeError(f"{request.node.nodeid}: in_process takes one reason string")
    pytest.skip(f"process workers run the app in other processes: {marker.args[0]}")
