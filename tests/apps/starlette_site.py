"""A Starlette application that uses the server features real apps depend on.

``create_app`` builds a fresh app for each test, so no state leaks between
servers. The endpoints return JSON that describes what the app saw:
path parameters, query strings, bodies read whole or as a stream, uploaded
files, lifespan state and the ASGI scope's ``root_path`` and ``client``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

#: Seconds a gated stream waits for the test to open its gate.
GATE_TIMEOUT = 30.0


def create_app() -> Starlette:
    """Build the Starlette test application."""
    gates: dict[str, asyncio.Event] = {}

    def gate(token: str) -> asyncio.Event:
        return gates.setdefault(token, asyncio.Event())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        app.state.started = True
        # The yielded dict becomes the lifespan state that each request
        # scope gets a copy of, seen by the app as request.state.
        yield {"greeting": "hello from lifespan"}
        app.state.started = False

    async def item(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "item_id": request.path_params["item_id"],
                "q": request.query_params.get("q"),
                "tags": request.query_params.getlist("tag"),
            }
        )

    async def user(request: Request) -> JSONResponse:
        return JSONResponse({"name": request.path_params["name"]})

    async def echo_json(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse({"received": payload, "keys": sorted(payload)})

    async def stream(request: Request) -> StreamingResponse:
        count = int(request.query_params.get("count", "10"))

        async def lines() -> AsyncIterator[bytes]:
            for index in range(count):
                yield f"chunk {index}\n".encode()
                # Hand control back to the loop so each chunk is its own send.
                await asyncio.sleep(0)

        return StreamingResponse(lines(), media_type="text/plain")

    async def gated_stream(request: Request) -> StreamingResponse:
        event = gate(request.path_params["token"])

        async def parts() -> AsyncIterator[bytes]:
            yield b"before the gate\n"
            await asyncio.wait_for(event.wait(), GATE_TIMEOUT)
            yield b"after the gate\n"

        return StreamingResponse(parts(), media_type="text/plain")

    async def open_gate(request: Request) -> PlainTextResponse:
        gate(request.path_params["token"]).set()
        return PlainTextResponse("opened")

    async def upload(request: Request) -> JSONResponse:
        async with request.form() as form:
            upload = form["file"]
            if not isinstance(upload, UploadFile):
                raise HTTPException(400, "the 'file' field is not a file")
            data = await upload.read()
            return JSONResponse(
                {
                    "label": form["label"],
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )

    async def whole_body(request: Request) -> JSONResponse:
        data = await request.body()
        return JSONResponse({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})

    async def streamed_body(request: Request) -> JSONResponse:
        digest = hashlib.sha256()
        size = 0
        async for piece in request.stream():
            digest.update(piece)
            size += len(piece)
        return JSONResponse({"size": size, "sha256": digest.hexdigest()})

    async def boom(request: Request) -> Response:
        raise RuntimeError("the boom endpoint always fails")

    async def missing(request: Request) -> Response:
        raise HTTPException(404, "no such thing")

    async def state(request: Request) -> JSONResponse:
        return JSONResponse(
            {"greeting": request.state.greeting, "started": request.app.state.started}
        )

    async def where(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "root_path": request.scope["root_path"],
                "path": request.scope["path"],
                "url_for": str(request.url_for("item", item_id=7)),
            }
        )

    async def client(request: Request) -> JSONResponse:
        address = request.client
        return JSONResponse(
            {"host": address.host if address else None, "port": address.port if address else None}
        )

    async def websocket(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("Pounce does not serve WebSocket yet, so this is never sent")
        await ws.close()

    routes = [
        Route("/items/{item_id:int}", item, name="item"),
        Route("/users/{name}", user),
        Route("/json", echo_json, methods=["POST"]),
        Route("/stream", stream),
        Route("/gated-stream/{token}", gated_stream),
        Route("/gates/{token}", open_gate, methods=["POST"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/body", whole_body, methods=["POST"]),
        Route("/stream-body", streamed_body, methods=["POST"]),
        Route("/boom", boom),
        Route("/missing", missing),
        Route("/state", state),
        Route("/where", where),
        Route("/client", client),
        WebSocketRoute("/ws", websocket),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


#: A module-level app for ``pounce starlette_site:app``.
app = create_app()
