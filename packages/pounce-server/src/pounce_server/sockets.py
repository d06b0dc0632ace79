"""BIND: create the listening sockets before any worker starts.

Sockets are made here rather than by ``loop.create_server`` so that binding
errors surface once, as one clear line, and so that later workers (threads or
processes) can share the very same listening sockets.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from dataclasses import dataclass

from .config import ServerConfig
from .errors import BindError

__all__ = ["Listener", "bind_listeners", "close_listeners"]


@dataclass(frozen=True, slots=True)
class Listener:
    """A bound, listening socket and the URL a browser would use for it."""

    sock: socket.socket
    url: str
    #: For a Unix socket created by us: the path to remove on shutdown.
    unlink_path: str | None = None
    #: (device, inode) of that socket file, so that a file another server
    #: has since put at the same path is left alone.
    unlink_identity: tuple[int, int] | None = None


def bind_listeners(config: ServerConfig) -> list[Listener]:
    """Create the listening sockets that the configuration names."""
    if config.fd is not None:
        return [_from_fd(config.fd, config.backlog)]
    if config.uds is not None:
        return [_bind_unix(config.uds, config.backlog)]
    return [_bind_tcp(config.host, config.port, config.backlog)]


def close_listeners(listeners: list[Listener]) -> None:
    """Close the sockets and remove the Unix socket files this server created."""
    for listener in listeners:
        listener.sock.close()
        if listener.unlink_path is not None:
            _unlink_if_ours(listener.unlink_path, listener.unlink_identity)


def _unlink_if_ours(path: str, identity: tuple[int, int] | None) -> None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return
    if identity is not None and (found.st_dev, found.st_ino) != identity:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _bind_tcp(host: str, port: int, backlog: int) -> Listener:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # "::" should mean both IPv6 and IPv4 where the system allows it.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(_describe_bind_error(exc, f"{host}:{port}", port)) from None
    sock.setblocking(False)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if family == socket.AF_INET6 else bound_host
    return Listener(sock=sock, url=f"http://{shown}:{bound_port}")


def _bind_unix(path: str, backlog: int) -> Listener:
    if not hasattr(socket, "AF_UNIX"):
        raise BindError("--uds needs Unix domain sockets, which this platform lacks")
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o666)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BindError(
                f"{path} already exists; remove it or choose another --uds path"
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
        raise BindError(
            f"{path} exists and is not a socket; remove it or choose another --uds path"
        )
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
    raise BindError(f"{path} is in use by a running server; stop it or choose another --uds path")


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
    else:
        url = f"http://{name[0]}:{name[1]}"
    return Listener(sock=sock, url=url)


def _describe_bind_error(exc: OSError, where: str, port: int | None) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"address {where} is already in use; stop the other server or pick another --port"
    if exc.errno == errno.EACCES:
        hint = (
            "ports below 1024 need privileges; use a port >= 1024"
            if port is not None and 0 < port < 1024
            else "check the permissions of the path"
        )
        return f"permission denied binding {where}; {hint}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"address {where} is not available on this machine; check --host"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {where}: {exc.strerror}; check --host"
    return f"cannot bind {where}: {exc.strerror or exc}"
