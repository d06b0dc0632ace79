"""Binding: TCP on port 0, Unix sockets, inherited descriptors and SO_REUSEPORT copies."""

from __future__ import annotations

import os
import select
import socket
import stat
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from pounce_server import BindError, ServerConfig
from pounce_server.sockets import (
    Listener,
    bind_listeners,
    close_listeners,
    listen_copies,
    reuse_port_balances,
)


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


# SO_REUSEPORT: reserved ports and listening copies.

needs_reuse_port = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="this platform has no SO_REUSEPORT"
)


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def loopback_hosts() -> list[Any]:
    no_ipv6 = pytest.mark.skipif(
        not ipv6_loopback_available(), reason="this machine has no IPv6 loopback"
    )
    return ["127.0.0.1", pytest.param("::1", marks=no_ipv6)]


def bind_address(host: str) -> str:
    return f"[{host}]:0" if ":" in host else f"{host}:0"


def connect_and_accept(address: Any, family: int, copies: list[Listener]) -> int:
    """Open one connection to ``address`` and return the index of the copy that got it."""
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(address)
        ready, _, _ = select.select([copy.sock for copy in copies], [], [], 5)
        assert ready, "no copy received the connection within 5 seconds"
        index = next(i for i, copy in enumerate(copies) if copy.sock is ready[0])
        accepted, _ = copies[index].sock.accept()
        accepted.close()
    return index


@needs_reuse_port
def test_reserved_port_does_not_listen() -> None:
    listeners = bind_listeners(ServerConfig(bind=("127.0.0.1:0",), reuse_port=True), reserve=True)
    try:
        reserved = listeners[0]
        assert reserved.reserved
        assert reserved.address[1] > 0
        assert reserved.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert reserved.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(reserved.address, timeout=5).close()
    finally:
        close_listeners(listeners)


@needs_reuse_port
@pytest.mark.parametrize("host", loopback_hosts())
def test_two_copies_both_accept(host: str) -> None:
    listeners = bind_listeners(ServerConfig(bind=(bind_address(host),)), reserve=True)
    reserved = listeners[0]
    copies = [*listen_copies(listeners, 16), *listen_copies(listeners, 16)]
    try:
        assert copies[0] is not reserved
        assert copies[0].sock is not copies[1].sock
        for copy in copies:
            assert copy.owned_copy
            assert not copy.reserved
            assert copy.address == reserved.address
            assert copy.url == reserved.url
            assert copy.sock.getblocking() is False
            assert copy.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1

        # The kernel picks a copy by hashing each connection's addresses and
        # ports, so a few connections from fresh client ports reach both.
        seen = set()
        for _ in range(100):
            seen.add(connect_and_accept(reserved.address, reserved.family, copies))
            if len(seen) == 2:
                break
        assert seen == {0, 1}
    finally:
        close_listeners(copies)
        close_listeners(listeners)


@needs_reuse_port
@pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="only Linux spreads connections over SO_REUSEPORT sockets",
)
def test_connections_spread_over_copies() -> None:
    listeners = bind_listeners(ServerConfig(bind=("127.0.0.1:0",)), reserve=True)
    reserved = listeners[0]
    copies = [copy for _ in range(4) for copy in listen_copies(listeners, 16)]
    try:
        counts = [0, 0, 0, 0]
        for _ in range(200):
            counts[connect_and_accept(reserved.address, reserved.family, copies)] += 1
        assert sum(counts) == 200
        for index, count in enumerate(counts):
            assert count > 0, f"copy {index} got no connection: {counts}"
    finally:
        close_listeners(copies)
        close_listeners(listeners)


@needs_reuse_port
def test_closing_copies_and_reserve_frees_the_port() -> None:
    listeners = bind_listeners(ServerConfig(bind=("127.0.0.1:0",)), reserve=True)
    address = listeners[0].address
    copies = [copy for _ in range(2) for copy in listen_copies(listeners, 16)]

    def bind_plainly() -> None:
        # Neither SO_REUSEADDR nor SO_REUSEPORT: any socket left on the port blocks it.
        with socket.socket() as plain:
            plain.bind(address)
            plain.listen(1)

    close_listeners(listeners)
    close_listeners(copies[:1])
    with pytest.raises(OSError):
        bind_plainly()
    close_listeners(copies[1:])
    bind_plainly()


