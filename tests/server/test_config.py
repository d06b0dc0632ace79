"""ServerConfig: validation, derived values, and the option table."""

from __future__ import annotations

import dataclasses

import pytest

from pounce_server import ConfigError, ServerConfig
from pounce_server.config import available_cpus, max_workers


def test_defaults_are_valid() -> None:
    config = ServerConfig()
    assert config.host == "127.0.0.1"
    assert config.port == 8000
    assert config.http1_limits.max_request_line == config.limit_request_line
    assert config.http1_limits.max_body == config.limit_request_body


def test_config_is_frozen() -> None:
    config = ServerConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 9000  # type: ignore[misc]


def test_config_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        ServerConfig("0.0.0.0")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"port": 70000}, "port"),
        ({"port": -1}, "port"),
        ({"port": True}, "port"),
        ({"http": "httptools"}, "http"),
        ({"loop": "trio"}, "loop"),
        ({"lifespan": "maybe"}, "lifespan"),
        ({"log_level": "loud"}, "log_level"),
        ({"root_path": "api"}, "root_path"),
        ({"root_path": "/api/"}, "root_path"),
        ({"timeout_keep_alive": 0}, "timeout_keep_alive"),
        ({"timeout_header": float("nan")}, "timeout_header"),
        ({"limit_request_line": 0}, "limit_request_line"),
        ({"limit_request_head": 100, "limit_request_line": 200}, "limit_request_head"),
        ({"limit_concurrency": 0}, "limit_concurrency"),
        ({"backlog": 0}, "backlog"),
        ({"uds": "/tmp/x.sock", "fd": 3}, "uds"),
        ({"headers": (("bad name", "x"),)}, "header"),
        ({"headers": (("x-ok", "a\r\nb"),)}, "header"),
    ],
)
def test_invalid_values_name_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ServerConfig(**changes)  # type: ignore[arg-type]
    assert info.value.field == field
    assert field in str(info.value)


def test_extra_headers_are_encoded_once() -> None:
    config = ServerConfig(headers=(("X-Frame-Options", "DENY"),))
    assert config.encoded_headers == ((b"x-frame-options", b"DENY"),)


def test_zero_body_limit_means_unlimited() -> None:
    assert ServerConfig(limit_request_body=0).http1_limits.max_body is None


def test_replace_validates() -> None:
    config = ServerConfig()
    assert config.replace(port=9000).port == 9000
    with pytest.raises(ConfigError):
        config.replace(port=-5)


def test_every_field_is_documented() -> None:
    for field in dataclasses.fields(ServerConfig):
        if not field.init:
            continue
        assert field.metadata.get("help"), f"{field.name} has no help text"


def test_worker_count_has_an_upper_bound() -> None:
    # A typo such as 10000 must not start thousands of interpreters.
    with pytest.raises(ConfigError) as info:
        ServerConfig(workers=max_workers() + 1)
    assert "workers" in str(info.value)
    assert str(max_workers()) in str(info.value)
    assert ServerConfig(workers=max_workers()).workers == max_workers()


def test_zero_workers_means_one_per_cpu() -> None:
    assert ServerConfig(workers=0).worker_count() == available_cpus()
