"""The access log: one line per response on ``pounce.access``, none when it is off."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from http1_apps import demo_app
from http1_raw import RawConnection, wait_for

pytestmark = pytest.mark.in_process("the tests read the workers' log records with caplog")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "pounce.access"]


def test_access_log_line(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    with serve(demo_app, log_level="info") as running, httpx.Client(base_url=running.url) as client:
        client.get("/hello?x=1")
        port = client.get("/scope").json()["client_port"]
        # The line is written after the response leaves, so wait for it.
        assert wait_for(lambda: len(access_lines(caplog)) == 2)
    first = access_lines(caplog)[0]
    pattern = rf'^127\.0\.0\.1:{port} - "GET /hello\?x=1 HTTP/1\.1" 200 5 [0-9.]+ms$'
    assert re.match(pattern, first), first


def test_access_log_status_and_version(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    with serve(demo_app, log_level="info") as running:
        with RawConnection(running.port) as conn:
            conn.send(b"POST /echo HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd")
            assert conn.read_response().body == b"abcd"
        with RawConnection(running.port) as conn:
            conn.request("GET", "/status/404")
            assert conn.read_response().status == 404
        assert wait_for(lambda: len(access_lines(caplog)) == 2)
    lines = access_lines(caplog)
    assert '"POST /echo HTTP/1.0" 200 4 ' in lines[0]
    assert '"GET /status/404 HTTP/1.1" 404 0 ' in lines[1]


def test_access_log_off(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    with (
        serve(demo_app, log_level="info", access_log=False) as running,
        httpx.Client(base_url=running.url) as client,
    ):
        for _ in range(3):
            assert client.get("/").status_code == 200
    # Each line would be written before the next request is read, so two
    # completed requests after the first prove its line was never written.
    assert access_lines(caplog) == []


def test_access_log_silenced_by_level(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    with (
        serve(demo_app, log_level="warning") as running,
        httpx.Client(base_url=running.url) as client,
    ):
        for _ in range(3):
            assert client.get("/").status_code == 200
    assert access_lines(caplog) == []


def test_access_log_head_counts_no_body(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    with serve(demo_app, log_level="info") as running, httpx.Client(base_url=running.url) as client:
        assert client.head("/hello").status_code == 200
        assert client.get("/hello").status_code == 200
        assert wait_for(lambda: len(access_lines(caplog)) == 2)
    head_line, get_line = access_lines(caplog)
    assert '"HEAD /hello HTTP/1.1" 200 0 ' in head_line
    assert '"GET /hello HTTP/1.1" 200 5 ' in get_line


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_access_log_duration_resolution(
    serve: Any, caplog: pytest.LogCaptureFixture, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")

    async def slowish(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(0.0125)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serve(slowish, log_level="info", loop=loop) as running:
        for _ in range(5):
            assert httpx.get(running.url + "/").status_code == 200
        assert wait_for(lambda: len(access_lines(caplog)) == 5)
    durations = [float(line.rpartition(" ")[2].removesuffix("ms")) for line in access_lines(caplog)]
    assert all(duration >= 10 for duration in durations), durations
    # A clock with millisecond ticks gives whole numbers (as uvloop's does);
    # five of them in a row from a finer clock would be a 1 in 100,000 chance.
    assert any(duration != int(duration) for duration in durations), durations
