"""ASGI apps that tell the test what they did, or wait for the test to let them go on.

Each app is an instance of a module-level dataclass whose fields are
``FileEvent`` and ``FileQueue`` objects under the test's ``tmp_path``. Process
workers receive the app by pickling, which copies those fields, and the copies
use the same files. With thread workers or one worker, the test and the app
share the objects themselves. Either way, the test sees ``entered`` set once
a request has reached the app, and reads ``outcome`` lines in the order the
app wrote them.

Keep this module free of heavy imports: every worker process imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass

from cross_process import FileEvent, FileQueue
from http1_apps import Receive, Scope, Send, read_body, send_text

__all__ = [
    "BackgroundWorkApp",
    "BodyCountingApp",
    "ConcurrentReceiveApp",
    "GatedApp",
    "GatedEchoApp",
    "LongPollApp",
    "LoopBlockingApp",
    "PathRecordingApp",
    "PipelinedEchoApp",
    "ReceiveTwiceApp",
    "SendWithTimeoutApp",
    "SleepingApp",
    "StragglerApp",
    "StreamUntilDisconnectApp",
    "StreamUntilWriteFailsApp",
    "TimedOutReceiveApp",
]

#: Seconds an app waits for its gate before it gives up and responds anyway.
GATE_TIMEOUT = 10.0


def _outcome_of(awaitable_name: str, error: BaseException) -> str:
    return f"{awaitable_name}: {type(error).__name__}"


# Gates: the app keeps a request waiting until the test sets the gate.


@dataclass(frozen=True)
class GatedApp:
    """Hold ``/slow`` until ``gate`` is set, then send the path; other paths respond at once."""

    entered: FileEvent
    gate: FileEvent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            self.entered.set()
            await self.gate.wait_async(GATE_TIMEOUT)
        await send_text(send, 200, scope["path"].encode())


@dataclass(frozen=True)
class GatedEchoApp:
    """Echo the body, but read it only once ``gate`` is set."""

    entered: FileEvent
    gate: FileEvent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.entered.set()
        await self.gate.wait_async(GATE_TIMEOUT)
        await send_text(send, 200, await read_body(receive))


# Shutdown: requests in flight when the server stops.


@dataclass(frozen=True)
class SleepingApp:
    """Sleep ``delay`` seconds on ``/slow`` and report whether that finished or was cancelled."""

    entered: FileEvent
    outcome: FileQueue
    delay: float

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/slow":
            await send_text(send, 200, b"quick")
            return
        self.entered.set()
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.outcome.put("cancelled")
            raise
        self.outcome.put("finished")
        await send_text(send, 200, b"slow done")


@dataclass(frozen=True)
class StragglerApp:
    """Read the body, then wait in ``receive()`` and report what ended the wait."""

    entered: FileEvent
    outcome: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()
        self.entered.set()
        try:
            message = await receive()
        except asyncio.CancelledError:
            self.outcome.put("cancelled")
            raise
        self.outcome.put(message["type"])


@dataclass(frozen=True)
class BackgroundWorkApp:
    """Respond, then work ``seconds`` more; report the work's end and lifespan shutdown.

    Each line starts with the process id: process workers each run their own
    lifespan, and the test compares the lines of the process that did the work.
    """

    events: FileQueue
    seconds: float

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pid = os.getpid()
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    self.events.put(f"{pid} lifespan shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send_text(send, 200, b"accepted")
        # Work after the response, as background tasks of frameworks do.
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.events.put(f"{pid} background work cancelled")
            raise
        self.events.put(f"{pid} background work finished")


# Clients that leave: what the app receives when they do.


@dataclass(frozen=True)
class BodyCountingApp:
    """Count body bytes until the end or a disconnect, and report which came."""

    outcome: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.outcome.put(f"http.disconnect after {received} bytes")
                return
            received += len(message["body"])
            if not message.get("more_body", False):
                self.outcome.put("body complete")
                await send_text(send, 200, b"unexpected")
                return


@dataclass(frozen=True)
class ReceiveTwiceApp:
    """Call ``receive()`` twice and report both message types."""

    outcome: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        first = await receive()
        second = await receive()
        self.outcome.put(f"{first['type']} then {second['type']}")


@dataclass(frozen=True)
class StreamUntilDisconnectApp:
    """Stream 16 KiB pieces, 80 MB at most, and report how sending ended."""

    outcome: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"z" * 16384
        try:
            # Bounded: far more than fits in the socket buffers.
            for _ in range(5000):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(0)
        except OSError as exc:
            self.outcome.put(f"send raised {type(exc).__name__}")
            raise
        self.outcome.put("all chunks sent")
        await send({"type": "http.response.body", "body": b""})


@dataclass(frozen=True)
class StreamUntilWriteFailsApp:
    """Stream 64 KiB pieces, 128 MiB at most, and report whether a send raised."""

    outcome: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"s" * 65536
        try:
            for _ in range(2000):  # Far beyond the socket buffers.
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:
            self.outcome.put("send raised")
            return
        self.outcome.put("all sent")


@dataclass(frozen=True)
class PathRecordingApp:
    """Record each request's path and respond ``answered <path>`` without reading the body."""

    paths: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.put(scope["path"])
            await send_text(send, 200, b"answered " + scope["path"].encode())


