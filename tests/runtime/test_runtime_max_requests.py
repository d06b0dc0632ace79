"""``--limit-max-requests``: workers retire and are replaced while clients keep going."""

from __future__ import annotations

import re

import pytest
from runtime_client import ClientLoop
from runtime_process import LOOPS, run_pounce

KINDS = ("thread", "process")

#: The request limit of each worker; the supervisor adds up to a tenth more.
LIMIT = 20
#: Replacements to wait for: more than the two workers, so some retire twice
#: or the successors of the first retirements retire in turn.
REPLACEMENTS = 3


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("kind", KINDS)
def test_retired_workers_replaced_without_failures(kind: str, loop: str) -> None:
    options = ("--workers", "2", "--worker-kind", kind, "--loop", loop)
    with run_pounce(*options, "--limit-max-requests", str(LIMIT)) as run:
        mark = run.mark()
        with ClientLoop(run.port, max_seconds=30, pause=0.005) as clients:
            run.wait_for_count(
                rf"worker \d: started \({kind}, pid \d+, "
                r"replacing a worker that reached --limit-max-requests\)",
                REPLACEMENTS,
                since=mark,
                timeout=30,
            )
            run.wait_for_count(r"worker \d: stopped", REPLACEMENTS, since=mark, timeout=30)
            clients.wait_for(20)
        outcomes = clients.stop()
        log = run.text_since(mark)
        code = run.stop()

    failures = [o for o in outcomes if not o.ok]
    assert failures == []
    # Each retiring worker logs how many requests it served, which is at least the limit.
    served = [int(n) for n in re.findall(r"Worker served (\d+) requests", log)]
    assert len(served) >= REPLACEMENTS
    assert all(count >= LIMIT for count in served)
    # The successors served too: more identities than the first two workers.
    assert len({o.identity for o in outcomes}) > 2
    assert code == 0
