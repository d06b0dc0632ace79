"""The command line: flags built from ServerConfig, sources and precedence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pounce_cli.options import build_parser, collect_settings, server_options
from pounce_server import ConfigError, ServerConfig


def test_every_config_field_has_a_flag() -> None:
    fields = {f.name for f in dataclasses.fields(ServerConfig) if f.init}
    assert {option.name for option in server_options()} == fields


@pytest.mark.parametrize(
    "flag",
    [
        "--host",
        "--port",
        "--uds",
        "--fd",
        "--http",
        "--loop",
        "--lifespan",
        "--log-level",
        "--root-path",
        "--timeout-keep-alive",
        "--timeout-graceful-shutdown",
        "--limit-concurrency",
        "--header",
        "--no-server-header",
        "--no-date-header",
        "--no-access-log",
        "--factory",
        "--app-dir",
        "--version",
        "--timeout-header",
        "--limit-request-body",
    ],
)
def test_uvicorn_compatible_flags_exist(flag: str) -> None:
    assert flag in build_parser().format_help()


def test_flags_become_config_values(tmp_path: Path) -> None:
    command, values = collect_settings(
        [
            "main:app",
            "--port",
            "9001",
            "--no-access-log",
            "--header",
            "X-A: 1",
            "--header",
            "X-B:2",
            "--timeout-keep-alive",
            "2.5",
            "--factory",
        ],
        environ={},
        cwd=tmp_path,
    )
    assert command == {"app": "main:app", "factory": True}
    config = ServerConfig(**values)
    assert config.port == 9001
    assert config.access_log is False
    assert config.headers == (("X-A", "1"), ("X-B", "2"))
    assert config.timeout_keep_alive == 2.5


def test_flag_beats_environment_beats_file(tmp_path: Path) -> None:
    (tmp_path / "pounce.toml").write_text('port = 7000\nhost = "0.0.0.0"\nlog-level = "debug"\n')
    env = {"POUNCE_PORT": "7100", "POUNCE_HOST": "::1"}
    _, values = collect_settings(["main:app", "--port", "7200"], environ=env, cwd=tmp_path)
    assert values["port"] == 7200
    assert values["host"] == "::1"
    assert values["log_level"] == "debug"


def test_pyproject_tool_table_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.pounce]\napp = "main:app"\ntimeout-header = 3\n'
        '[tool.pounce.headers]\nx-served-by = "pounce"\n'
    )
    command, values = collect_settings([], environ={}, cwd=tmp_path)
    assert command["app"] == "main:app"
    assert values["timeout_header"] == 3
    assert values["headers"] == (("x-served-by", "pounce"),)


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        collect_settings(["main:app"], environ={"POUNCE_PORT": "eighty"}, cwd=tmp_path)
    assert "POUNCE_PORT" in str(info.value)
    assert "eighty" in str(info.value)


def test_unknown_file_setting_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "pounce.toml").write_text("prot = 80\n")
    with pytest.raises(ConfigError) as info:
        collect_settings(["main:app"], environ={}, cwd=tmp_path)
    assert "prot" in str(info.value)


def test_bad_flag_exits_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["main:app", "--port", "eighty"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--port" in err
    assert "eighty" in err


def test_header_variable_keeps_commas_in_values(tmp_path: Path) -> None:
    env = {"POUNCE_HEADERS": "Cache-Control: no-cache, no-store, X-Frame-Options: DENY"}
    _, values = collect_settings(["main:app"], environ=env, cwd=tmp_path)
    assert values["headers"] == (
        ("Cache-Control", "no-cache, no-store"),
        ("X-Frame-Options", "DENY"),
    )


def test_help_lists_choices() -> None:
    text = build_parser().format_help()
    assert "{auto,pounce,h11}" in text
    assert "{critical,error,warning,info,debug,trace}" in text
