"""Graceful shutdown: in-flight requests finish, idle connections close, the rest is cancelled."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cross_process import FileEvent, FileQueue
from http1_raw import RawConnection
from reporting_apps import SleepingApp, StragglerApp


def sleeping_app(tmp_path: Path, delay: float) -> SleepingApp:
    """Return an app whose ``/slow`` sleeps ``delay`` seconds and reports how it ended."""
    return SleepingApp(FileEvent(tmp_path / "entered"), FileQueue(tmp_path / "outcome"), delay)


def refused_within(port: int, seconds: float) -> bool:
    """Connect until the server refuses a connection; return whether it did in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            RawConnection(port, timeout=1).close()
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:
            # The handshake completed just before the listening socket
            # closed, and closing it reset the connections not yet accepted.
            pass
        time.sleep(0.02)
    return False


def test_in_flight_request_completes(serve: Any, tmp_path: Path) -> None:
    app = sleeping_app(tmp_path, 1.0)
    with serve(app) as running:
        with RawConnection(running.port) as conn:
            conn.request("GET", "/slow")
            assert app.entered.wait(5)
            running.server.shutdown()
            response = conn.read_response()
            rest = conn.read_until_closed()
        assert running.server.wait_stopped(10)
    assert app.outcome.get(timeout=1) == "finished"
    assert response.status == 200
    assert response.body == b"slow done"
    # RFC 9112 §9.6: the response announces that the server closes the connection.
    assert response.header("connection") == "close"
    assert rest == b""


def test_idle_connections_closed(serve: Any, tmp_path: Path) -> None:
    app = sleeping_app(tmp_path, 1.0)
    with serve(app, timeout_keep_alive=30.0) as running:
        with RawConnection(running.port) as idle, RawConnection(running.port) as silent:
            idle.request("GET", "/")
            assert idle.read_response().body == b"quick"
            running.server.shutdown()
            assert idle.read_until_closed(timeout=5) == b""
            assert silent.read_until_closed(timeout=5) == b""
        assert running.server.wait_stopped(10)


def test_no_new_connections_while_draining(serve: Any, tmp_path: Path) -> None:
    app = sleeping_app(tmp_path, 1.0)
    with serve(app) as running, RawConnection(running.port) as conn:
        conn.request("GET", "/slow")
        assert app.entered.wait(5)
        running.server.shutdown()
        # The listening socket is closed once shutdown begins.
        assert refused_within(running.port, seconds=1.0)
        assert conn.read_response().body == b"slow done"


def test_straggler_cancelled_after_grace_period(serve: Any, tmp_path: Path) -> None:
    app = sleeping_app(tmp_path, 30.0)
    with (
        serve(app, timeout_graceful_shutdown=1.0) as running,
        RawConnection(running.port) as conn,
    ):
        conn.request("GET", "/slow")
        assert app.entered.wait(5)
        running.server.shutdown()
        assert running.server.wait_stopped(8), "shutdown did not finish after the grace period"
        received = conn.read_until_closed(timeout=5)
    assert app.outcome.get(timeout=1) == "cancelled"
    assert received == b""


def test_straggler_waiting_on_receive_hears_disconnect(serve: Any, tmp_path: Path) -> None:
    app = StragglerApp(FileEvent(tmp_path / "entered"), FileQueue(tmp_path / "outcome"))
    with serve(app, timeout_graceful_shutdown=1.0) as running, RawConnection(running.port) as conn:
        conn.request("POST", "/poll", body=b"x")
        assert app.entered.wait(5)
        running.server.shutdown()
        assert running.server.wait_stopped(8)
    assert app.outcome.get(timeout=1) in ("http.disconnect", "cancelled")
