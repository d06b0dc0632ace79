"""Listening addresses: parse the strings that ``--bind`` accepts.

Accepted forms, checked in this order:

- ``unix:PATH``: a Unix domain socket at PATH, taken literally (relative
  paths are relative to the working directory).
- ``fd://N``: an already bound socket inherited as file descriptor N.
- ``[IPV6]:PORT``: an IPv6 literal, which must be in brackets (RFC 3986
  §3.2.2) because its colons would otherwise run into the port.
- ``HOST:PORT``: an IPv4 literal or a host name.

The port is always required, and ``:PORT`` without a host is rejected
rather than read as "every interface". Because the default host is the
loopback address, listening on every interface has to be asked for by
name, as ``0.0.0.0:PORT`` or ``[::]:PORT``.

Parsing checks only the text. Host names are resolved, and addresses that
resolve to the same place are found, when the sockets are bound.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ConfigError

__all__ = [
    "Address",
    "FdAddress",
    "TCPAddress",
    "UnixAddress",
    "parse_address",
    "parse_bind",
]

EXPECTED_FORMS = "HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N"


@dataclass(frozen=True, slots=True)
class TCPAddress:
    """A host and TCP port. An IPv6 ``host`` is stored without brackets."""

    host: str
    port: int

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class UnixAddress:
    """The path of a Unix domain socket."""

    path: str

    def __str__(self) -> str:
        return f"unix:{self.path}"


@dataclass(frozen=True, slots=True)
class FdAddress:
    """An inherited file descriptor of an already bound socket."""

    fd: int

    def __str__(self) -> str:
        return f"fd://{self.fd}"


Address = TCPAddress | UnixAddress | FdAddress


def parse_address(text: str) -> Address:
    """Parse one ``--bind`` value, raising ``ConfigError("bind", ...)`` if it is invalid."""
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path:
            raise _invalid(text, "the socket path is missing, e.g. unix:/run/pounce.sock")
        return UnixAddress(path)

    if text.startswith("fd://"):
        number = text[len("fd://") :]
        if not _is_decimal(number):
            raise _invalid(text, "the file descriptor must be a non-negative integer, e.g. fd://3")
        return FdAddress(int(number))

    if "://" in text:
        raise _invalid(text, "a URL is not an address; drop the scheme, e.g. 127.0.0.1:8000")

    if text.startswith("["):
        return _parse_bracketed(text)

    host, colon, port = text.rpartition(":")
    if not colon:
        raise _invalid(text, "the port is missing, e.g. 127.0.0.1:8000")
    if not host:
        raise _invalid(
            text,
            f"the host is missing; use 127.0.0.1:{port} for this machine only "
            f"or 0.0.0.0:{port} for every interface",
        )
    if ":" in host:
        raise _invalid(text, "an IPv6 address must be in brackets, e.g. [::1]:8000")
    if any(char.isspace() or char in "[]/" for char in host):
        raise _invalid(text, f"{host!r} is not a valid host name or IPv4 address")
    return TCPAddress(host, _parse_port(text, port))


def parse_bind(entries: Iterable[str]) -> list[Address]:
    """Parse every ``--bind`` value in order and reject an address given twice.

    Two entries are the same address when they parse to the same IP literal
    and port, the same host name and port, the same socket path or the same
    descriptor. Port 0 never repeats, because each bind picks its own free
    port.
    """
    addresses: list[Address] = []
    seen: dict[object, str] = {}
    for text in entries:
        address = parse_address(text)
        key = _identity(address)
        if key is not None:
            if key in seen:
                raise ConfigError(
                    "bind", f"{text!r} names the same address as {seen[key]!r}; remove one"
                )
            seen[key] = text
        addresses.append(address)
    return addresses


def _parse_bracketed(text: str) -> TCPAddress:
    host, bracket, rest = text[1:].partition("]")
    if not bracket:
        raise _invalid(text, "the closing ']' is missing, e.g. [::1]:8000")
    if not rest.startswith(":"):
        raise _invalid(text, "the port is missing, e.g. [::1]:8000")
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        reason = f"{host!r} is not an IPv6 address; brackets are for IPv6 only"
        raise _invalid(text, reason) from None
    return TCPAddress(host, _parse_port(text, rest[1:]))


def _parse_port(text: str, port: str) -> int:
    if not _is_decimal(port):
        raise _invalid(text, f"the port {port!r} is not a number")
    number = int(port)
    if number > 65535:
        raise _invalid(text, f"the port {number} is out of range 0-65535")
    return number


def _is_decimal(text: str) -> bool:
    # str.isdigit alone also accepts digits of other scripts, such as "٣".
    return text.isascii() and text.isdigit()


def _identity(address: Address) -> object:
    """Return a key that is equal for two spellings of one address, or None for port 0."""
    if isinstance(address, UnixAddress):
        return ("unix", os.path.normpath(os.path.abspath(address.path)))
    if isinstance(address, FdAddress):
        return ("fd", address.fd)
    if address.port == 0:
        return None
    try:
        host = ipaddress.ip_address(address.host).compressed
    except ValueError:
        host = address.host.lower()
    return ("tcp", host, address.port)


def _invalid(text: str, reason: str) -> ConfigError:
    return ConfigError("bind", f"{text!r}: {reason} (expected {EXPECTED_FORMS})")
