"""The example apps under examples/: each imports, serves, and runs as documented."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from app_helpers import CLIENT_TIMEOUT

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"

#: Each example, a path it serves, and a piece of text its answer contains.
CASES = [
    ("hello_raw", "/greet", "Hello from Pounce! GET /greet with a 0-byte body"),
    ("starlette_app", "/hello/pounce?shout=1", "HELLO, POUNCE!"),
    ("fastapi_app", "/", "Hello from FastAPI on Pounce"),
]


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` under a module name of its own, without touching sys.path."""
    module_name = f"pounce_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first, as a normal import would, so that pydantic and
    # FastAPI can resolve the module's annotations through sys.modules.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("name", "path", "expected"), CASES)
def test_example_serves(serve: Callable[..., Any], name: str, path: str, expected: str) -> None:
    module = load_example(name)
    assert module.__doc__ is not None
    assert f"pounce examples.{name}:app" in module.__doc__

    with serve(module.app) as running:
        response = httpx.get(running.url + path, timeout=CLIENT_TIMEOUT)

    assert response.status_code == 200
    assert expected in response.text


@pytest.mark.parametrize(("name", "path", "expected"), CASES)
def test_example_documented_command(
    pounce_process: Callable[..., Any], name: str, path: str, expected: str
) -> None:
    """``pounce examples.NAME:app`` works from the repository root."""
    with pounce_process(f"examples.{name}:app", cwd=EXAMPLES.parent) as proc:
        response = httpx.get(proc.url + path, timeout=CLIENT_TIMEOUT)
        code = proc.stop()

    assert response.status_code == 200
    assert expected in response.text
    assert code == 0, "".join(proc.log)


def test_fastapi_example_notes(serve: Callable[..., Any]) -> None:
    module = load_example("fastapi_app")

    with (
        serve(module.app) as running,
        httpx.Client(base_url=running.url, timeout=CLIENT_TIMEOUT) as client,
    ):
        created = client.post("/notes", json={"text": "buy milk"})
        rejected = client.post("/notes", json={"text": ""})
        listed = client.get("/notes")
        missing = client.get("/notes/99")

    assert created.status_code == 201
    assert created.json() == {"id": 1, "text": "buy milk"}
    assert rejected.status_code == 422
    assert listed.json() == [{"id": 1, "text": "buy milk"}]
    assert missing.status_code == 404


def test_starlette_example_stream(serve: Callable[..., Any]) -> None:
    module = load_example("starlette_app")

    with serve(module.app) as running:
        response = httpx.get(running.url + "/count", timeout=CLIENT_TIMEOUT)
        home = httpx.get(running.url + "/", timeout=CLIENT_TIMEOUT)

    assert response.text == "1\n2\n3\n4\n5\n"
    assert home.json() == {"message": "Hello from Starlette on Pounce"}
