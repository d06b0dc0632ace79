"""The ``pounce`` command: parse options, build the config, run the server."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pounce_server import EXIT_CONFIG, EXIT_OK, ConfigError, PounceError, Server, ServerConfig

from .options import collect_settings, server_options

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pounce`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    try:
        command, values = collect_settings(argv)
        app = command.get("app")
        if not app:
            raise _usage("missing APP: name the application as 'module:attribute', e.g. main:app")
        config = ServerConfig(**values)
        server = Server(
            app,
            config,
            factory=bool(command.get("factory", False)),
            app_dir=command.get("app_dir", "."),
        )
        server.run()
    except ConfigError as exc:
        print(f"pounce: error: {_name_sources(exc)}", file=sys.stderr)
        return exc.exit_code
    except PounceError as exc:
        print(f"pounce: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        # A CTRL+C before the server installed its own handler.
        return EXIT_OK
    return EXIT_OK


def _name_sources(exc: ConfigError) -> str:
    """Name the flag and variable of an invalid field, since either may have set it."""
    option = {option.name: option for option in server_options()}.get(exc.field)
    if option is None:
        return str(exc)
    detail = str(exc).partition(": ")[2]
    return f"invalid {option.flag} (or {option.env}, or {option.name} in a config file): {detail}"


class _UsageError(PounceError):
    exit_code = EXIT_CONFIG


def _usage(message: str) -> _UsageError:
    return _UsageError(f"{message} (see pounce --help)")


def run() -> None:
    """Entry point of the console script."""
    sys.exit(main())
