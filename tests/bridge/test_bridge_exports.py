"""The public surface of pounce_asgi_bridge matches what docs/bridge.md describes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pounce_asgi_bridge

DOC = Path(__file__).resolve().parents[2] / "docs" / "bridge.md"

EXPECTED = {
    "ASGIApp",
    "ASGIVersions",
    "BodySource",
    "ClientDisconnected",
    "HTTPCycle",
    "HTTPDisconnectEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPScope",
    "HTTPScopeFactory",
    "LIFESPAN_MODES",
    "LifespanFailure",
    "LifespanManager",
    "LifespanMode",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Message",
    "Receive",
    "ResponseSink",
    "Scope",
    "Send",
    "decode_path",
    "split_target",
}


def test_all_lists_public_api() -> None:
    assert set(pounce_asgi_bridge.__all__) == EXPECTED
    assert len(pounce_asgi_bridge.__all__) == len(EXPECTED)


def test_every_export_importable() -> None:
    for name in pounce_asgi_bridge.__all__:
        assert getattr(pounce_asgi_bridge, name, None) is not None, name


def test_every_export_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    # A name counts as documented in code style, alone or called: `Name` or `Name(...)`.
    missing = [name for name in pounce_asgi_bridge.__all__ if not re.search(rf"`{name}[`(]", text)]
    assert missing == []


def test_package_imports_only_stdlib() -> None:
    # The bridge must run beside any server, so nothing outside the
    # standard library may be imported by it.
    source_dir = Path(pounce_asgi_bridge.__file__).parent
    for path in source_dir.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if len(words) < 2 or words[0] not in ("import", "from"):
                continue
            top = words[1].split(".")[0]
            if top in ("", "__future__"):
                continue
            assert top in sys.stdlib_module_names, f"{path.name} imports {words[1]}"
