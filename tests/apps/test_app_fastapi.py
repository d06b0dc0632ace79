"""FastAPI served by Pounce, in a thread under both HTTP/1.1 machines and through the CLI."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from app_helpers import CLIENT_TIMEOUT, PARSERS
from fastapi_site import TOKEN, create_app

HERE = Path(__file__).resolve().parent

#: How long a test polls for a background job to finish, in seconds.
POLL_LIMIT = 10.0


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(serve: Callable[..., Any], parser: str) -> Iterator[httpx.Client]:
    """Serve a fresh FastAPI app and yield a client for it."""
    with (
        serve(create_app(), http=parser) as running,
        httpx.Client(base_url=running.url, timeout=CLIENT_TIMEOUT) as http_client,
    ):
        yield http_client


def test_body_validation_accepts(client: httpx.Client) -> None:
    response = client.post("/items", json={"name": "saw", "price": 12.25, "tags": ["tool"]})

    assert response.status_code == 201
    # response_model drops the key the endpoint added.
    assert response.json() == {"name": "saw", "price": 12.25, "tags": ["tool"]}


def test_body_validation_rejects(client: httpx.Client) -> None:
    response = client.post("/items", json={"name": "", "price": -1})

    assert response.status_code == 422
    failed_fields = sorted(error["loc"][-1] for error in response.json()["detail"])
    assert failed_fields == ["name", "price"]


def test_malformed_json_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/items", content=b'{"name": "saw", ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_path_and_query_params(client: httpx.Client) -> None:
    found = client.get("/items/1", params={"q": "sharp"})
    missing = client.get("/items/2")
    not_int = client.get("/items/two")

    assert found.status_code == 200
    assert found.json() == {"item_id": 1, "q": "sharp", "name": "hammer", "price": 9.5}
    assert missing.status_code == 404
    assert missing.json() == {"detail": "item 2 not found"}
    assert not_int.status_code == 422


def test_dependency_injection(client: httpx.Client) -> None:
    allowed = client.get("/me", headers={"X-Token": TOKEN})
    absent = client.get("/me")
    wrong = client.get("/me", headers={"X-Token": "guess"})

    assert allowed.status_code == 200
    assert allowed.json() == {"token": TOKEN}
    assert absent.status_code == 401
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "missing or wrong X-Token header"}


def test_exception_handler(client: httpx.Client) -> None:
    response = client.get("/buy/anvil")

    assert response.status_code == 409
    assert response.json() == {"error": "out of stock", "item": "anvil"}


def test_sync_endpoint_in_thread(client: httpx.Client) -> None:
    response = client.get("/sync-sum", params={"a": 40, "b": 2})

    assert response.status_code == 200
    assert response.json() == {"sum": 42}


def test_background_task_after_response(client: httpx.Client) -> None:
    """The response arrives while its background task still waits for a gate."""
    queued = client.post("/jobs/j1")

    assert queued.status_code == 202
    assert queued.json() == {"queued": "j1"}
    # Same connection: the server must take the next request while the
    # previous app call is still running its background task.
    assert client.get("/jobs/j1").json() == {"status": "waiting"}

    client.post("/gates/j1")
    deadline = time.monotonic() + POLL_LIMIT
    status = ""
    while time.monotonic() < deadline:
        status = client.get("/jobs/j1").json()["status"]
        if status == "done":
            break
        time.sleep(0.02)
    assert status == "done"


def test_upload_file(client: httpx.Client) -> None:
    data = os.urandom(1024 * 1024)

    response = client.post(
        "/files",
        data={"note": "a megabyte"},
        files={"file": ("data.bin", data, "application/x-test")},
    )

    assert response.status_code == 200
    assert response.json() == {
        "note": "a megabyte",
        "filename": "data.bin",
        "content_type": "application/x-test",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_upload_missing_field_is_422(client: httpx.Client) -> None:
    response = client.post("/files", data={"note": "no file"}, files={"other": ("x", b"x")})

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "file"]]


def test_openapi_schema(client: httpx.Client) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    assert "/items" in response.json()["paths"]


def test_lifespan_startup_and_shutdown(
    serve: Callable[..., Any], parser: str, tmp_path: Path
) -> None:
    events = tmp_path / "events.txt"

    with serve(create_app(events), http=parser) as running:
        assert events.read_text() == "startup\n"
        response = httpx.get(running.url + "/items/1", timeout=CLIENT_TIMEOUT)
        assert response.json()["name"] == "hammer"

    assert events.read_text() == "startup\nshutdown\n"


def test_served_by_cli(pounce_process: Callable[..., Any], tmp_path: Path) -> None:
    events = tmp_path / "events.txt"
    env = {"FASTAPI_SITE_EVENTS": str(events)}

    with pounce_process("fastapi_site:app", "--app-dir", str(HERE), env=env) as proc:
        with httpx.Client(base_url=proc.url, timeout=CLIENT_TIMEOUT) as client:
            created = client.post("/items", json={"name": "saw", "price": 3})
            invalid = client.post("/items", json={"price": "free"})
            allowed = client.get("/me", headers={"X-Token": TOKEN})
        code = proc.stop()

    assert created.status_code == 201
    assert created.json() == {"name": "saw", "price": 3.0, "tags": []}
    assert invalid.status_code == 422
    assert allowed.json() == {"token": TOKEN}
    assert code == 0, "".join(proc.log)
    assert events.read_text() == "startup\nshutdown\n"
