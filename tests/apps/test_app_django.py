"""Django's ASGI handler served by Pounce, which runs it without lifespan."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from app_helpers import CLIENT_TIMEOUT, PARSERS

pytest.importorskip(
    "django", reason="Django is not installed; add it to the test environment to run these tests"
)

# Imported after the skip, because importing it configures Django.
from django_site import application


@pytest.fixture(params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(serve: Callable[..., Any], parser: str) -> Iterator[httpx.Client]:
    with (
        serve(application, http=parser, lifespan="auto") as running,
        httpx.Client(base_url=running.url, timeout=CLIENT_TIMEOUT) as http_client,
    ):
        yield http_client


def pounce_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name.startswith("pounce") and record.levelno >= logging.WARNING
    ]


def test_serves_without_lifespan(
    serve: Callable[..., Any], parser: str, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(application, http=parser, lifespan="auto") as running:
        response = httpx.get(running.url + "/hello/pounce/", timeout=CLIENT_TIMEOUT)

    assert response.status_code == 200
    assert response.json() == {"hello": "pounce", "method": "GET", "q": None}
    # Exactly one line reports the missing lifespan support, and nothing else warns.
    records = pounce_warnings(caplog)
    assert len(records) == 1, [record.getMessage() for record in records]
    assert records[0].levelno == logging.WARNING
    assert "does not support lifespan" in records[0].getMessage()
    assert "serving without lifespan" in records[0].getMessage()


def test_lifespan_on_fails_startup(serve: Callable[..., Any]) -> None:
    """With lifespan required, Django's refusal of the lifespan scope stops startup."""
    with pytest.raises(RuntimeError, match="startup failed"), serve(application, lifespan="on"):
        pass


def test_get_with_query(client: httpx.Client) -> None:
    response = client.get("/hello/world/", params={"q": "a b"})

    assert response.status_code == 200
    assert response.json() == {"hello": "world", "method": "GET", "q": "a b"}


def test_csrf_exempt_post(client: httpx.Client) -> None:
    data = os.urandom(200_000)

    response = client.post("/echo/", content=data, headers={"content-type": "application/x-test"})

    assert response.status_code == 200
    assert response.json() == {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": "application/x-test",
    }


def test_chunked_post(client: httpx.Client) -> None:
    pieces = [b"first ", b"second ", b"third"]

    response = client.post("/echo/", content=iter(pieces))

    assert response.status_code == 200
    assert response.json()["size"] == len(b"".join(pieces))


def test_csrf_guard_rejects_post(client: httpx.Client) -> None:
    """The CSRF middleware runs: a POST to a view that is not exempt is rejected."""
    response = client.post("/guarded/", content=b"x")

    assert response.status_code == 403
    assert client.get("/guarded/").text == "reached the guarded view"


def test_async_view(client: httpx.Client) -> None:
    response = client.get("/pause/")

    assert response.status_code == 200
    assert response.json() == {"async": True}


def test_not_found_and_error(client: httpx.Client) -> None:
    missing = client.get("/nowhere/")
    broken = client.get("/broken/")

    assert missing.status_code == 404
    assert broken.status_code == 500
    # Django turned the exception into a 500 response, and the server keeps serving.
    assert client.get("/hello/again/").status_code == 200


def test_disallowed_host(client: httpx.Client) -> None:
    response = client.get("/hello/x/", headers={"host": "example.invalid"})

    assert response.status_code == 400
