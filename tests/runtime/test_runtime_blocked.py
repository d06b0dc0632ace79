"""A worker whose event loop stops running: reported with its stack, then handled.

The app blocks its event loop with ``time.sleep`` in ``block_event_loop``.
With ``--worker-timeout 1`` the supervisor reports the worker with the stack
it is stuck in. A process worker is then killed and replaced. A thread
cannot be killed, so it is left to finish, and the supervisor reports when
its loop runs again. Meanwhile the other worker keeps serving.
"""

from __future__ import annotations

import http.client
import threading

import pytest
from runtime_apps import BLOCK_MARKER
from runtime_client import Reply, request
from runtime_process import run_pounce

#: How long ``/block`` sleeps, per worker kind. The report comes between 0.5
#: and 1.25 s after the loop stops (the last heartbeat may be up to 0.5 s
#: old, and the supervisor checks four times a second). A thread must still
#: be blocked then, with room for a busy machine. A process is killed first,
#: so its sleep only has to outlast the report by far.
BLOCK_SECONDS = {"thread": 4.0, "process": 30.0}

_BLOCKED = (
    r"worker (\d): event loop blocked for [\d.]+s \(--worker-timeout\); (.*)\. "
    r"It is stuck here:"
)


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_blocked_loop_reported_with_stack(kind: str) -> None:
    seconds = BLOCK_SECONDS[kind]
    outcome: list[Reply | BaseException] = []

    def blocked_request(port: int) -> None:
        try:
            outcome.append(request(port, f"/block?seconds={seconds}", timeout=seconds + 10))
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    options = ("--workers", "2", "--worker-kind", kind, "--worker-timeout", "1")
    with run_pounce(*options) as run:
        mark = run.mark()
        client = threading.Thread(target=blocked_request, args=(run.port,))
        client.start()
        run.wait_for(BLOCK_MARKER, since=mark)
        blocked = run.wait_for(_BLOCKED, since=mark)
        slot, action = blocked[1], blocked[2]
        # The other worker serves while this one is blocked.
        during = request(run.port)

        if kind == "process":
            run.wait_for(rf"worker {slot}: died unexpectedly \(pid \d+, killed by SIGKILL\)")
            run.wait_for(rf"worker {slot}: started \(process, pid \d+, restarting after a crash\)")
        else:
            run.wait_for(rf"worker {slot}: event loop running again after [\d.]+s", since=mark)
        client.join(seconds + 15)
        after = [request(run.port) for _ in range(5)]
        log = run.text_since(mark)
        code = run.stop()

    stack = log.partition(blocked.string)[2]
    assert "runtime_apps.py" in stack
    assert ", in block_event_loop\n" in stack
    assert during.status == 200
    assert all(reply.status == 200 for reply in after)
    assert len(outcome) == 1
    if kind == "process":
        assert action == "killing it; a new worker takes its place"
        # The killed worker never sent a response to the blocked request.
        assert isinstance(outcome[0], (OSError, http.client.HTTPException))
    else:
        assert action == "a thread cannot be stopped from outside, so it is left running"
        assert isinstance(outcome[0], Reply)
        assert outcome[0].status == 200
    assert code == 0
