"""After shutdown nothing is left: no worker processes, threads or file descriptors.

The process test follows the ``pounce`` command's children through a
rolling restart and a shutdown, through /proc. The in-process tests run a
supervised server in a thread of the test process, restart its workers
once, stop it, and compare the threads and open file descriptors with those
from before it started.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.resource_tracker
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from runtime_apps import app
from runtime_client import request
from runtime_process import child_processes, process_gone, run_pounce

from pounce_server.detect import detect_runtime, loop_factory

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")

KINDS = ("thread", "process")


def open_fds() -> dict[int, str]:
    """Return this process's open file descriptors, each with what it refers to."""
    fds = {}
    for entry in os.listdir("/proc/self/fd"):
        try:
            fds[int(entry)] = os.readlink(f"/proc/self/fd/{entry}")
        except FileNotFoundError:
            continue  # The descriptor listdir itself used, closed since.
    return fds


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(0.05)
    return True


def test_no_worker_processes_left() -> None:
    with run_pounce("--workers", "2", "--worker-kind", "process") as run:
        seen = child_processes(run.pid)
        mark = run.mark()
        run.send_signal(signal.SIGHUP)
        run.wait_for(r"reload: new workers serving", since=mark)
        run.wait_for_count(r"worker \d: stopped", 2, since=mark)
        seen.update(child_processes(run.pid))
        code = run.stop()

    assert code == 0
    # Two workers, their two successors, and multiprocessing's resource tracker.
    assert len(seen) >= 4

    def running() -> list[int]:
        return sorted(pid for pid, start in seen.items() if not process_gone(pid, start))

    assert wait_until(lambda: not running()), f"processes still running: {running()}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_threads_or_fds_left(serve: Any, kind: str) -> None:
    # Two kinds of descriptors are opened once and kept for the life of the
    # test process, so they are opened here, before the baseline. libuv (under
    # uvloop) makes a pipe for its signal handling when its first loop is
    # created. The first process spawned by multiprocessing starts its
    # resource tracker, and the pipe to it stays open.
    loop_factory(detect_runtime("auto").loop)().close()
    if kind == "process":
        multiprocessing.resource_tracker.ensure_running()
    threads_before = set(threading.enumerate())
    fds_before = open_fds()
    # Servers of other tests in this process (a shared pool of them) may
    # still run worker processes; only new ones would be this test's leak.
    children_before = set(multiprocessing.active_children())

    with serve(app, workers=2, worker_kind=kind) as running:
        supervisor = running.server.supervisor
        first = supervisor.handles()
        assert request(running.port).status == 200
        supervisor.request_restart()
        assert wait_until(lambda: not set(first) & set(supervisor.handles()))
        assert request(running.port).status == 200
    assert running.errors == []
    assert set(multiprocessing.active_children()) - children_before == set()

    def new_threads() -> set[threading.Thread]:
        return set(threading.enumerate()) - threads_before

    assert wait_until(lambda: not new_threads()), f"threads left: {new_threads()}"
    fds_after = open_fds()
    new_fds = {fd: target for fd, target in fds_after.items() if fds_before.get(fd) != target}
    assert new_fds == {}