@dataclass(frozen=True)
class LongPollApp:
    """On ``/poll``, read the body and wait up to 5 s for one more message; report its type.

    Other paths respond ``next`` at once.
    """

    entered: FileEvent
    outcome: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/poll":
            await send_text(send, 200, b"next")
            return
        await read_body(receive)
        self.entered.set()
        # A long poll: nothing to send until the client goes away.
        try:
            message = await asyncio.wait_for(receive(), 5)
        except TimeoutError:
            self.outcome.put("no disconnect within 5 seconds")
            return
        self.outcome.put(str(message["type"]))


# Waits that an app gives up on.


@dataclass(frozen=True)
class TimedOutReceiveApp:
    """Give up on one ``receive()`` while another waits for the disconnect; report both ends."""

    outcome: FileQueue

    async def _wait_for_disconnect(self, receive: Receive) -> str:
        try:
            message = await asyncio.wait_for(receive(), 10)
        except BaseException as exc:
            return _outcome_of("receive", exc)
        return str(message["type"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()  # The empty body.
        listener = asyncio.ensure_future(self._wait_for_disconnect(receive))
        await asyncio.sleep(0)
        # A common way to ask "has the client gone?" without blocking.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receive(), 0.05)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        self.outcome.put(await self._wait_for_disconnect(receive))
        self.outcome.put(await listener)


@dataclass(frozen=True)
class ConcurrentReceiveApp:
    """Call ``receive()`` from two tasks at once; report how many returned, send their bodies."""

    waiting: FileEvent
    outcome: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        first = asyncio.ensure_future(receive())
        second = asyncio.ensure_future(receive())
        await asyncio.sleep(0)
        self.waiting.set()
        done, pending = await asyncio.wait({first, second}, timeout=3)
        for task in pending:
            task.cancel()
        self.outcome.put(f"{len(done)} returned")
        bodies = sorted(task.result()["body"] for task in done)
        await send_text(send, 200, b"|".join(bodies))


@dataclass(frozen=True)
class SendWithTimeoutApp:
    """Stream with a timeout on each send, then send once more after one timed out."""

    outcome: FileQueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = {"type": "http.response.body", "body": b"x" * 65536, "more_body": True}
        for _ in range(2000):
            try:
                await asyncio.wait_for(send(chunk), 0.2)
            except TimeoutError:
                break
        else:
            self.outcome.put("the client never stopped reading")
            return
        # The client is slow, not gone: a second try must time out the same way.
        try:
            await asyncio.wait_for(send(chunk), 0.2)
        except BaseException as exc:
            self.outcome.put(_outcome_of("send", exc))
            if not isinstance(exc, TimeoutError):
                raise
            return
        self.outcome.put("send: completed")


# Pipelined requests racing the event loop.


@dataclass(frozen=True)
class PipelinedEchoApp:
    """Block the loop 0.5 s on ``/first`` before responding; echo the body elsewhere."""

    entered: FileEvent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/first":
            self.entered.set()
            # Block the loop while the rest of the second body arrives, then
            # respond in the same loop pass that reads it.
            time.sleep(0.5)
            await asyncio.sleep(0)
            await send_text(send, 200, b"first")
            return
        body = await asyncio.wait_for(read_body(receive), 3)
        await send_text(send, 200, body)


@dataclass(frozen=True)
class LoopBlockingApp:
    """Block the loop 0.5 s on ``/first``, then send the path, as every other path does at once."""

    entered: FileEvent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/first":
            self.entered.set()
            # Block the loop while the test requests the shutdown, then let
            # it begin in the same loop pass that starts the second request.
            time.sleep(0.5)
            await asyncio.sleep(0)
        await send_text(send, 200, scope["path"].encode())
