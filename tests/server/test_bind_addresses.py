"""--bind: parsing addresses, binding several at once, and cleaning up on failure."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from pounce_server import BindError, ConfigError, ServerConfig
from pounce_server.addresses import (
    FdAddress,
    TCPAddress,
    UnixAddress,
    parse_address,
    parse_bind,
)
from pounce_server.sockets import (
    _is_dual_stack,
    _overlapping_entry,
    _Target,
    bind_listeners,
    close_listeners,
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


needs_ipv6 = pytest.mark.skipif(
    not ipv6_loopback_available(), reason="this machine has no IPv6 loopback"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def assert_accepts(sock: socket.socket) -> None:
    """Connect to a listening socket and accept the connection on it."""
    address = sock.getsockname()
    family = sock.family
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(address)
        sock.settimeout(5)
        try:
            accepted, _ = sock.accept()
        finally:
            sock.setblocking(False)
        accepted.close()


# Parsing.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8000", TCPAddress("127.0.0.1", 8000)),
        ("localhost:0", TCPAddress("localhost", 0)),
        ("0.0.0.0:65535", TCPAddress("0.0.0.0", 65535)),
        ("[::1]:8000", TCPAddress("::1", 8000)),
        ("[::]:80", TCPAddress("::", 80)),
        ("[fe80::1%eth0]:8000", TCPAddress("fe80::1%eth0", 8000)),
        ("unix:/run/pounce.sock", UnixAddress("/run/pounce.sock")),
        ("unix:relative.sock", UnixAddress("relative.sock")),
        ("fd://3", FdAddress(3)),
        ("fd://0", FdAddress(0)),
    ],
)
def test_valid_address_parses(text: str, expected: object) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (":8000", "the host is missing"),
        ("127.0.0.1", "the port is missing"),
        ("127.0.0.1:", "is not a number"),
        ("localhost:http", "is not a number"),
        ("127.0.0.1:-1", "is not a number"),
        ("127.0.0.1:\u0663", "is not a number"),
        ("127.0.0.1:65536", "out of range"),
        ("::1:8000", "must be in brackets"),
        ("[::1]", "the port is missing"),
        ("[::1]8000", "the port is missing"),
        ("[::1:8000", "closing ']' is missing"),
        ("[localhost]:80", "is not an IPv6 address"),
        ("[127.0.0.1]:80", "is not an IPv6 address"),
        ("local host:80", "is not a valid host name"),
        ("unix:", "the socket path is missing"),
        ("fd://", "non-negative integer"),
        ("fd://-1", "non-negative integer"),
        ("fd://three", "non-negative integer"),
        ("http://127.0.0.1:8000", "a URL is not an address"),
    ],
)
def test_invalid_address_is_rejected(text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_address(text)
    message = str(info.value)
    assert info.value.field == "bind"
    assert reason in message
    assert repr(text) in message
    assert "HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N" in message


def test_config_rejects_invalid_bind() -> None:
    with pytest.raises(ConfigError) as info:
        ServerConfig(bind=(":8000",))
    assert info.value.field == "bind"
    assert "0.0.0.0:8000" in str(info.value)


def test_config_rejects_bind_as_string() -> None:
    with pytest.raises(ConfigError) as info:
        ServerConfig(bind="127.0.0.1:8000")  # type: ignore[arg-type]
    assert "tuple of addresses" in str(info.value)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("127.0.0.1:8000", "127.0.0.1:8000"),
        ("[::1]:8000", "[0:0::1]:8000"),
        ("LocalHost:8000", "localhost:8000"),
        ("unix:pounce.sock", "unix:./pounce.sock"),
        ("fd://3", "fd://3"),
    ],
)
def test_same_address_twice_is_rejected(first: str, second: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_bind([first, second])
    assert "names the same address" in str(info.value)
    assert repr(second) in str(info.value)


def test_port_zero_twice_is_allowed() -> None:
    addresses = parse_bind(["127.0.0.1:0", "127.0.0.1:0"])
    assert addresses == [TCPAddress("127.0.0.1", 0), TCPAddress("127.0.0.1", 0)]


# Binding several addresses.


def test_bind_entries_are_bound_in_order(tmp_path: Path) -> None:
    path = tmp_path / "multi.sock"
    config = ServerConfig(bind=("127.0.0.1:0", f"unix:{path}", "127.0.0.1:0"))
    listeners = bind_listeners(config)
    try:
        assert len(listeners) == 3
        assert listeners[0].url.startswith("http://127.0.0.1:")
        assert listeners[1].url == f"unix:{path}"
        assert listeners[2].url.startswith("http://127.0.0.1:")
        assert listeners[0].url != listeners[2].url
        assert listeners[0].family == socket.AF_INET
        assert listeners[1].family == socket.AF_UNIX
        assert listeners[1].address == str(path)
        for listener in listeners:
            assert not listener.reserved
            assert not listener.owned_copy
            assert_accepts(listener.sock)
    finally:
        close_listeners(listeners)
    assert not path.exists()


def test_bind_replaces_host_and_port() -> None:
    config = ServerConfig(host="127.0.0.1", port=free_port(), bind=("127.0.0.1:0",))
    listeners = bind_listeners(config)
    try:
        assert len(listeners) == 1
        assert listeners[0].address[1] != config.port
    finally:
        close_listeners(listeners)


def test_bind_takes_an_inherited_descriptor() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    fd = sock.detach()
    listeners = bind_listeners(ServerConfig(bind=(f"fd://{fd}", "127.0.0.1:0")))
    try:
        assert listeners[0].url == f"http://127.0.0.1:{port}"
        assert listeners[0].sock.fileno() == fd
        assert_accepts(listeners[0].sock)
    finally:
        close_listeners(listeners)
    with pytest.raises(OSError):
        os.fstat(fd)


@needs_ipv6
def test_ipv6_and_ipv4_loopback_together() -> None:
    listeners = bind_listeners(ServerConfig(bind=("[::1]:0", "127.0.0.1:0")))
    try:
        assert listeners[0].url.startswith("http://[::1]:")
        assert listeners[0].family == socket.AF_INET6
        assert listeners[1].family == socket.AF_INET
        for listener in listeners:
            assert_accepts(listener.sock)
    finally:
        close_listeners(listeners)


@needs_ipv6
def test_specific_ipv6_address_is_ipv6_only() -> None:
    listeners = bind_listeners(ServerConfig(bind=("[::1]:0",)))
    try:
        sock = listeners[0].sock
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    finally:
        close_listeners(listeners)


@needs_ipv6
def test_ipv4_mapped_address_accepts_ipv4() -> None:
    listeners = bind_listeners(ServerConfig(bind=("[::ffff:127.0.0.1]:0",)))
    try:
        sock = listeners[0].sock
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        port = listeners[0].address[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            sock.settimeout(5)
            accepted, _ = sock.accept()
            accepted.close()
    finally:
        close_listeners(listeners)


def test_names_of_one_address_are_rejected() -> None:
    try:
        resolved = socket.getaddrinfo("localhost", 0, socket.AF_INET)[0][4][0]
    except OSError:
        pytest.skip("localhost does not resolve here")
    if resolved != "127.0.0.1":
        pytest.skip(f"localhost resolves to {resolved} here")
    port = free_port()
    config = ServerConfig(bind=(f"127.0.0.1:{port}", f"localhost:{port}"))
    with pytest.raises(BindError) as info:
        bind_listeners(config)
    assert "are the same address" in str(info.value)
    assert f"localhost:{port}" in str(info.value)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_failed_address_closes_the_bound_ones(tmp_path: Path) -> None:
    path = tmp_path / "first.sock"
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    busy_port = busy.getsockname()[1]
    config = ServerConfig(bind=("127.0.0.1:0", f"unix:{path}", f"127.0.0.1:{busy_port}"))
    try:
        before = open_fds()
        with pytest.raises(BindError) as info:
            bind_listeners(config)
        after = open_fds()
    finally:
        busy.close()
    assert f"127.0.0.1:{busy_port} is already in use" in str(info.value)
    assert not path.exists()
    assert after == before


def test_unresolvable_host_binds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_to_resolve(host: str, *args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # A stand-in resolver, so that the test sends no DNS query.
    monkeypatch.setattr(socket, "getaddrinfo", fail_to_resolve)
    path = tmp_path / "never.sock"
    config = ServerConfig(bind=(f"unix:{path}", "pounce-test-host:0"))
    with pytest.raises(BindError) as info:
        bind_listeners(config)
    assert "cannot resolve pounce-test-host:0" in str(info.value)
    assert not path.exists()


# The IPv6 wildcard and overlapping entries, decided without binding.


def target(host: str, port: int) -> _Target:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockaddr = (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)
    return _Target(TCPAddress(host, port), family, sockaddr)


def test_ipv6_wildcard_is_dual_stack() -> None:
    assert _is_dual_stack(target("::", 8000), ipv4_ports=set())
    assert _is_dual_stack(target("::", 8000), ipv4_ports={9000})


def test_ipv6_wildcard_leaves_ipv4_port_alone() -> None:
    assert not _is_dual_stack(target("::", 8000), ipv4_ports={8000})


def test_ipv6_wildcard_on_port_zero_is_dual_stack() -> None:
    assert _is_dual_stack(target("::", 0), ipv4_ports={0})


def test_specific_ipv6_is_not_dual_stack() -> None:
    assert not _is_dual_stack(target("::1", 8000), ipv4_ports=set())
    assert not _is_dual_stack(target("127.0.0.1", 8000), ipv4_ports=set())


def test_ipv4_mapped_is_dual_stack() -> None:
    assert _is_dual_stack(target("::ffff:127.0.0.1", 8000), ipv4_ports={8000})


def test_wildcard_overlaps_same_port() -> None:
    wildcard = target("0.0.0.0", 8000)
    assert _overlapping_entry(target("127.0.0.1", 8000), [wildcard]) == wildcard.address
    loopback = target("127.0.0.1", 8000)
    assert _overlapping_entry(target("0.0.0.0", 8000), [loopback]) == loopback.address


def test_overlap_needs_same_port_and_family() -> None:
    assert _overlapping_entry(target("127.0.0.1", 8000), [target("0.0.0.0", 9000)]) is None
    assert _overlapping_entry(target("127.0.0.1", 8000), [target("::", 8000)]) is None
    assert _overlapping_entry(target("127.0.0.1", 8000), [target("127.0.0.2", 8000)]) is None
    assert _overlapping_entry(target("0.0.0.0", 0), [target("0.0.0.0", 0)]) is None


# Unix socket permissions.


@pytest.mark.parametrize("permissions", ["600", "660", "666", "0640"])
def test_unix_socket_gets_the_configured_mode(tmp_path: Path, permissions: str) -> None:
    path = tmp_path / "mode.sock"
    listeners = bind_listeners(ServerConfig(uds=str(path), uds_permissions=permissions))
    try:
        assert stat.S_IMODE(path.stat().st_mode) == int(permissions, 8)
    finally:
        close_listeners(listeners)


def test_bind_unix_socket_gets_the_configured_mode(tmp_path: Path) -> None:
    path = tmp_path / "bound.sock"
    config = ServerConfig(bind=(f"unix:{path}",), uds_permissions="620")
    listeners = bind_listeners(config)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o620
    finally:
        close_listeners(listeners)


def test_unix_socket_mode_ignores_umask(tmp_path: Path) -> None:
    path = tmp_path / "umask.sock"
    previous = os.umask(0o077)
    try:
        listeners = bind_listeners(ServerConfig(uds=str(path)))
    finally:
        os.umask(previous)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666
    finally:
        close_listeners(listeners)


def test_host_and_port_beside_bind_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    from pounce_server import Server

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never served")

    server = Server(app, ServerConfig(bind=("127.0.0.1:0",), port=9000))
    with caplog.at_level("WARNING", logger="pounce.server"):
        server.configure()
    assert any("--host and --port are ignored" in r.getMessage() for r in caplog.records)


def test_bind_alone_is_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    from pounce_server import Server

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never served")

    server = Server(app, ServerConfig(bind=("127.0.0.1:0",)))
    with caplog.at_level("WARNING", logger="pounce.server"):
        server.configure()
    assert not [r for r in caplog.records if "--bind" in r.getMessage()]
