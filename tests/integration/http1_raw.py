"""A raw-socket HTTP/1.1 client for tests that need exact bytes on the wire.

httpx hides what the integration tests must see: malformed requests, several
requests in one write, interim ``100 Continue`` responses, a server closing
the connection. ``RawConnection`` sends bytes as given and reads responses
back one at a time from a buffer, so a response's framing (Content-Length,
chunked or until close) is checked as the client sees it. Every read has a
timeout, so a server that hangs fails the test instead of blocking it.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RawConnection", "RawResponse", "build_request", "wait_for"]

#: Seconds any single socket read or write may block.
DEFAULT_TIMEOUT = 5.0


@dataclass
class RawResponse:
    """One response as read from the wire."""

    status_line: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    trailers: list[tuple[str, str]] = field(default_factory=list)
    #: Whether the body was chunked and ended with its last chunk.
    chunked: bool = False

    @property
    def status(self) -> int:
        """The status code from the status line."""
        return int(self.status_line.split(" ", 2)[1])

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name``, or None without one."""
        values = self.header_list(name)
        return values[0] if values else None

    def header_list(self, name: str) -> list[str]:
        """Return every value of header ``name``, in wire order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]


class RawConnection:
    """One TCP connection to 127.0.0.1, read through a buffer."""

    def __init__(self, port: int, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buffer = bytearray()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def reset(self) -> None:
        """Close with a TCP reset instead of a FIN, as a crashed client would."""
        # SO_LINGER on with a zero timeout: close() sends RST, not FIN.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    @property
    def local_port(self) -> int:
        """The client's own port, which identifies the connection."""
        port: int = self.sock.getsockname()[1]
        return port

    def send(self, data: bytes) -> None:
        """Write ``data`` in one ``sendall``."""
        self.sock.sendall(data)

    def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Send a well-formed HTTP/1.1 request with a Content-Length body."""
        self.send(build_request(method, target, body=body, headers=headers))

    # Reading.

    def _fill(self) -> bool:
        """Read more bytes into the buffer; return False at end of stream."""
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def _read_line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 2]
                return line
            if not self._fill():
                raise EOFError(f"connection closed in the middle of a line: {bytes(self.buffer)!r}")

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise EOFError(f"connection closed after {len(self.buffer)} of {size} body bytes")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def _read_fields(self) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = []
        while True:
            line = self._read_line()
            if not line:
                return fields
            name, sep, value = line.partition(b":")
            assert sep, f"response field line without a colon: {line!r}"
            fields.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))

    def read_head(self) -> RawResponse:
        """Read one status line and its header fields, interim responses included."""
        status_line = self._read_line().decode("latin-1")
        assert status_line.startswith("HTTP/1."), f"not a status line: {status_line!r}"
        return RawResponse(status_line=status_line, headers=self._read_fields())

    def read_response(self, *, head_request: bool = False) -> RawResponse:
        """Read one final response whole, after any interim (1xx) ones.

        ``head_request`` marks a HEAD request, whose response has no
        body whatever its headers announce (RFC 9112 §6.3, rule 1).
        """
        response = self.read_head()
        while response.status < 200:
            response = self.read_head()
        if head_request or response.status in (204, 304):
            return response

        encoding = response.header("transfer-encoding")
        length = response.header("content-length")
        if encoding is not None:
            assert encoding.lower() == "chunked", f"unexpected transfer-encoding {encoding!r}"
            self._read_chunked(response)
        elif length is not None:
            response.body = self._read_exactly(int(length))
        else:
            # RFC 9112 §6.3, rule 8: without framing, the body runs to the close.
            response.body = self.read_until_closed()
        return response

    def _read_chunked(self, response: RawResponse) -> None:
        pieces = []
        while True:
            size_line = self._read_line()
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            pieces.append(self._read_exactly(size))
            crlf = self._read_exactly(2)
            assert crlf == b"\r\n", f"chunk data not followed by CRLF: {crlf!r}"
        response.trailers = self._read_fields()
        response.body = b"".join(pieces)
        response.chunked = True

    def read_until_closed(self, timeout: float | None = None) -> bytes:
        """Return every byte until the server closes; fail if it does not in time.

        A reset counts as a close too: the server may reset a connection it
        abandons with unread bytes, and the test is about it going away.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"the server did not close the connection; received {bytes(self.buffer)!r}"
                )
            self.sock.settimeout(remaining)
            try:
                more = self._fill()
            except TimeoutError:
                continue
            except ConnectionResetError:
                more = False
            finally:
                self.sock.settimeout(self.timeout)
            if not more:
                data = bytes(self.buffer)
                self.buffer.clear()
                return data

    def nothing_arrives(self, seconds: float) -> bool:
        """Return whether no byte arrives and the connection stays open for ``seconds``."""
        if self.buffer:
            return False
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(self.timeout)
        self.buffer += data
        return False


def build_request(
    method: str, target: str, *, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()
) -> bytes:
    """Return the bytes of a well-formed HTTP/1.1 request."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def wait_for(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)
