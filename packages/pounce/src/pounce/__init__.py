"""Pounce: a pure-Python ASGI server built for free-threaded CPython.

The one-call way to serve an app from Python::

    import pounce

    pounce.run("main:app", port=8000)
"""

from __future__ import annotations

from typing import Any

from pounce_server import PounceError, Server, ServerConfig

__version__ = "0.1.0"

__all__ = ["PounceError", "Server", "ServerConfig", "__version__", "run"]


def run(
    app: Any,
    *,
    factory: bool = False,
    app_dir: str | None = ".",
    config: ServerConfig | None = None,
    **options: Any,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM.

    ``app`` is an ASGI callable or a ``"module:attribute"`` string.
    ``options`` are ``ServerConfig`` fields (``port=9000``, ``lifespan="off"``);
    pass either them or a whole ``config``. Raises ``PounceError`` (with an
    ``exit_code``) when the server cannot start.
    """
    if config is not None and options:
        raise TypeError("pass either config or keyword options, not both")
    if config is None:
        config = ServerConfig(**options)
    Server(app, config, factory=factory, app_dir=app_dir).run()
