"""curl as the client, and the server on each event loop it supports."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from typing import Any

import httpx
import pytest
from http1_apps import demo_app
from worker_probes import workers_in_this_process, workers_of

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def run_curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "-s", "--max-time", "10", *args], capture_output=True, timeout=20, check=False
    )


@needs_curl
def test_curl_plain_get(serve: Any) -> None:
    with serve(demo_app) as running:
        result = run_curl("-i", running.url + "/")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nserver: pounce" in head.lower()
    assert body == b"hello"


@needs_curl
def test_curl_http10(serve: Any) -> None:
    with serve(demo_app) as running:
        result = run_curl("--http1.0", "-i", running.url + "/scope")
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(body)["http_version"] == "1.0"


@needs_curl
def test_curl_reuses_connection(serve: Any) -> None:
    """curl given two URLs sends both on one connection."""
    with serve(demo_app) as running:
        result = run_curl("-v", running.url + "/", running.url + "/echo", "--data-binary", "posted")
    trace = result.stderr.decode("latin-1")
    assert result.returncode == 0, trace
    # curl sends the body with both requests; "/" reads it and responds "hello".
    assert result.stdout == b"helloposted"
    assert "Re-using existing connection" in trace or "Reusing existing" in trace


def test_uvloop_loop(serve: Any) -> None:
    uvloop = pytest.importorskip("uvloop")
    with serve(demo_app, loop="uvloop") as running:
        if workers_in_this_process(running):
            loops = [worker.loop for worker in workers_of(running)]
            assert loops
            assert all(isinstance(loop, uvloop.Loop) for loop in loops), loops
        with httpx.Client(base_url=running.url) as client:
            assert client.get("/").text == "hello"
            assert client.post("/echo", content=b"x" * 100_000).content == b"x" * 100_000
            lines = list(client.get("/stream?50").iter_lines())
    assert lines == [f"chunk-{i}" for i in range(50)]


def test_asyncio_loop(serve: Any) -> None:
    with serve(demo_app, loop="asyncio") as running:
        if workers_in_this_process(running):
            loops = [worker.loop for worker in workers_of(running)]
            assert loops
            for loop in loops:
                assert type(loop).__module__.startswith("asyncio"), loop
                assert isinstance(loop, asyncio.AbstractEventLoop)
        with httpx.Client(base_url=running.url) as client:
            assert client.get("/").text == "hello"
            assert client.post("/echo", content=b"x" * 100_000).content == b"x" * 100_000
            lines = list(client.get("/stream?50").iter_lines())
    assert lines == [f"chunk-{i}" for i in range(50)]
