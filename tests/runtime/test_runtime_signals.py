"""Signals sent to a supervising ``pounce`` process while clients keep it busy.

SIGTERM drains every worker: requests the workers accepted finish and carry
``Connection: close``, and the server exits 0. SIGHUP replaces every worker,
successor first, so a client that opens a fresh connection per request gets
no error. SIGTTIN and SIGTTOU add and remove one worker, down to one.
"""

from __future__ import annotations

import http.client
import signal
import threading
import time

import pytest
from runtime_apps import SLOW_MARKER
from runtime_client import ClientLoop, Outcome, Reply, request
from runtime_process import LOOPS, PounceRun, run_pounce, worker_processes

KINDS = ("thread", "process")

#: Errors a client may see for a connection that no worker accepted. It is
#: refused once the listening socket is closed. A connection that waited in
#: the kernel's accept queue until then is reset, which the client sees on
#: reading or, if the reset came first, on sending.
_NOT_ACCEPTED = ("ConnectionRefusedError", "ConnectionResetError", "BrokenPipeError")


def identities_between(outcomes: list[Outcome], start: float, end: float) -> set[str]:
    """Return the worker identities of responses to requests that ran inside [start, end]."""
    return {o.identity for o in outcomes if o.identity and start <= o.started and o.ended <= end}


def wait_for_workers(run: PounceRun, count: int, timeout: float = 15.0) -> set[int]:
    """Wait until the server has ``count`` worker processes; return their pids."""
    deadline = time.monotonic() + timeout
    pids = worker_processes(run.pid)
    while len(pids) != count and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = worker_processes(run.pid)
    assert len(pids) == count, f"expected {count} worker processes, found {sorted(pids)}"
    return pids


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_finishes_accepted_requests(kind: str) -> None:
    slow_replies: list[Reply | BaseException] = []

    def slow_request(port: int) -> None:
        try:
            slow_replies.append(request(port, "/slow?seconds=1.5", timeout=15))
        except (OSError, http.client.HTTPException) as exc:
            slow_replies.append(exc)

    with run_pounce("--workers", "2", "--worker-kind", kind) as run:
        slow = [threading.Thread(target=slow_request, args=(run.port,)) for _ in range(4)]
        with ClientLoop(run.port) as clients:
            clients.wait_for(20)
            mark = run.mark()
            for thread in slow:
                thread.start()
            # The app printed its marker: the worker accepted each request.
            run.wait_for_count(SLOW_MARKER, len(slow), since=mark)
            signalled = time.monotonic()
            run.send_signal(signal.SIGTERM)
            code = run.wait_exit()
        for thread in slow:
            thread.join(15)
        outcomes = clients.stop()
        log = run.text

    assert code == 0
    assert "shutdown: shutting down gracefully (SIGTERM received)" in log
    assert len(slow_replies) == len(slow)
    for reply in slow_replies:
        assert isinstance(reply, Reply), reply
        assert reply.status == 200
        # RFC 9112 section 9.6: a server that closes after a response sends
        # "Connection: close" in it.
        assert reply.headers.get("connection") == "close"

    assert all(o.ok for o in outcomes if o.ended < signalled)
    for outcome in outcomes:
        if outcome.error is not None:
            # Never a wrong or cut-off response, only a connection not accepted.
            assert outcome.error.startswith(_NOT_ACCEPTED), outcome


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("kind", KINDS)
def test_sighup_replaces_every_worker_without_failures(kind: str, loop: str) -> None:
    with run_pounce("--workers", "2", "--worker-kind", kind, "--loop", loop) as run:
        first = run.started_lines()
        with ClientLoop(run.port, max_seconds=20) as clients:
            clients.wait_for(20)
            mark = run.mark()
            signalled = time.monotonic()
            run.send_signal(signal.SIGHUP)
            run.wait_for(r"reload: new workers serving \(SIGHUP received\)", since=mark)
            # Once the old workers have stopped, every response comes from a new one.
            run.wait_for_count(r"worker \d: stopped", 2, since=mark)
            settled = time.monotonic()
            clients.wait_for(20)
        outcomes = clients.stop()
        second = run.started_lines(since=mark)
        code = run.stop()

    failures = [o for o in outcomes if not o.ok]
    assert failures == []
    assert sorted(line.slot for line in second) == [0, 1]
    assert {line.reason for line in second} == {"rolling restart"}
    if kind == "process":
        assert {line.pid for line in first}.isdisjoint(line.pid for line in second)
    old = identities_between(outcomes, 0.0, signalled)
    new = identities_between(outcomes, settled, float("inf"))
    assert old
    assert new
    assert old.isdisjoint(new)
    assert code == 0


@pytest.mark.parametrize("kind", KINDS)
def test_sigttin_sigttou_change_worker_count(kind: str) -> None:
    with run_pounce("--workers", "2", "--worker-kind", kind) as run:
        if kind == "process":
            wait_for_workers(run, 2)

        mark = run.mark()
        run.send_signal(signal.SIGTTIN)
        run.wait_for(r"workers: 2 -> 3", since=mark)
        run.wait_for(rf"worker 2: started \({kind}, pid \d+, SIGTTIN received\)", since=mark)
        if kind == "process":
            wait_for_workers(run, 3)
        assert request(run.port).status == 200

        mark = run.mark()
        run.send_signal(signal.SIGTTOU)
        run.wait_for(r"workers: 3 -> 2", since=mark)
        run.wait_for(r"worker 2: stopped", since=mark)
        run.send_signal(signal.SIGTTOU)
        run.wait_for(r"workers: 2 -> 1", since=mark)
        run.wait_for(r"worker 1: stopped", since=mark)
        if kind == "process":
            wait_for_workers(run, 1)

        # One is the minimum: another SIGTTOU changes nothing.
        mark = run.mark()
        run.send_signal(signal.SIGTTOU)
        run.wait_for(r"SIGTTOU ignored: one worker is the minimum", since=mark)
        identities = {request(run.port).body for _ in range(10)}
        if kind == "process":
            wait_for_workers(run, 1)
        code = run.stop()

    assert len(identities) == 1
    assert code == 0
