"""A small Starlette application: routes, JSON, streaming and lifespan state.

Run it from the repository root with::

    pounce examples.starlette_app:app

then try http://127.0.0.1:8000/, http://127.0.0.1:8000/hello/world?shout=1 and
``curl -N http://127.0.0.1:8000/count`` (the numbers arrive one by one).
It needs ``pip install starlette``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    # Each request's state starts as a copy of what the lifespan yields.
    yield {"greeting": "Hello from Starlette on Pounce"}


async def home(request: Request) -> JSONResponse:
    return JSONResponse({"message": request.state.greeting})


async def hello(request: Request) -> JSONResponse:
    greeting = f"Hello, {request.path_params['name']}!"
    if request.query_params.get("shout") == "1":
        greeting = greeting.upper()
    return JSONResponse({"greeting": greeting})


async def count(request: Request) -> StreamingResponse:
    async def numbers() -> AsyncIterator[bytes]:
        for number in range(1, 6):
            yield f"{number}\n".encode()
            await asyncio.sleep(0.2)

    return StreamingResponse(numbers(), media_type="text/plain")


app = Starlette(
    routes=[
        Route("/", home),
        Route("/hello/{name}", hello),
        Route("/count", count),
    ],
    lifespan=lifespan,
)
