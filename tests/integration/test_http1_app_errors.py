"""Apps that fail: a 500 while nothing was sent, a cut connection after, and service goes on."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from http1_apps import AppFailure, failing_app
from http1_params import PARSERS
from http1_raw import RawConnection, wait_for
from worker_probes import workers_in_this_process


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("parser", PARSERS)
def test_exception_before_start_is_500(
    serve: Any, caplog: pytest.LogCaptureFixture, parser: str
) -> None:
    with serve(failing_app, http=parser) as running, httpx.Client(base_url=running.url) as client:
        response = client.get("/before-start")
        # The same connection goes on: a 500 is a complete response.
        after = client.get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert after.text == "ok"
    if not workers_in_this_process(running):
        return  # The records stay in the worker processes.
    errors = error_records(caplog)
    assert [record.name for record in errors] == ["pounce.bridge"]
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is AppFailure
    assert "/before-start" in errors[0].getMessage()


@pytest.mark.in_process("the test reads the workers' log records with caplog")
def test_exception_traceback_in_log_text(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    with serve(failing_app) as running:
        httpx.get(running.url + "/before-start")
    assert "AppFailure: failed before the response started" in caplog.text
    assert "Traceback" in caplog.text


def test_return_without_response_is_500(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    with serve(failing_app) as running:
        response = httpx.get(running.url + "/no-response")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    if workers_in_this_process(running):
        assert [record.name for record in error_records(caplog)] == ["pounce.bridge"]


@pytest.mark.parametrize("parser", PARSERS)
def test_exception_after_start_cuts_connection(
    serve: Any, caplog: pytest.LogCaptureFixture, parser: str
) -> None:
    with serve(failing_app, http=parser) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/after-start")
            received = conn.read_until_closed()
        # The head may have left before the failure. The end of the body must
        # not, because the client would take the response as complete.
        assert not received.endswith(b"0\r\n\r\n")
        assert received == b"" or received.startswith(b"HTTP/1.1 200 OK\r\n")
        if workers_in_this_process(running):
            assert wait_for(lambda: any(r.name == "pounce.bridge" for r in error_records(caplog)))
        assert httpx.get(running.url).text == "ok"


@pytest.mark.parametrize("parser", PARSERS)
def test_exception_mid_body_is_incomplete(
    serve: Any, caplog: pytest.LogCaptureFixture, parser: str
) -> None:
    with serve(failing_app, http=parser) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/mid-body")
            head = conn.read_head()
            rest = conn.read_until_closed()
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(running.url + "/mid-body")
        assert httpx.get(running.url).text == "ok"
    assert head.status == 200
    assert head.header("transfer-encoding") == "chunked"
    # The chunk that was sent arrives, and the last chunk never does.
    assert rest == b"8\r\npartial \r\n"
    if not workers_in_this_process(running):
        return  # The records stay in the worker processes.
    errors = error_records(caplog)
    assert errors
    assert all(record.name == "pounce.bridge" for record in errors)


def test_many_failures_leave_worker_serving(serve: Any) -> None:
    with serve(failing_app) as running, httpx.Client(base_url=running.url) as client:
        statuses = [client.get("/before-start").status_code for _ in range(50)]
        for _ in range(20):
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.get(running.url + "/mid-body")
        assert client.get("/").text == "ok"
    assert statuses == [500] * 50
