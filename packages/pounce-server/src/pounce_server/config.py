"""ServerConfig: every setting of the server, validated once, frozen after.

Each field carries its own documentation in ``metadata`` (help text, the
command-line flag, choices, unit). The CLI builds its parser from these
fields and the configuration reference is checked against them, so the
options are defined in exactly one place.

Values that only depend on the configuration (the encoded default headers,
the parser limits) are derived here, once, so the hot path never formats
them again.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from pounce_protocols.http1 import BACKENDS, HTTP1Limits

from .addresses import parse_bind
from .errors import ConfigError

__all__ = [
    "HTTP_CHOICES",
    "LIFESPAN_CHOICES",
    "LOG_LEVEL_CHOICES",
    "LOOP_CHOICES",
    "WORKER_KIND_CHOICES",
    "ServerConfig",
    "option",
]

HTTP_CHOICES = tuple(BACKENDS)
LOOP_CHOICES = ("auto", "asyncio", "uvloop")
LIFESPAN_CHOICES = ("auto", "on", "off")
LOG_LEVEL_CHOICES = ("critical", "error", "warning", "info", "debug", "trace")
WORKER_KIND_CHOICES = ("auto", "thread", "process")

MiB = 1024 * 1024
#: Upper bound on --workers: this many per CPU, but never below the floor.
MAX_WORKERS_PER_CPU = 8
MAX_WORKERS_FLOOR = 32


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    metavar: str | None = None,
    choices: tuple[str, ...] | None = None,
    repeat: bool = False,
) -> Any:
    """Declare a config field with the documentation the CLI and docs use.

    ``flag`` overrides the flag name derived from the field name. ``repeat``
    marks a flag that may be given several times (its values form a tuple).
    """
    metadata = {
        "help": help,
        "flag": flag,
        "metavar": metavar,
        "choices": choices,
        "repeat": repeat,
    }
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """The whole configuration of one server, shared read-only by its workers."""

    # Binding.
    host: str = option("127.0.0.1", "Address to bind; use 0.0.0.0 or :: for all interfaces.")
    port: int = option(8000, "TCP port to bind; 0 picks a free port and logs it.")
    uds: str | None = option(
        None, "Bind a Unix domain socket at this path instead of TCP.", metavar="PATH"
    )
    fd: int | None = option(
        None, "Serve on an already bound socket inherited as this file descriptor."
    )
    bind: tuple[str, ...] = option(
        (),
        "Address to listen on, as HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N; may be "
        "repeated to listen on several. Replaces --host, --port, --uds and --fd.",
        metavar="ADDRESS",
        repeat=True,
    )
    uds_permissions: str = option(
        "666",
        "Octal permissions of a Unix socket file the server creates.",
        metavar="MODE",
    )
    backlog: int = option(
        2048, "Maximum number of connections the kernel queues before they are accepted."
    )
    reuse_port: bool = option(
        True,
        "On Linux, give each worker its own SO_REUSEPORT socket per TCP address, so the "
        "kernel spreads new connections evenly; --no-reuse-port makes all workers accept "
        "from one shared socket (always the case elsewhere, and for Unix sockets and "
        "inherited descriptors).",
    )

    # Workers and supervision.
    workers: int = option(
        1,
        "Number of workers; 0 means one per available CPU. At most 8 per CPU (32 at least).",
        metavar="N",
    )
    worker_kind: str = option(
        "auto",
        "How workers run: 'thread', 'process', or 'auto' (threads when the GIL is "
        "disabled, processes when it is enabled).",
        choices=WORKER_KIND_CHOICES,
    )
    worker_timeout: float = option(
        30.0,
        "Seconds a worker's event loop may stay blocked before the worker is reported "
        "(and, for a process worker, killed and replaced).",
        metavar="SECONDS",
    )
    restart_limit: int = option(
        5,
        "Restarts allowed per worker slot within --restart-window; one more stops the server.",
        metavar="N",
    )
    restart_window: float = option(
        60.0, "Seconds over which --restart-limit counts restarts.", metavar="SECONDS"
    )
    limit_max_requests: int | None = option(
        None,
        "Replace a worker after it has started this many requests, plus a random tenth "
        "at most, so that workers do not retire together.",
        metavar="N",
    )

    # Reload.
    reload: bool = option(
        False,
        "Restart the workers in a new process when a watched file changes (development).",
    )
    reload_dirs: tuple[str, ...] = option(
        (),
        "Directory to watch with --reload (default: the app directory); may be repeated.",
        flag="--reload-dir",
        metavar="DIR",
        repeat=True,
    )
    reload_includes: tuple[str, ...] = option(
        (),
        "Glob of file names to watch with --reload, besides *.py; may be repeated.",
        flag="--reload-include",
        metavar="GLOB",
        repeat=True,
    )
    reload_excludes: tuple[str, ...] = option(
        (),
        "Glob of file or directory names to ignore with --reload, besides .*, *.py[cod], "
        "__pycache__ and *~; may be repeated.",
        flag="--reload-exclude",
        metavar="GLOB",
        repeat=True,
    )

    # Protocol and runtime.
    http: str = option(
        "auto",
        "HTTP/1.1 machine: 'pounce' (the built-in fast parser), 'h11', or 'auto' (pounce).",
        choices=HTTP_CHOICES,
    )
    loop: str = option(
        "auto",
        "Event loop: 'asyncio', 'uvloop', or 'auto' (uvloop when it is installed).",
        choices=LOOP_CHOICES,
    )
    lifespan: str = option(
        "auto",
        "Lifespan protocol: 'on' requires it, 'off' skips it, "
        "'auto' uses it when the app supports it.",
        choices=LIFESPAN_CHOICES,
    )
    root_path: str = option(
        "", "ASGI root_path: the path prefix the app is mounted at behind a proxy.", metavar="PATH"
    )

    # Logging.
    log_level: str = option("info", "Level of the pounce.* loggers.", choices=LOG_LEVEL_CHOICES)
    access_log: bool = option(True, "Log one line per response on the pounce.access logger.")

    # Response headers.
    server_header: bool = option(True, "Send a 'server: pounce' header with every response.")
    date_header: bool = option(True, "Send a 'date' header with every response.")
    headers: tuple[tuple[str, str], ...] = option(
        (),
        "Extra response header as 'Name: value', sent with every response; may be repeated.",
        flag="--header",
        metavar="NAME:VALUE",
        repeat=True,
    )

    # Timeouts, in seconds.
    timeout_keep_alive: float = option(
        5.0, "Seconds an idle keep-alive connection waits for its next request.", metavar="SECONDS"
    )
    timeout_header: float = option(
        10.0,
        "Seconds a client has to send a whole request head, counted from the connection "
        "opening or the previous response ending; not extended by each byte.",
        metavar="SECONDS",
    )
    timeout_write: float = option(
        30.0,
        "Seconds a client may leave a pending response unread (no byte of it taken) "
        "before the connection is dropped.",
        metavar="SECONDS",
    )
    timeout_graceful_shutdown: float = option(
        30.0,
        "Seconds in-flight requests get to finish on shutdown before they are cancelled.",
        metavar="SECONDS",
    )

    # Limits.
    limit_concurrency: int | None = option(
        None,
        "Maximum number of open connections per worker; a request beyond it gets 503.",
        metavar="N",
    )
    limit_request_line: int = option(
        8190, "Longest request line in bytes (414 beyond).", metavar="BYTES"
    )
    limit_request_field_size: int = option(
        8190, "Longest header field line in bytes (431 beyond).", metavar="BYTES"
    )
    limit_request_fields: int = option(
        100, "Maximum number of header fields in a request (431 beyond).", metavar="N"
    )
    limit_request_head: int = option(
        65536,
        "Largest request head in bytes, request line and fields (431 beyond).",
        metavar="BYTES",
    )
    limit_request_body: int | None = option(
        100 * MiB, "Largest request body in bytes (413 beyond); 0 means no limit.", metavar="BYTES"
    )
    limit_unread_body: int = option(
        1 * MiB,
        "Maximum number of unread body bytes discarded to keep the connection open "
        "after a response; a longer rest closes the connection.",
        metavar="BYTES",
    )

    # Derived values, computed once in __post_init__.
    http1_limits: HTTP1Limits = field(init=False, repr=False, compare=False)
    encoded_headers: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate()
        body_limit = self.limit_request_body or None
        limits = HTTP1Limits(
            max_request_line=self.limit_request_line,
            max_header_field=self.limit_request_field_size,
            max_header_count=self.limit_request_fields,
            max_head=self.limit_request_head,
            max_body=body_limit,
        )
        object.__setattr__(self, "http1_limits", limits)
        object.__setattr__(self, "encoded_headers", _encode_headers(self.headers))

    def worker_count(self) -> int:
        """Return the number of workers to run: ``workers``, or one per usable CPU for 0."""
        if self.workers:
            return self.workers
        return available_cpus()

    def replace(self, **changes: Any) -> ServerConfig:
        """Return a copy with ``changes`` applied and validated."""
        return dataclasses.replace(self, **changes)

    def _validate(self) -> None:
        _check_port("port", self.port)
        if self.uds is not None and not self.uds:
            raise ConfigError("uds", "the socket path is empty")
        if self.fd is not None and (not isinstance(self.fd, int) or self.fd < 0):
            raise ConfigError("fd", f"expected a non-negative file descriptor, got {self.fd!r}")
        if self.uds is not None and self.fd is not None:
            raise ConfigError("uds", "--uds and --fd cannot be used together; pick one")
        if not self.host:
            raise ConfigError("host", "the address is empty; use 127.0.0.1, 0.0.0.0 or ::")
        _check_int("backlog", self.backlog, minimum=1)
        if self.bind and (self.uds is not None or self.fd is not None):
            raise ConfigError("bind", "--bind replaces --uds and --fd; put them in --bind instead")
        if isinstance(self.bind, str):
            raise ConfigError(
                "bind", f"expected a tuple of addresses, got the string {self.bind!r}"
            )
        for address in self.bind:
            if not isinstance(address, str) or not address.strip():
                raise ConfigError(
                    "bind", f"expected an address such as 127.0.0.1:8000, got {address!r}"
                )
        parse_bind(self.bind)
        try:
            mode = int(self.uds_permissions, 8)
        except (TypeError, ValueError):
            mode = -1
        if not 0 <= mode <= 0o777:
            raise ConfigError(
                "uds_permissions",
                f"expected octal permissions such as 660, got {self.uds_permissions!r}",
            )
        _check_int("workers", self.workers, minimum=0)
        ceiling = max_workers()
        if self.workers > ceiling:
            # Each worker has a whole copy of the app (a process) or an
            # event loop (a thread); a typo such as 10000 would start
            # thousands of interpreters and exhaust the machine's memory.
            raise ConfigError(
                "workers",
                f"{self.workers} is more than {ceiling} ({MAX_WORKERS_PER_CPU} per CPU on this "
                "machine); use about one per CPU, or 0 for exactly one per CPU",
            )
        _check_int("restart_limit", self.restart_limit, minimum=0)
        if self.limit_max_requests is not None:
            _check_int("limit_max_requests", self.limit_max_requests, minimum=1)
        for name in ("reload_dirs", "reload_includes", "reload_excludes"):
            for item in getattr(self, name):
                if not isinstance(item, str) or not item:
                    raise ConfigError(name, f"expected a non-empty string, got {item!r}")
        for name, choices in (
            ("http", HTTP_CHOICES),
            ("loop", LOOP_CHOICES),
            ("lifespan", LIFESPAN_CHOICES),
            ("log_level", LOG_LEVEL_CHOICES),
            ("worker_kind", WORKER_KIND_CHOICES),
        ):
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(name, f"{value!r} is not one of {', '.join(choices)}")
        if self.root_path and (not self.root_path.startswith("/") or self.root_path.endswith("/")):
            raise ConfigError(
                "root_path",
                f"{self.root_path!r} must start with '/' and not end with '/', e.g. /api",
            )
        for name in (
            "timeout_keep_alive",
            "timeout_header",
            "timeout_write",
            "timeout_graceful_shutdown",
            "worker_timeout",
            "restart_window",
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigError(name, f"expected a positive number of seconds, got {value!r}")
        if self.limit_concurrency is not None:
            _check_int("limit_concurrency", self.limit_concurrency, minimum=1)
        for name in (
            "limit_request_line",
            "limit_request_field_size",
            "limit_request_fields",
            "limit_request_head",
        ):
            _check_int(name, getattr(self, name), minimum=1)
        if self.limit_request_body is not None:
            _check_int("limit_request_body", self.limit_request_body, minimum=0)
        _check_int("limit_unread_body", self.limit_unread_body, minimum=0)
        if self.limit_request_head < self.limit_request_line:
            raise ConfigError(
                "limit_request_head",
                f"{self.limit_request_head} is smaller than limit_request_line "
                f"({self.limit_request_line}); raise it",
            )


def max_workers() -> int:
    """Return the largest worker count this machine accepts (see MAX_WORKERS_PER_CPU)."""
    return max(MAX_WORKERS_FLOOR, MAX_WORKERS_PER_CPU * available_cpus())


def available_cpus() -> int:
    """Count the CPUs this process may run on (its affinity mask where the system has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return max(1, len(affinity(0)))
    return os.cpu_count() or 1


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(name, f"expected an integer >= {minimum}, got {value!r}")


def _check_port(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(name, f"expected a port between 0 and 65535, got {value!r}")


# RFC 9110 §5.6.2: a field name is a token.
_TOKEN_CHARS = frozenset(
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _encode_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, bytes], ...]:
    encoded = []
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ConfigError("header", f"expected a (name, value) pair, got {item!r}")
        name, value = item
        raw_name = name.strip().lower().encode("latin-1", "replace")
        if not raw_name or not set(raw_name) <= _TOKEN_CHARS:
            raise ConfigError("header", f"{name!r} is not a valid header name")
        raw_value = value.strip().encode("latin-1", "replace")
        if any(byte in raw_value for byte in b"\r\n\x00"):
            raise ConfigError("header", f"the value of {name!r} contains CR, LF or NUL")
        encoded.append((raw_name, raw_value))
    return tuple(encoded)
