"""Runtime detection: the GIL state, the worker kind it implies, the event loop."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["Runtime", "detect_runtime", "loop_factory"]


@dataclass(frozen=True, slots=True)
class Runtime:
    """Facts about this interpreter that decide how workers run."""

    python: str
    gil_enabled: bool
    #: "thread" when the GIL is disabled (threads run Python in parallel),
    #: "process" when it is enabled.
    worker_kind: str
    loop: str


def gil_enabled() -> bool:
    """Return whether the GIL is enabled; interpreters before 3.13 always have it."""
    probe: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else probe()


def detect_runtime(loop: str) -> Runtime:
    """Collect the runtime facts and resolve the ``loop`` choice."""
    enabled = gil_enabled()
    return Runtime(
        python=sys.version.split()[0],
        gil_enabled=enabled,
        worker_kind="process" if enabled else "thread",
        loop=_resolve_loop(loop),
    )


def _resolve_loop(choice: str) -> str:
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "loop", "'uvloop' is not installed; pip install uvloop, or use --loop asyncio"
            ) from None
        return "asyncio"
    return "uvloop"


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """Return a callable that makes a new event loop of the resolved kind."""
    if name == "uvloop":
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return asyncio.new_event_loop
