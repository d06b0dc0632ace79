"""Workers that die: restarts, the restart budget, and apps that cannot load.

Each test runs the ``pounce`` command with several workers and kills or
crashes one of them: from outside (SIGKILL), from the app (``os._exit``,
``SystemExit``), or before it serves (an exit during lifespan startup, an
import error). The supervisor must replace a dead worker while the others
serve on, stop the server with exit code 1 once a slot dies more often than
``--restart-limit`` allows, and exit with code 3 when the app cannot be
imported.
"""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path

import pytest
from runtime_apps import EXIT_AT_STARTUP
from runtime_client import ClientLoop, request
from runtime_process import PounceRun, log_time, run_pounce

KINDS = ("thread", "process")

#: Client threads in a load loop; each has at most one request in flight.
CLIENT_THREADS = 2


def wait_until_served_by(clients: ClientLoop, pid: int, timeout: float = 10.0) -> None:
    """Wait until the client loop gets a response from a worker in process ``pid``."""
    deadline = time.monotonic() + timeout
    prefix = f"{pid}:"
    while not any(o.identity and o.identity.startswith(prefix) for o in clients.outcomes()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no response from process {pid} within {timeout}s")
        time.sleep(0.01)


def crash_until_exit(run: PounceRun, path: str, max_requests: int = 30) -> int:
    """Send ``path`` (which kills the serving worker) until the server exits; return its code."""
    for _ in range(max_requests):
        if run.process.poll() is not None:
            break
        # Each request kills whichever worker accepts it, so it never gets a response.
        with pytest.raises((OSError, http.client.HTTPException)):
            request(run.port, path)
    return run.wait_exit()


def test_sigkilled_process_worker_replaced_under_load() -> None:
    with run_pounce("--workers", "2", "--worker-kind", "process") as run:
        pids = {line.slot: line.pid for line in run.started_lines()}
        victim, survivor = pids[0], pids[1]
        with ClientLoop(run.port, threads=CLIENT_THREADS) as clients:
            clients.wait_for(20)
            mark = run.mark()
            os.kill(victim, signal.SIGKILL)
            died = run.wait_for(
                rf"worker 0: died unexpectedly \(pid {victim}, killed by SIGKILL\)", since=mark
            )
            death_seen = time.monotonic()
            restarted = run.wait_for(
                r"worker 0: started \(process, pid (\d+), restarting after a crash\)", since=mark
            )
            successor = int(restarted[1])
            wait_until_served_by(clients, successor)
            clients.wait_for(20)
        outcomes = clients.stop()
        log = run.text

    # The first restart in a window has no backoff delay; one second leaves
    # room for a busy machine. Both times come from the supervisor's log.
    assert (log_time(restarted) - log_time(died)).total_seconds() < 1.0
    assert successor not in (victim, survivor)
    # Only the worker that was killed died; the other one served throughout.
    assert log.count("died unexpectedly") == 1

    failures = [o for o in outcomes if not o.ok]
    # Only requests on the killed worker's connections fail, at most one per
    # client thread, and all of them began before the death was logged.
    assert len(failures) <= CLIENT_THREADS, failures
    assert all(o.started < death_seen for o in failures), failures
    after = [o for o in outcomes if o.started > death_seen]
    assert after
    assert all(o.ok for o in after)


@pytest.mark.parametrize("kind", KINDS)
def test_crash_loop_stops_server(kind: str) -> None:
    options = ("--workers", "2", "--worker-kind", kind)
    budget = ("--restart-limit", "2", "--restart-window", "60")
    with run_pounce(*options, *budget) as run:
        code = crash_until_exit(run, "/raise-system-exit")
        log = run.text

    assert code == 1
    assert "more than --restart-limit allows; shutting down" in log
    assert "pounce: error: worker" in log
    assert "the restart limit (2 per 60s) was reached" in log
    # Two restarts of one slot are allowed; its third death stops the server.
    assert log.count("restarting after a crash") >= 2
    assert 3 <= log.count("died unexpectedly") <= 5


def test_crash_at_startup_exhausts_restart_budget() -> None:
    options = ("--workers", "1", "--worker-kind", "process")
    budget = ("--restart-limit", "2", "--restart-window", "60")
    with run_pounce(*options, *budget, env={EXIT_AT_STARTUP: "1"}, serving=False) as run:
        code = run.wait_exit()
        log = run.text

    assert code == 1
    assert log.count("worker 0: died unexpectedly") == 3
    assert log.count("restarting after a crash") == 2
    assert "worker 0 died 3 times within 60s, more than --restart-limit allows" in log
    assert "pounce: error: worker 0 kept dying (exit code 1); the restart limit" in log
    assert "running on" not in log


@pytest.mark.parametrize("kind", KINDS)
def test_system_exit_from_app_restarts_worker(kind: str) -> None:
    with run_pounce("--workers", "2", "--worker-kind", kind) as run:
        assert request(run.port).status == 200
        mark = run.mark()
        with pytest.raises((OSError, http.client.HTTPException)):
            request(run.port, "/raise-system-exit")
        died = run.wait_for(r"worker (\d): died unexpectedly \(pid \d+, (.*)\)$", since=mark)
        run.wait_for(
            rf"worker {died[1]}: started \({kind}, pid \d+, restarting after a crash\)", since=mark
        )
        after = [request(run.port) for _ in range(10)]
        code = run.stop()

    expected = "its event loop failed: SystemExit(1)" if kind == "thread" else "exit code 1"
    assert died[2] == expected
    assert all(reply.status == 200 for reply in after)
    assert code == 0


@pytest.mark.parametrize("kind", KINDS)
def test_app_import_error_exits_3(kind: str, tmp_path: Path) -> None:
    (tmp_path / "broken_app.py").write_text("import runtime_module_that_does_not_exist\n")
    options = ("--workers", "2", "--worker-kind", kind)
    with run_pounce(*options, app="broken_app:app", app_dir=tmp_path, serving=False) as run:
        code = run.wait_exit()
        log = run.text

    assert code == 3
    assert "pounce: error: importing 'broken_app' failed at" in log
    assert "No module named 'runtime_module_that_does_not_exist'" in log
    assert "install the missing package" in log
    assert "restarting after a crash" not in log
    if kind == "process":
        # The server never imports the app; the worker processes did, and failed.
        assert "worker 0: started (process" in log
        assert "worker 1: started (process" in log
