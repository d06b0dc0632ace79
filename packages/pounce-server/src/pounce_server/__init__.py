"""The Pounce server: configuration, workers, connection handlers and sockets."""

from __future__ import annotations

from . import events
from .config import ServerConfig
from .errors import (
    EXIT_APP_LOAD,
    EXIT_BIND,
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    AppLoadError,
    BindError,
    ConfigError,
    PounceError,
    StartupError,
    WorkersFailed,
)
from .importer import load_app
from .server import Server

__version__ = "0.1.0"

__all__ = [
    "EXIT_APP_LOAD",
    "EXIT_BIND",
    "EXIT_CONFIG",
    "EXIT_FAILURE",
    "EXIT_OK",
    "AppLoadError",
    "BindError",
    "ConfigError",
    "PounceError",
    "Server",
    "ServerConfig",
    "StartupError",
    "WorkersFailed",
    "__version__",
    "events",
    "load_app",
]
