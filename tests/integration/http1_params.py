"""Parameters the HTTP/1.1 integration tests run over."""

from __future__ import annotations

import importlib.util

import pytest

__all__ = ["LOOPS", "PARSERS"]

#: The two HTTP/1.1 machines every parsing-sensitive test runs against.
PARSERS = ("pounce", "h11")

#: The event loops, for tests where transports of the two behave differently.
LOOPS = (
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
        ),
    ),
)
