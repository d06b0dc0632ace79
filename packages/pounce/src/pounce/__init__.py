"""Pounce: a pure-Python ASGI server built for free-threaded CPython.

The one-call way to serve an app from Python::

    import pounce

    pounce.run("main:app", port=8000)
"""

from __future__ import annotations

from typing import Any

from pounce_server import PounceError, Server, ServerConfig, events
from pounce_server.events import EventHook, LifecycleEvent

__version__ = "0.1.0"

__all__ = [
    "LifecycleEvent",
    "PounceError",
    "Server",
    "ServerConfig",
    "__version__",
    "events",
    "run",
]


def run(
    app: Any,
    *,
    factory: bool = False,
    app_dir: str | None = ".",
    config: ServerConfig | None = None,
    on_event: EventHook | None = None,
    **options: Any,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM.

    ``app`` is an ASGI callable or a ``"module:attribute"`` string.
    ``options`` are ``ServerConfig`` fields (``port=9000``, ``lifespan="off"``);
    pass either them or a whole ``config``. ``on_event`` receives each
    lifecycle event (``pounce.events``). Raises ``PounceError`` (with an
    ``exit_code``) when the server cannot start.
    """
    if config is not None and options:
        raise TypeError("pass either config or keyword options, not both")
    if config is None:
        config = ServerConfig(**options)
    Server(app, config, factory=factory, app_dir=app_dir, on_event=on_event).run()
