"""Logger names, level setup and the access log line."""

from __future__ import annotations

import logging
import sys

__all__ = [
    "TRACE",
    "access_logger",
    "configure_logging",
    "server_logger",
    "supervisor_logger",
    "worker_logger",
]

#: Below DEBUG: per-connection events, for chasing a client's behaviour.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

server_logger = logging.getLogger("pounce.server")
supervisor_logger = logging.getLogger("pounce.supervisor")
worker_logger = logging.getLogger("pounce.worker")
access_logger = logging.getLogger("pounce.access")

_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}


def configure_logging(level: str) -> None:
    """Set the level of the ``pounce`` loggers and give them a handler.

    An application that configured logging before the server started keeps
    its handlers: ours is only added when the root logger has none, so lines
    are not printed twice.
    """
    pounce = logging.getLogger("pounce")
    pounce.setLevel(_LEVELS[level])
    if logging.getLogger().handlers or pounce.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(asctime)s %(levelname)-7s %(name)s:%(worker)s %(message)s"))
    pounce.addHandler(handler)


class _Formatter(logging.Formatter):
    """Name the worker (and the --reload generation) a line comes from.

    Worker threads and worker processes are named ``pounce-worker-N`` and
    generation processes ``pounce-generation-N``, so with several workers
    each line names the one that wrote it.
    """

    def format(self, record: logging.LogRecord) -> str:
        tag = ""
        process = record.processName or ""
        if process.startswith(_GENERATION_PREFIX):
            tag = f" [generation {process[len(_GENERATION_PREFIX) :]}]"
        name = record.threadName or ""
        if not name.startswith(_WORKER_PREFIX):
            name = process
        if name.startswith(_WORKER_PREFIX):
            tag += f" [worker {name[len(_WORKER_PREFIX) :]}]"
        record.worker = tag
        return super().format(record)


_WORKER_PREFIX = "pounce-worker-"
_GENERATION_PREFIX = "pounce-generation-"
