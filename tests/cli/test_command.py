"""The pounce command run as a real process: startup errors and exit codes."""

from __future__ import annotations

import errno
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pounce_server import EXIT_APP_LOAD, EXIT_BIND, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from pounce_server.sockets import _describe_bind_error


def run_pounce(
    *args: str, cwd: Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pounce", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("pounce: error:")]


def test_version_prints_and_exits_zero() -> None:
    result = run_pounce("--version")
    assert result.returncode == EXIT_OK
    assert result.stdout.startswith("pounce ")


def test_missing_app_is_a_usage_error() -> None:
    result = run_pounce()
    assert result.returncode == EXIT_CONFIG
    assert "missing APP" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_flag_value_exits_two() -> None:
    result = run_pounce("main:app", "--port", "eighty")
    assert result.returncode == EXIT_CONFIG
    assert len(error_lines(result)) == 1
    assert "eighty" in result.stderr


def test_invalid_config_value_exits_two() -> None:
    result = run_pounce("main:app", "--port", "70000")
    assert result.returncode == EXIT_CONFIG
    assert "70000" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("no_such_module_here:app", "module 'no_such_module_here' not found"),
        ("json:no_such_attribute", "attribute 'no_such_attribute' not found"),
        ("json:__name__", "not an ASGI callable"),
        ("json", "expected 'module:attribute'"),
    ],
)
def test_app_load_errors_exit_three(spec: str, expected: str, tmp_path: Path) -> None:
    result = run_pounce(spec, cwd=tmp_path)
    assert result.returncode == EXIT_APP_LOAD
    assert len(error_lines(result)) == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_import_error_inside_app_module(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import not_installed_anywhere\napp = None\n")
    result = run_pounce("broken:app", cwd=tmp_path)
    assert result.returncode == EXIT_APP_LOAD
    assert "not_installed_anywhere" in result.stderr


def test_factory_hint_when_flag_missing(tmp_path: Path) -> None:
    (tmp_path / "made.py").write_text(
        "def create():\n    async def app(s, r, w):\n        pass\n    return app\n"
    )
    result = run_pounce("made:create", cwd=tmp_path)
    assert result.returncode == EXIT_APP_LOAD
    assert "--factory" in result.stderr


def test_port_in_use_exits_four() -> None:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        result = run_pounce("pounce.demo:app", "--port", str(port))
    finally:
        holder.close()
    assert result.returncode == EXIT_BIND
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_permission_denied_message() -> None:
    # Root may bind anything, so the mapping is checked on the error itself.
    message = _describe_bind_error(OSError(errno.EACCES, "Permission denied"), "0.0.0.0:80", 80)
    assert "permission denied" in message
    assert "1024" in message


def test_lifespan_startup_failure_exits_one(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] == 'lifespan':\n"
        "        await receive()\n"
        "        await send({'type': 'lifespan.startup.failed', 'message': 'database is down'})\n"
    )
    result = run_pounce("failing:app", "--port", "0", cwd=tmp_path)
    assert result.returncode == EXIT_FAILURE
    assert "database is down" in result.stderr
    assert "Traceback" not in result.stderr


def test_serves_demo_and_stops_on_sigint(pounce_process) -> None:  # type: ignore[no-untyped-def]
    with pounce_process("pounce.demo:app") as running:
        response = httpx.get(running.url + "/")
        assert response.status_code == 200
        assert "Pounce is serving" in response.text
        assert response.headers["server"] == "pounce"
        assert "date" in response.headers
        code = running.stop(signal.SIGINT)
    assert code == EXIT_OK
    log = "".join(running.log)
    assert "shutdown: complete" in log
    assert "GIL" in log


def test_sigterm_exits_zero(pounce_process) -> None:  # type: ignore[no-untyped-def]
    with pounce_process("pounce.demo:app", "--no-access-log") as running:
        assert httpx.get(running.url + "/headers").status_code == 200
        assert running.stop(signal.SIGTERM) == EXIT_OK


def test_range_error_names_flag_and_variable() -> None:
    result = run_pounce("main:app", "--timeout-keep-alive", "-1")
    assert result.returncode == EXIT_CONFIG
    assert "--timeout-keep-alive" in result.stderr
    assert "POUNCE_TIMEOUT_KEEP_ALIVE" in result.stderr


def test_import_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "raises.py").write_text("x = 1\nraise RuntimeError('boom at import')\n")
    result = run_pounce("raises:app", cwd=tmp_path)
    assert result.returncode == EXIT_APP_LOAD
    assert "raises.py:2" in result.stderr
    assert "boom at import" in result.stderr


def test_missing_app_dir_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_pounce("main:app", "--app-dir", str(missing))
    assert result.returncode == EXIT_APP_LOAD
    assert f"app directory '{missing}' does not exist" in result.stderr
