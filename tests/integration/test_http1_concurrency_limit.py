"""limit_concurrency: past the limit a request gets 503 instead of queueing."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from http1_apps import connection_count, send_text
from http1_raw import RawConnection, wait_for


def gated_app(entered: threading.Event, gate: threading.Event) -> Any:
    """Return an app whose ``/slow`` waits for ``gate``; other paths respond at once."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            entered.set()
            await asyncio.get_running_loop().run_in_executor(None, gate.wait, 10)
        await send_text(send, 200, scope["path"].encode())

    return app


def test_second_connection_gets_503(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    entered, gate = threading.Event(), threading.Event()
    with serve(gated_app(entered, gate), limit_concurrency=1) as running:
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
        # Once the busy connection has gone, a new one is served again.
        assert wait_for(lambda: connection_count(running) == 0)
        with RawConnection(running.port) as later:
            later.request("GET", "/fast")
            served = later.read_response()
    assert rejected.status_line == "HTTP/1.1 503 Service Unavailable"
    assert rejected.header("connection") == "close"
    assert rest == b""
    assert slow.body == b"/slow"
    assert served.body == b"/fast"
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "pounce.worker" and r.levelno == logging.WARNING
    ]
    assert any("503" in line for line in warnings), warnings
