"""A FastAPI application that uses the framework features that depend on the server.

``create_app`` builds a fresh app. Its lifespan appends ``startup`` and
``shutdown`` lines to ``events_file`` when one is given, so a test can see
that both ran, even from outside a server process. The module-level ``app``
takes that path from the ``FASTAPI_SITE_EVENTS`` environment variable, for
``pounce fastapi_site:app``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import (
    BackgroundTasks,
    Depends,
    FastAPI,
    Form,
    Header,
    HTTPException,
    Request,
    UploadFile,
)
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

#: Seconds a background job waits for the test to open its gate.
GATE_TIMEOUT = 30.0
#: The token that ``require_token`` accepts.
TOKEN = "secret-token"


class Item(BaseModel):
    """An item as a client submits it."""

    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


class ItemOut(BaseModel):
    """An item as the API returns it. FastAPI filters out fields not listed here."""

    name: str
    price: float
    tags: list[str]


class OutOfStock(Exception):
    """An error for an item that cannot be bought, which a handler maps to 409."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def record(events_file: Path | None, line: str) -> None:
    """Append one line to the events file, if there is one."""
    if events_file is not None:
        with events_file.open("a", encoding="utf-8") as file:
            file.write(line + "\n")


# Dependencies: a settings provider, and a token check that uses it. They
# live at module level because FastAPI resolves the string annotations that
# name them in the endpoint's module globals.
def get_settings() -> dict[str, str]:
    return {"token": TOKEN}


def require_token(
    settings: Annotated[dict[str, str], Depends(get_settings)],
    x_token: Annotated[str | None, Header()] = None,
) -> str:
    if x_token != settings["token"]:
        raise HTTPException(401, "missing or wrong X-Token header")
    return x_token


def create_app(events_file: Path | None = None) -> FastAPI:
    """Build the FastAPI test application."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        record(events_file, "startup")
        app.state.inventory = {1: {"name": "hammer", "price": 9.5}}
        app.state.gates = {}
        app.state.jobs = {}
        yield
        record(events_file, "shutdown")

    app = FastAPI(lifespan=lifespan)

    def gate(token: str) -> asyncio.Event:
        gates: dict[str, asyncio.Event] = app.state.gates
        return gates.setdefault(token, asyncio.Event())

    @app.exception_handler(OutOfStock)
    async def out_of_stock(request: Request, exc: OutOfStock) -> JSONResponse:
        return JSONResponse(status_code=409, content={"error": "out of stock", "item": exc.name})

    @app.post("/items", response_model=ItemOut, status_code=201)
    async def create_item(item: Item) -> dict[str, Any]:
        # The extra key must not reach the client: response_model filters it.
        return {**item.model_dump(), "internal_note": "not for clients"}

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, request: Request, q: str | None = None) -> dict[str, Any]:
        inventory: dict[int, dict[str, Any]] = request.app.state.inventory
        if item_id not in inventory:
            raise HTTPException(404, f"item {item_id} not found")
        return {"item_id": item_id, "q": q, **inventory[item_id]}

    @app.get("/me")
    async def me(token: Annotated[str, Depends(require_token)]) -> dict[str, str]:
        return {"token": token}

    @app.get("/buy/{name}")
    async def buy(name: str) -> dict[str, str]:
        raise OutOfStock(name)

    @app.get("/sync-sum")
    def sync_sum(a: int, b: int) -> dict[str, int]:
        # A plain function: FastAPI runs it in a worker thread.
        return {"sum": a + b}

    async def finish_job(token: str) -> None:
        await asyncio.wait_for(gate(token).wait(), GATE_TIMEOUT)
        app.state.jobs[token] = "done"

    @app.post("/jobs/{token}", status_code=202)
    async def start_job(token: str, tasks: BackgroundTasks) -> dict[str, str]:
        app.state.jobs[token] = "waiting"
        tasks.add_task(finish_job, token)
        return {"queued": token}

    @app.get("/jobs/{token}")
    async def job_status(token: str) -> dict[str, str]:
        return {"status": app.state.jobs.get(token, "unknown")}

    @app.post("/gates/{token}")
    async def open_gate(token: str) -> dict[str, str]:
        gate(token).set()
        return {"opened": token}

    @app.post("/files")
    async def upload(file: UploadFile, note: Annotated[str, Form()]) -> dict[str, Any]:
        data = await file.read()
        return {
            "note": note,
            "filename": file.filename,
            "content_type": file.content_type,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    return app


def _events_file_from_environment() -> Path | None:
    value = os.environ.get("FASTAPI_SITE_EVENTS")
    return Path(value) if value else None


#: A module-level app for ``pounce fastapi_site:app``.
app = create_app(_events_file_from_environment())
