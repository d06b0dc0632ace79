"""Binding: TCP on port 0, Unix domain sockets and inherited descriptors."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from pounce_server import BindError, ServerConfig
from pounce_server.sockets import bind_listeners, close_listeners


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = f"server={scope['server']!r} client={scope['client']!r}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_port_zero_reports_the_bound_port(serve: Any) -> None:
    with serve(hello) as running:
        assert running.port > 0
        response = httpx.get(running.url + "/")
        assert response.status_code == 200
        assert f"server=('127.0.0.1', {running.port})" in response.text


def test_unix_socket_serves_and_is_removed(serve: Any, tmp_path: Path) -> None:
    path = tmp_path / "pounce.sock"
    with serve(hello, uds=str(path)) as running:
        assert running.url == f"unix:{path}"
        assert stat.S_ISSOCK(path.stat().st_mode)
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url="http://localhost") as client:
            response = client.get("/")
        assert response.status_code == 200
        assert "client=None" in response.text
    assert not path.exists()


def test_stale_unix_socket_file_is_replaced(serve: Any, tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    with serve(hello, uds=str(path)):
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url="http://localhost") as client:
            assert client.get("/").status_code == 200


def test_regular_file_at_socket_path_is_not_removed(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("keep me")
    with pytest.raises(BindError) as info:
        bind_listeners(ServerConfig(uds=str(path)))
    assert "is not a socket" in str(info.value)
    assert path.read_text() == "keep me"


def test_live_unix_socket_is_not_taken_over(serve: Any, tmp_path: Path) -> None:
    path = tmp_path / "live.sock"
    with serve(hello, uds=str(path)):
        with pytest.raises(BindError) as info:
            bind_listeners(ServerConfig(uds=str(path)))
        assert "in use by a running server" in str(info.value)
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url="http://localhost") as client:
            assert client.get("/").status_code == 200


def test_socket_file_of_another_server_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "swap.sock"
    listeners = bind_listeners(ServerConfig(uds=str(path)))
    # Another server replaced the file after a crash of ours.
    os.unlink(path)
    other = socket.socket(socket.AF_UNIX)
    other.bind(str(path))
    try:
        close_listeners(listeners)
        assert stat.S_ISSOCK(path.stat().st_mode)
    finally:
        other.close()


def test_inherited_descriptor_is_served(serve: Any) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    fd = sock.detach()  # the server owns the descriptor from here on
    with serve(hello, fd=fd) as running:
        assert running.port == port
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    with pytest.raises(OSError):
        os.fstat(fd)  # closed by the server on shutdown


def test_descriptor_that_is_not_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text("")
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(BindError) as info:
            bind_listeners(ServerConfig(fd=fd))
        assert str(fd) in str(info.value)
    finally:
        os.close(fd)


def test_ipv6_loopback(serve: Any) -> None:
    if not socket.has_ipv6:
        pytest.skip("this system has no IPv6")
    try:
        listeners = bind_listeners(ServerConfig(host="::1", port=0))
    except BindError as exc:
        pytest.skip(f"::1 is not available here: {exc}")
    close_listeners(listeners)
    with serve(hello, host="::1") as running:
        assert running.url.startswith("http://[::1]:")
        assert httpx.get(running.url + "/").status_code == 200
