"""limit_concurrency: past the limit a request gets 503 instead of queueing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from cross_process import FileEvent
from http1_raw import RawConnection, RawResponse, wait_for
from reporting_apps import GatedApp
from worker_probes import workers_in_this_process


def fetch(port: int, path: str) -> RawResponse:
    """Send one GET on a new connection and return the response."""
    with RawConnection(port) as conn:
        conn.request("GET", path)
        return conn.read_response()


def test_second_connection_gets_503(
    serve: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    entered, gate = FileEvent(tmp_path / "entered"), FileEvent(tmp_path / "gate")
    # The limit applies per worker, so both connections must reach the same one.
    with serve(GatedApp(entered, gate), limit_concurrency=1, workers=1) as running:
        with RawConnection(running.port) as busy:
            busy.request("GET", "/slow")
            try:
                assert entered.wait(5), "the slow request never reached the app"
                with RawConnection(running.port) as second:
                    second.request("GET", "/fast")
                    rejected = second.read_response()
                    rest = second.read_until_closed()
            finally:
                gate.set()
            slow = busy.read_response()
        # Once the worker has seen the busy connection go, a new one is
        # served again; until then a new one may still get a 503.
        assert wait_for(lambda: fetch(running.port, "/fast").status == 200)
        served = fetch(running.port, "/fast")
    assert rejected.status_line == "HTTP/1.1 503 Service Unavailable"
    assert rejected.header("connection") == "close"
    assert rest == b""
    assert slow.body == b"/slow"
    assert served.body == b"/fast"
    if not workers_in_this_process(running):
        return  # The records stay in the worker process.
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "pounce.worker" and r.levelno == logging.WARNING
    ]
    assert any("503" in line for line in warnings), warnings
