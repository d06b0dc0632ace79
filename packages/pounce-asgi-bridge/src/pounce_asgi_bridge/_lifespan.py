"""Run the ASGI lifespan protocol around the server's whole life.

Theory of operation
-------------------
``LifespanManager.startup`` calls the app once with a ``lifespan`` scope, in
a task of its own that lives until ``shutdown``. The manager and that task
talk through a queue of messages for the app and one future per phase,
which the app's ``send`` (or the task ending) resolves:

    startup():  put lifespan.startup  -> wait for complete, failed or the end
    shutdown(): put lifespan.shutdown -> wait for complete, failed or the end

The app's ``send`` moves through one transition table. Any message out of
place raises ``RuntimeError`` in the app's task, naming the message and the
phase.

Modes: "off" never calls the app. "on" requires the app to complete
startup. "auto" accepts an app that does not speak lifespan: if it raises or
returns before it has received ``lifespan.startup``, one log line reports
it and the server runs without lifespan. Django's ASGI handler, for one,
raises for any scope type it does not know. Once the app has received
``lifespan.startup``, a failure is a startup failure in "auto" as in "on".
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from typing import Any, Final, Literal

from ._types import ASGIApp, Message, Scope

__all__ = ["LIFESPAN_MODES", "LifespanFailure", "LifespanManager", "LifespanMode"]

_LOGGER: Final = logging.getLogger("pounce.bridge")

LifespanMode = Literal["auto", "on", "off"]
LIFESPAN_MODES: Final[tuple[LifespanMode, ...]] = ("auto", "on", "off")

# The ASGI lifespan spec version the scope announces.
LIFESPAN_SPEC_VERSION: Final = "2.0"


class LifespanFailure(Exception):
    """The application did not start: it reported a failure, raised, returned or timed out."""


class _Phase(enum.StrEnum):
    STARTING = "awaiting lifespan.startup.complete"
    SERVING = "serving"
    STOPPING = "awaiting lifespan.shutdown.complete"
    STOPPED = "stopped"
    FAILED = "failed"


_TRANSITIONS: Final[dict[tuple[_Phase, object], _Phase]] = {
    (_Phase.STARTING, "lifespan.startup.complete"): _Phase.SERVING,
    (_Phase.STARTING, "lifespan.startup.failed"): _Phase.FAILED,
    (_Phase.STOPPING, "lifespan.shutdown.complete"): _Phase.STOPPED,
    (_Phase.STOPPING, "lifespan.shutdown.failed"): _Phase.FAILED,
}


@dataclasses.dataclass(frozen=True, slots=True)
class _Reply:
    """The outcome of a phase: the app's reply, or the end of the app's task."""

    kind: Literal["complete", "failed", "ended"]
    message: str = ""
    error: Exception | None = None


class LifespanManager:
    """Runs an application's lifespan protocol for one server.

    ``state`` is the dict passed in the lifespan scope; the server hands it
    to ``HTTPScopeFactory`` so that each request scope gets a copy.
    ``supported`` is true after a completed startup. ``timeout`` bounds
    startup and shutdown, in seconds (None waits forever).
    """

    def __init__(
        self,
        app: ASGIApp,
        mode: LifespanMode = "auto",
        *,
        logger: logging.Logger | None = None,
        timeout: float | None = None,
    ) -> None:
        if mode not in LIFESPAN_MODES:
            raise ValueError(f"Invalid lifespan mode {mode!r}; expected one of {LIFESPAN_MODES}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"Invalid lifespan timeout {timeout!r}; expected seconds > 0 or None")
        self._app = app
        self._mode = mode
        self._logger = _LOGGER if logger is None else logger
        self._timeout = timeout
        self.state: dict[str, Any] = {}
        self.supported = False

        self._phase = _Phase.STARTING
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._reply: asyncio.Future[_Reply] | None = None
        self._task: asyncio.Task[None] | None = None
        self._startup_received = False
        self._app_error: Exception | None = None

    @property
    def mode(self) -> LifespanMode:
        """The lifespan mode: "auto", "on" or "off"."""
        return self._mode

    async def startup(self) -> None:
        """Start the app's lifespan task and wait for ``lifespan.startup.complete``.

        Raise ``LifespanFailure`` when the app sends ``lifespan.startup.failed``,
        raises or returns first (except in "auto" mode before it received
        ``lifespan.startup``), or does not reply within the timeout.
        """
        if self._mode == "off":
            return
        if self._task is not None:
            raise RuntimeError("LifespanManager.startup() was already called")

        self._phase = _Phase.STARTING
        reply = await self._run_phase({"type": "lifespan.startup"})
        if reply is None:
            await self._stop_task()
            raise LifespanFailure(
                f"The application did not complete lifespan startup within {self._timeout} s"
            )

        if reply.kind == "complete":
            self.supported = True
            return
        if reply.kind == "failed":
            await self._stop_task()
            raise LifespanFailure(
                reply.message or "The application sent lifespan.startup.failed without a message"
            ) from self._app_error

        if self._mode == "auto" and not self._startup_received:
            self._log_unsupported(reply.error)
            return
        if reply.error is not None:
            raise LifespanFailure(
                f"The application raised {reply.error!r} during lifespan startup"
            ) from reply.error
        raise LifespanFailure("The application returned before sending lifespan.startup.complete")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish.

        Log failures instead of raising them, because the server is stopping
        anyway. Do nothing unless startup completed.
        """
        task = self._task
        if task is None or not self.supported or task.done():
            # A task that ended while serving was logged when it ended.
            return

        self._phase = _Phase.STOPPING
        reply = await self._run_phase({"type": "lifespan.shutdown"})
        if reply is None:
            self._logger.error(
                "The application did not complete lifespan shutdown within %s s; cancelling it",
                self._timeout,
            )
        elif reply.kind == "failed":
            self._logger.error(
                "The application sent lifespan.shutdown.failed: %s", reply.message or "(no message)"
            )
        elif reply.kind == "ended" and reply.error is not None:
            self._logger.error(
                "The application raised an exception during lifespan shutdown", exc_info=reply.error
            )
        elif reply.kind == "ended":
            self._logger.warning(
                "The application returned without sending lifespan.shutdown.complete"
            )
        await self._stop_task()

    async def _run_phase(self, message: Message) -> _Reply | None:
        # Hand the app one message and wait for its reply; None means the
        # timeout passed first.
        reply_future: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
        self._reply = reply_future
        self._inbox.put_nowait(message)
        if self._task is None:
            self._task = asyncio.create_task(self._run_app())
        try:
            async with asyncio.timeout(self._timeout):
                return await reply_future
        except TimeoutError:
            return None

    async def _run_app(self) -> None:
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": LIFESPAN_SPEC_VERSION},
            "state": self.state,
        }
        error: Exception | None = None
        try:
            await self._app(scope, self._receive, self._send)
        except Exception as exc:
            error = exc
        self._app_error = error

        if self._reply is not None and not self._reply.done():
            self._reply.set_result(_Reply("ended", error=error))
        elif self._phase is _Phase.SERVING and error is not None:
            self._logger.error(
                "The application's lifespan task raised an exception while serving; "
                "lifespan.shutdown will not be sent",
                exc_info=error,
            )
        elif self._phase is _Phase.SERVING:
            self._logger.warning(
                "The application's lifespan task returned while serving; "
                "lifespan.shutdown will not be sent"
            )

    async def _receive(self) -> Message:
        message = await self._inbox.get()
        if message["type"] == "lifespan.startup":
            self._startup_received = True
        return message

    async def _send(self, message: Message) -> None:
        message_type = message.get("type")
        next_phase = _TRANSITIONS.get((self._phase, message_type))
        if next_phase is None:
            raise RuntimeError(
                f"Unexpected ASGI message {message_type!r} in lifespan state '{self._phase}'"
            )
        self._phase = next_phase

        reply = self._reply
        if reply is None or reply.done():
            # The phase timed out, so no caller waits for this reply anymore.
            return
        if next_phase is _Phase.SERVING or next_phase is _Phase.STOPPED:
            reply.set_result(_Reply("complete"))
        else:
            reply.set_result(_Reply("failed", message=str(message.get("message", ""))))

    def _log_unsupported(self, error: Exception | None) -> None:
        if error is None:
            self._logger.info(
                "The application returned before receiving lifespan.startup; "
                "serving without lifespan events"
            )
        else:
            self._logger.warning(
                "The application raised %r before receiving lifespan.startup, so it does not "
                "support lifespan; serving without lifespan events",
                error,
            )

    async def _stop_task(self) -> None:
        # The app's task has usually ended by now. If not, cancel it and
        # wait at most the timeout for it to finish.
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait({task}, timeout=self._timeout)
