"""Expect: 100-continue (RFC 9110 §10.1.1): the interim response waits for the app to read."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cross_process import FileEvent
from http1_apps import demo_app, late_body_app
from http1_params import PARSERS
from http1_raw import RawConnection
from reporting_apps import GatedEchoApp

CURL = shutil.which("curl")


@pytest.mark.parametrize("parser", PARSERS)
def test_continue_sent_when_app_reads(serve: Any, parser: str, tmp_path: Path) -> None:
    entered, gate = FileEvent(tmp_path / "entered"), FileEvent(tmp_path / "gate")
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"
    with (
        serve(GatedEchoApp(entered, gate), http=parser) as running,
        RawConnection(running.port) as conn,
    ):
        conn.send(head)
        try:
            assert entered.wait(5), "the app was not called for a request expecting 100"
            # The app has not asked for the body yet, so no 100 may be sent.
            assert conn.nothing_arrives(0.3)
        finally:
            gate.set()
        interim = conn.read_head()
        conn.send(b"hello world")
        response = conn.read_response()
        conn.request("GET", "/")
        assert conn.read_response().status == 200
    assert interim.status_line == "HTTP/1.1 100 Continue"
    assert response.status == 200
    assert response.body == b"hello world"


@pytest.mark.parametrize("parser", PARSERS)
def test_no_continue_when_app_ignores_body(serve: Any, parser: str) -> None:
    head = (
        b"POST /ignore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n"
    )
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(head)
        response = conn.read_head()
        # The Content-Length gives the size of the response body.
        length = int(response.header("content-length") or "0")
        body = conn.read_until_closed()
    assert response.status_line == "HTTP/1.1 200 OK"
    # The client never sent its body, so the connection cannot be reused.
    assert body == b"ignored"
    assert length == len(b"ignored")


@pytest.mark.parametrize("parser", PARSERS)
def test_no_continue_response_announces_close(serve: Any, parser: str) -> None:
    """RFC 9110 §10.1.1: a final response before the body announces whether the server closes."""
    head = (
        b"POST /ignore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n"
    )
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(head)
        response = conn.read_response()
        conn.read_until_closed()
    assert response.header("connection") == "close"


@pytest.mark.parametrize("parser", PARSERS)
def test_continue_body_sent_without_waiting(serve: Any, parser: str) -> None:
    """A client may send the body without waiting for 100; no stray 100 breaks the response."""
    request = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody"
    )
    with serve(demo_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(request)
        response = conn.read_response()
        conn.request("GET", "/")
        after = conn.read_response()
    assert response.body == b"body"
    assert after.body == b"hello"


@pytest.mark.parametrize("parser", PARSERS)
def test_no_continue_after_final_response(serve: Any, parser: str) -> None:
    """RFC 9110 §15.2: 1xx responses come before the final one, never inside its body."""
    head = b"POST /late HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
    with serve(late_body_app, http=parser) as running, RawConnection(running.port) as conn:
        conn.send(head)
        response = conn.read_head()
        # RFC 9110 §10.1.1: a client may send the body without a 100.
        conn.send(b"data")
        rest = conn.read_until_closed()
    assert response.status_line == "HTTP/1.1 200 OK"
    assert b"100 Continue" not in rest
    assert rest.startswith(b"8\r\nstarted;\r\n")
    assert b"got data" in rest


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
@pytest.mark.parametrize("parser", PARSERS)
def test_curl_expect_continue(serve: Any, parser: str, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    data = bytes(range(256)) * 400
    upload.write_bytes(data)
    with serve(demo_app, http=parser) as running:
        result = subprocess.run(
            [
                str(CURL),
                "-s",
                "-v",
                "--max-time",
                "20",
                "-H",
                "Expect: 100-continue",
                "--data-binary",
                f"@{upload}",
                "-o",
                str(tmp_path / "out.bin"),
                running.url + "/echo",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
    trace = result.stderr.decode("latin-1")
    assert result.returncode == 0, trace
    assert "< HTTP/1.1 100 Continue" in trace
    assert "< HTTP/1.1 200 OK" in trace
    assert (tmp_path / "out.bin").read_bytes() == data
