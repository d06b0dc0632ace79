"""Errors that stop the server, each with the exit code the CLI returns.

Exit codes are part of the public interface (documented in the CLI
reference): scripts and supervisors such as systemd act on them.
"""

from __future__ import annotations

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
    "StartupError",
    "WorkersFailed",
]

#: The server ran and shut down cleanly.
EXIT_OK = 0
#: The server started but failed: lifespan startup failed, or an internal error.
EXIT_FAILURE = 1
#: A command-line option or configuration value is invalid.
EXIT_CONFIG = 2
#: The application could not be imported or is not an ASGI callable.
EXIT_APP_LOAD = 3
#: A listening socket could not be created (address in use, permission denied).
EXIT_BIND = 4


class PounceError(Exception):
    """An error the server reports as one line, then exits with ``exit_code``."""

    exit_code = EXIT_FAILURE


class ConfigError(PounceError, ValueError):
    """A configuration value is invalid; the message names the value and the fix."""

    exit_code = EXIT_CONFIG

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"invalid {field}: {message}")
        self.field = field


class AppLoadError(PounceError):
    """The application named on the command line could not be loaded."""

    exit_code = EXIT_APP_LOAD


class BindError(PounceError):
    """A listening socket could not be bound."""

    exit_code = EXIT_BIND


class StartupError(PounceError):
    """The application's lifespan startup failed."""

    exit_code = EXIT_FAILURE


class WorkersFailed(PounceError):
    """The workers could not be kept running; carries the exit code to use."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
