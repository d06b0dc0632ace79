"""The ``pounce`` command: parse options, build the config, run the server."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pounce_server import EXIT_CONFIG, EXIT_OK, PounceError, Server, ServerConfig

from .options import collect_settings

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
    except PounceError as exc:
        print(f"pounce: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        # A CTRL+C before the server installed its own handler.
        return EXIT_OK
    return EXIT_OK


class _UsageError(PounceError):
    exit_code = EXIT_CONFIG


def _usage(message: str) -> _UsageError:
    return _UsageError(f"{message} (see pounce --help)")


def run() -> None:
    """Entry point of the console script."""
    sys.exit(main())
