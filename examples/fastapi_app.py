"""A small FastAPI application: validation, a dependency and a background task.

Run it from the repository root with::

    pounce examples.fastapi_app:app

then open http://127.0.0.1:8000/docs for the interactive API, or try::

    curl -X POST http://127.0.0.1:8000/notes -H 'content-type: application/json' \\
         -d '{"text": "buy milk"}'
    curl http://127.0.0.1:8000/notes

It needs ``pip install fastapi``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

logger = logging.getLogger("examples.fastapi_app")


class NoteIn(BaseModel):
    """A note as a client submits it."""

    text: str = Field(min_length=1, max_length=200)


class Note(NoteIn):
    """A stored note."""

    id: int


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Startup: a real app would open its database pool here.
    app.state.notes = {}
    yield
    # Shutdown: a real app would close its pool here.
    app.state.notes.clear()


app = FastAPI(title="Pounce example", lifespan=lifespan)


def get_notes(request: Request) -> dict[int, Note]:
    """Return the note store. It is a dependency, so tests can override it."""
    notes: dict[int, Note] = request.app.state.notes
    return notes


Notes = Annotated[dict[int, Note], Depends(get_notes)]


def log_new_note(note: Note) -> None:
    logger.info("note %d created: %s", note.id, note.text)


@app.get("/")
async def home() -> dict[str, str]:
    return {"message": "Hello from FastAPI on Pounce", "docs": "/docs"}


@app.post("/notes", status_code=201)
async def create_note(payload: NoteIn, notes: Notes, tasks: BackgroundTasks) -> Note:
    note = Note(id=len(notes) + 1, text=payload.text)
    notes[note.id] = note
    # Runs after the response has been sent.
    tasks.add_task(log_new_note, note)
    return note


@app.get("/notes")
async def list_notes(notes: Notes) -> list[Note]:
    return list(notes.values())


@app.get("/notes/{note_id}")
async def read_note(note_id: int, notes: Notes) -> Note:
    if note_id not in notes:
        raise HTTPException(status_code=404, detail=f"note {note_id} not found")
    return notes[note_id]