@needs_reuse_port
def test_unix_and_fd_listeners_are_shared(tmp_path: Path) -> None:
    path = tmp_path / "shared.sock"
    inherited = socket.socket()
    inherited.bind(("127.0.0.1", 0))
    fd = inherited.detach()
    config = ServerConfig(bind=(f"unix:{path}", f"fd://{fd}", "127.0.0.1:0"), reuse_port=True)
    listeners = bind_listeners(config, reserve=True)
    copies = listen_copies(listeners, 16)
    try:
        assert [listener.reserved for listener in listeners] == [False, False, True]
        assert copies[0] is listeners[0]
        assert copies[1] is listeners[1]
        assert copies[2] is not listeners[2]
        assert copies[2].owned_copy
        for listener in copies:
            assert listener.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    finally:
        close_listeners(copies)
        close_listeners(listeners)
    assert not path.exists()


def test_listening_tcp_listener_is_not_copied() -> None:
    listeners = bind_listeners(ServerConfig(bind=("127.0.0.1:0",)))
    try:
        assert listen_copies(listeners, 16) == listeners
        assert listen_copies(listeners, 16)[0] is listeners[0]
    finally:
        close_listeners(listeners)


@needs_reuse_port
def test_failed_copy_closes_the_others() -> None:
    listeners = bind_listeners(ServerConfig(bind=("127.0.0.1:0", "127.0.0.1:0")), reserve=True)
    # Another server takes the second port without SO_REUSEPORT, so its copy cannot bind.
    listeners[1].sock.close()
    intruder = socket.socket()
    intruder.bind(listeners[1].address)
    intruder.listen(1)
    before = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    try:
        with pytest.raises(BindError) as info:
            listen_copies(listeners, 16)
        assert "already in use" in str(info.value)
        if before is not None:
            assert set(os.listdir("/proc/self/fd")) == before
    finally:
        intruder.close()
        close_listeners(listeners)


def test_reserve_without_so_reuseport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(socket, "SO_REUSEPORT", raising=False)
    with pytest.raises(BindError) as info:
        bind_listeners(ServerConfig(port=0, reuse_port=True), reserve=True)
    message = str(info.value)
    assert "SO_REUSEPORT" in message
    assert "\n" not in message


def test_without_so_reuseport_workers_share_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    # The default requests per-worker sockets. A platform without them
    # falls back to one shared socket instead of failing.
    monkeypatch.delattr(socket, "SO_REUSEPORT", raising=False)
    assert not reuse_port_balances()
    listeners = bind_listeners(ServerConfig(port=0))
    try:
        assert len(listeners) == 1
        assert not listeners[0].reserved
    finally:
        close_listeners(listeners)


@needs_reuse_port
def test_reserve_reports_a_server_on_the_port() -> None:
    # The other server uses SO_REUSEPORT too, so only the probe bind can detect it.
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen(1)
    port = other.getsockname()[1]
    try:
        with pytest.raises(BindError) as info:
            bind_listeners(ServerConfig(bind=(f"127.0.0.1:{port}",)), reserve=True)
        assert f"127.0.0.1:{port} is already in use" in str(info.value)
    finally:
        other.close()


@needs_reuse_port
def test_reserve_takes_a_free_fixed_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listeners = bind_listeners(ServerConfig(bind=(f"127.0.0.1:{port}",)), reserve=True)
    copies = listen_copies(listeners, 16)
    try:
        assert listeners[0].address == ("127.0.0.1", port)
        assert connect_and_accept(("127.0.0.1", port), socket.AF_INET, copies) == 0
    finally:
        close_listeners(copies)
        close_listeners(listeners)
