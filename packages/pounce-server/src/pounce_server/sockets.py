"""BIND: create the listening sockets before any worker starts.

Sockets are made here rather than by ``loop.create_server`` so that binding
errors surface once, as one clear line, and so that later workers (threads or
processes) can share the very same listening sockets.

Theory of operation:

- ``bind_listeners`` makes one ``Listener`` per configured address: each
  ``--bind`` entry in order, or else the single address that ``--fd``,
  ``--uds`` or ``--host``/``--port`` names. Every TCP socket gets
  SO_REUSEADDR, so that a restart can bind while old connections linger in
  TIME_WAIT.
- All host names are resolved before the first bind, so that two spellings
  of one address are reported as such and a name that does not resolve
  leaves nothing bound. If a later bind fails, the sockets already bound are
  closed and their Unix socket files removed before the ``BindError`` for
  the failing address is raised.
- SO_REUSEPORT mode takes two steps. ``bind_listeners(config, reserve=True)``
  binds each TCP address with SO_REUSEPORT but does not call ``listen()``.
  Before that, a plain bind without SO_REUSEPORT checks that no server is
  already on the port, because SO_REUSEPORT would let both share it. The
  reserve only reserves the port (and turns port 0 into a real number),
  and since the kernel hands connections to listening sockets only, none
  ever waits in a queue of the reserve. ``listen_copies`` then makes, for
  each worker, a new socket on the same address that does listen. On Linux
  (3.9 and later) the kernel spreads new connections over all listening
  sockets of one address by a hash of each connection's addresses and
  ports. Unix and inherited sockets cannot be split that way, so they
  listen at once and all workers share them.

NOTE: other systems accept SO_REUSEPORT as well, but their kernels may not
spread connections (FreeBSD has a separate SO_REUSEPORT_LB for that). The
tests check the spreading on Linux only.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import stat
import sys
from dataclasses import dataclass, field
from typing import Any

from .addresses import Address, FdAddress, TCPAddress, UnixAddress, parse_bind
from .config import ServerConfig
from .errors import BindError

__all__ = [
    "Listener",
    "SocketAddress",
    "bind_listeners",
    "close_listeners",
    "listen_copies",
    "reuse_port_balances",
]

#: The result of ``socket.getsockname()``: (host, port) for IPv4, (host, port,
#: flowinfo, scope_id) for IPv6, and a path for a Unix socket.
SocketAddress = tuple[str, int] | tuple[str, int, int, int] | str | bytes


@dataclass(frozen=True, slots=True)
class Listener:
    """A bound socket and the URL a browser would use for it.

    The socket listens unless ``reserved`` is set. ``family`` and ``address``
    are read from the socket when the listener is made.
    """

    sock: socket.socket
    url: str
    #: For a Unix socket created by us: the path to remove on shutdown.
    unlink_path: str | None = None
    #: (device, inode) of that socket file, so that a file another server
    #: has since put at the same path is left alone.
    unlink_identity: tuple[int, int] | None = None
    #: A TCP socket bound with SO_REUSEPORT that does not listen: it only
    #: reserves the port for the copies that ``listen_copies`` makes.
    reserved: bool = field(default=False, kw_only=True)
    #: A listening copy made by ``listen_copies``. The caller of
    #: ``listen_copies`` closes it, and the reserved listener stays open.
    owned_copy: bool = field(default=False, kw_only=True)
    #: The socket's address family, such as ``socket.AF_INET6``.
    family: socket.AddressFamily = field(init=False)
    #: The address the socket is bound to, with port 0 replaced by the real port.
    address: SocketAddress = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", self.sock.family)
        object.__setattr__(self, "address", self.sock.getsockname())


def reuse_port_balances() -> bool:
    """Return whether SO_REUSEPORT spreads connections over the sockets that share a port.

    Linux hashes each new connection to one socket of the group. Other
    systems accept the option but may hand every connection to one socket,
    so there the workers share one socket instead.
    """
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind_listeners(config: ServerConfig, *, reserve: bool = False) -> list[Listener]:
    """Create one socket for each address the configuration names, in order.

    With ``reserve``, TCP sockets are bound with SO_REUSEPORT and do not
    listen. ``listen_copies`` turns them into sockets a worker can serve.
    Unix and inherited sockets listen either way.

    Raises ``ConfigError`` for an invalid ``--bind`` value and ``BindError``
    for an address that cannot be bound.
    """
    if reserve and not hasattr(socket, "SO_REUSEPORT"):
        raise BindError(
            "--reuse-port needs SO_REUSEPORT, which this platform lacks; remove --reuse-port"
        )
    addresses = _configured_addresses(config)
    targets = _resolve_all(addresses)
    ipv4_ports = {target.port for target in targets.values() if target.family == socket.AF_INET}
    mode = int(config.uds_permissions, 8)

    listeners: list[Listener] = []
    try:
        for index, address in enumerate(addresses):
            if isinstance(address, TCPAddress):
                target = targets[index]
                listener = _bind_tcp(
                    target,
                    dual_stack=_is_dual_stack(target, ipv4_ports),
                    reserve=reserve,
                    backlog=config.backlog,
                    overlap=_overlapping_entry(target, [targets[i] for i in targets if i < index]),
                )
            elif isinstance(address, UnixAddress):
                listener = _bind_unix(address.path, config.backlog, mode)
            else:
                listener = _from_fd(address.fd, config.backlog)
            listeners.append(listener)
    except BaseException:
        close_listeners(listeners)
        raise
    return listeners


def listen_copies(listeners: list[Listener], backlog: int) -> list[Listener]:
    """Return the listeners one worker serves: a listening copy of each reserved one.

    A copy is a new socket with SO_REUSEADDR and SO_REUSEPORT, bound to the
    reserved socket's address and listening, marked ``owned_copy``. Every
    listener that is not reserved is returned as it is. If one copy fails,
    the copies made so far are closed before ``BindError`` is raised.
    """
    result: list[Listener] = []
    try:
        for listener in listeners:
            result.append(_listen_copy(listener, backlog) if listener.reserved else listener)
    except BaseException:
        close_listeners([listener for listener in result if listener.owned_copy])
        raise
    return result


def close_listeners(listeners: list[Listener]) -> None:
    """Close the sockets and remove the Unix socket files this server created."""
    for listener in listeners:
        listener.sock.close()
        if listener.unlink_path is not None:
            _unlink_if_ours(listener.unlink_path, listener.unlink_identity)


def _configured_addresses(config: ServerConfig) -> list[Address]:
    if config.bind:
        return parse_bind(config.bind)
    if config.fd is not None:
        return [FdAddress(config.fd)]
    if config.uds is not None:
        return [UnixAddress(config.uds)]
    return [TCPAddress(config.host, config.port)]


@dataclass(frozen=True, slots=True)
class _Target:
    """A TCP address from the configuration and the socket address it resolved to."""

    address: TCPAddress
    family: socket.AddressFamily
    sockaddr: Any

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self.sockaddr[0])

    @property
    def port(self) -> int:
        return self.address.port


def _resolve_all(addresses: list[Address]) -> dict[int, _Target]:
    """Resolve each TCP address to a socket address, keyed by its position.

    A host name takes its first IPv4 address, as ``bind`` on an IPv4 socket
    would. Two entries that resolve to the same address and port (other
    than port 0) raise ``BindError``.
    """
    targets: dict[int, _Target] = {}
    seen: dict[tuple[str, int], TCPAddress] = {}
    for index, address in enumerate(addresses):
        if not isinstance(address, TCPAddress):
            continue
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        try:
            infos = socket.getaddrinfo(address.host, address.port, family, socket.SOCK_STREAM)
        except OSError as exc:
            raise BindError(_describe_bind_error(exc, str(address), address.port)) from None
        target = _Target(address, family, infos[0][4])
        targets[index] = target

        if target.port == 0:
            continue
        key = (target.ip.compressed, target.port)
        if key in seen:
            raise BindError(
                f"{seen[key]} and {address} are the same address "
                f"({TCPAddress(*key)}); remove one of them"
            )
        seen[key] = address
    return targets


def _is_dual_stack(target: _Target, ipv4_ports: set[int]) -> bool:
    """Decide whether an IPv6 socket also accepts IPv4 connections.

    "::" serves both families where the system allows it, unless an IPv4
    address on the same port is also configured: then "::" keeps to IPv6
    so that both can bind. An IPv4-mapped address (::ffff:a.b.c.d) needs
    dual-stack to bind at all. Every other IPv6 address is IPv6 only.
    """
    ip = target.ip
    if not isinstance(ip, ipaddress.IPv6Address):
        return False
    if ip.ipv4_mapped is not None:
        return True
    return ip.is_unspecified and (target.port == 0 or target.port not in ipv4_ports)


def _overlapping_entry(target: _Target, earlier: list[_Target]) -> TCPAddress | None:
    """Find an earlier entry that the kernel will not let this one share a port with.

    Two sockets of one family on one port conflict when either is bound to
    the wildcard address (0.0.0.0 or ::). Naming that entry in the error
    beats blaming another server.
    """
    if target.port == 0:
        return None
    for other in earlier:
        if other.family != target.family or other.port != target.port:
            continue
        if target.ip.is_unspecified or other.ip.is_unspecified:
            return other.address
    return None


def _bind_tcp(
    target: _Target,
    *,
    dual_stack: bool,
    reserve: bool,
    backlog: int,
    overlap: TCPAddress | None,
) -> Listener:
    address = target.address
    family = target.family
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reserve and target.port != 0:
            _probe_port(family, target.sockaddr, dual_stack=dual_stack)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reserve:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
        sock.bind(target.sockaddr)
        if not reserve:
            sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE and overlap is not None:
            raise BindError(
                f"address {address} overlaps {overlap}, given earlier on the same port; "
                "remove one of them"
            ) from None
        raise BindError(_describe_bind_error(exc, str(address), address.port)) from None
    sock.setblocking(False)
    return Listener(sock=sock, url=_tcp_url(sock), reserved=reserve)


def _probe_port(family: socket.AddressFamily, sockaddr: Any, *, dual_stack: bool) -> None:
    """Bind and close a socket without SO_REUSEPORT, to find a server already on the port.

    With SO_REUSEPORT, the kernel lets a socket join any other SO_REUSEPORT
    socket of the same user on that address, so a second server started by
    mistake would silently take a share of the first one's connections.
    This plain bind fails with EADDRINUSE instead. Another server could
    still take the port between the probe and the real bind.
    """
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
        probe.bind(sockaddr)


def _listen_copy(reserved: Listener, backlog: int) -> Listener:
    sock = socket.socket(reserved.family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if reserved.family == socket.AF_INET6:
            # A copy must accept the same address families as its reserve,
            # so it takes the reserve's IPv6-only setting.
            v6only = reserved.sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        sock.bind(reserved.address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        where = reserved.url.removeprefix("http://")
        raise BindError(_describe_bind_error(exc, where, None)) from None
    sock.setblocking(False)
    return Listener(sock=sock, url=reserved.url, owned_copy=True)


def _tcp_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    url_host = f"[{host}]" if sock.family == socket.AF_INET6 else host
    return f"http://{url_host}:{port}"


def _bind_unix(path: str, backlog: int, mode: int) -> Listener:
    if not hasattr(socket, "AF_UNIX"):
        raise BindError(f"unix:{path} needs Unix domain sockets, which this platform lacks")
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    created = False
    try:
        sock.bind(path)
        created = True
        # The mode is set before listen(): until then every connect() fails,
        # so no client gets in under the mode that the umask gave the file.
        os.chmod(path, mode)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if created:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if exc.errno == errno.EADDRINUSE:
            raise BindError(
                f"{path} already exists; remove it or choose another socket path"
            ) from None
        raise BindError(_describe_bind_error(exc, path, None)) from None
    sock.setblocking(False)
    identity = os.stat(path)
    return Listener(
        sock=sock,
        url=f"unix:{path}",
        unlink_path=path,
        unlink_identity=(identity.st_dev, identity.st_ino),
    )


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file left by a server that is gone; keep anything else.

    A socket file blocks ``bind``. If a server still accepts on it, taking
    the path would silently steal its clients, so that is an error; a file
    that is not a socket is someone else's and is never removed.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise BindError(_describe_bind_error(exc, path, None)) from None
    if not stat.S_ISSOCK(mode):
        raise BindError(f"{path} exists and is not a socket; remove it or choose another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        # No server accepts there: a stale file from an earlier run.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    finally:
        probe.close()
    raise BindError(f"{path} is in use by a running server; stop it or choose another path")


def _unlink_if_ours(path: str, identity: tuple[int, int] | None) -> None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return
    if identity is not None and (found.st_dev, found.st_ino) != identity:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _from_fd(fd: int, backlog: int) -> Listener:
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise BindError(f"file descriptor {fd} is not a usable socket: {exc.strerror}") from None
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise BindError(f"file descriptor {fd} is not a stream socket")
    try:
        sock.listen(backlog)
    except OSError as exc:
        sock.detach()
        raise BindError(f"file descriptor {fd} cannot listen: {exc.strerror}") from None
    sock.setblocking(False)
    name = sock.getsockname()
    if sock.family == getattr(socket, "AF_UNIX", None):
        url = f"unix:{name}"
    elif sock.family == socket.AF_INET6:
        url = f"http://[{name[0]}]:{name[1]}"
    else:
        url = f"http://{name[0]}:{name[1]}"
    return Listener(sock=sock, url=url)


def _describe_bind_error(exc: OSError, where: str, port: int | None) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"address {where} is already in use; stop the other server or choose another port"
    if exc.errno == errno.EACCES:
        hint = (
            "ports below 1024 need privileges; use a port >= 1024"
            if port is not None and 0 < port < 1024
            else "check the permissions of the path"
        )
        return f"permission denied binding {where}; {hint}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"address {where} is not available on this machine; check the host"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {where}: {exc.strerror}; check the host"
    return f"cannot bind {where}: {exc.strerror or exc}"
