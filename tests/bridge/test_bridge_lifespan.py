"""LifespanManager: modes, startup and shutdown outcomes, state."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from pounce_asgi_bridge import (
    LIFESPAN_MODES,
    HTTPScopeFactory,
    LifespanFailure,
    LifespanManager,
    LifespanMode,
    Receive,
    Scope,
    Send,
)


class LifespanApp:
    """A lifespan app that records what it receives.

    ``on_startup`` and ``on_shutdown`` choose the reply: "complete",
    "failed" (with a message), "raise", "return" or "hang".
    """

    def __init__(self, on_startup: str = "complete", on_shutdown: str = "complete") -> None:
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown
        self.received: list[str] = []
        self.scope: Scope | None = None
        self.cancelled = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        try:
            message = await receive()
            self.received.append(message["type"])
            scope["state"]["db"] = "connected"
            if await self._reply(self.on_startup, "startup", send):
                return
            message = await receive()
            self.received.append(message["type"])
            await self._reply(self.on_shutdown, "shutdown", send)
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def _reply(self, action: str, phase: str, send: Send) -> bool:
        if action == "complete":
            await send({"type": f"lifespan.{phase}.complete"})
            return False
        if action == "failed":
            await send({"type": f"lifespan.{phase}.failed", "message": f"{phase} went wrong"})
            return True
        if action == "raise":
            raise RuntimeError(f"{phase} crashed")
        if action == "hang":
            await asyncio.sleep(3600)
        return True


async def raise_at_once(scope: Scope, receive: Receive, send: Send) -> None:
    # Django's ASGI handler behaves so: it rejects scope types it does not know.
    raise ValueError(f"unsupported scope type {scope['type']!r}")


async def return_at_once(scope: Scope, receive: Receive, send: Send) -> None:
    return


def bridge_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "pounce.bridge" and r.levelno == level]


def test_modes_constant() -> None:
    assert LIFESPAN_MODES == ("auto", "on", "off")


def test_invalid_mode_rejected() -> None:
    with pytest.raises(ValueError, match="Invalid lifespan mode 'sometimes'"):
        LifespanManager(return_at_once, "sometimes")  # type: ignore[arg-type]


def test_invalid_timeout_rejected() -> None:
    with pytest.raises(ValueError, match="Invalid lifespan timeout 0"):
        LifespanManager(return_at_once, timeout=0)


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_normal_app(mode: LifespanMode, caplog: pytest.LogCaptureFixture) -> None:
    app = LifespanApp()

    async def scenario() -> None:
        manager = LifespanManager(app, mode)
        await manager.startup()
        assert manager.supported
        assert app.received == ["lifespan.startup"]
        await manager.shutdown()
        assert app.received == ["lifespan.startup", "lifespan.shutdown"]
        assert manager.state == {"db": "connected"}

    asyncio.run(scenario())
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_lifespan_scope() -> None:
    app = LifespanApp()

    async def scenario() -> None:
        manager = LifespanManager(app, "on")
        await manager.startup()
        assert app.scope is not None
        assert app.scope["type"] == "lifespan"
        assert app.scope["asgi"] == {"version": "3.0", "spec_version": "2.0"}
        assert app.scope["state"] is manager.state
        await manager.shutdown()

    asyncio.run(scenario())


def test_state_reaches_request_scopes() -> None:
    async def scenario() -> None:
        manager = LifespanManager(LifespanApp(), "on")
        factory = HTTPScopeFactory(state=manager.state)
        await manager.startup()
        scope = factory.build(b"GET", b"/", "1.1", [], None)
        assert scope["state"] == {"db": "connected"}
        assert scope["state"] is not manager.state
        await manager.shutdown()

    asyncio.run(scenario())


def test_off_runs_nothing() -> None:
    app = LifespanApp()

    async def scenario() -> None:
        manager = LifespanManager(app, "off")
        await manager.startup()
        await manager.shutdown()
        assert not manager.supported
        assert manager.state == {}

    asyncio.run(scenario())
    assert app.scope is None


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_startup_failed_with_message(mode: LifespanMode) -> None:
    app = LifespanApp(on_startup="failed")

    async def scenario() -> None:
        manager = LifespanManager(app, mode)
        with pytest.raises(LifespanFailure, match=r"^startup went wrong$"):
            await manager.startup()
        assert not manager.supported
        await manager.shutdown()

    asyncio.run(scenario())
    assert app.received == ["lifespan.startup"]


def test_startup_failed_without_message() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed"})

    async def scenario() -> None:
        with pytest.raises(LifespanFailure, match="without a message"):
            await LifespanManager(app, "on").startup()

    asyncio.run(scenario())


def test_startup_failed_then_raise_chains_error() -> None:
    # Frameworks often report the failure, then re-raise the error.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        raise ConnectionRefusedError("db:5432")

    async def scenario() -> None:
        with pytest.raises(LifespanFailure, match="no database") as caught:
            await LifespanManager(app, "on").startup()
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)

    asyncio.run(scenario())


def test_auto_raise_before_receive_is_unsupported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pounce.bridge")

    async def scenario() -> None:
        manager = LifespanManager(raise_at_once, "auto")
        await manager.startup()
        assert not manager.supported
        await manager.shutdown()

    asyncio.run(scenario())
    records = [r for r in caplog.records if r.name == "pounce.bridge"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert "serving without lifespan" in records[0].getMessage()


def test_auto_return_before_receive_is_unsupported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pounce.bridge")

    async def scenario() -> None:
        manager = LifespanManager(return_at_once, "auto")
        await manager.startup()
        assert not manager.supported
        await manager.shutdown()

    asyncio.run(scenario())
    records = [r for r in caplog.records if r.name == "pounce.bridge"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO


def test_on_raise_before_receive_fails() -> None:
    async def scenario() -> None:
        with pytest.raises(LifespanFailure, match="raised ValueError") as caught:
            await LifespanManager(raise_at_once, "on").startup()
        assert isinstance(caught.value.__cause__, ValueError)

    asyncio.run(scenario())


def test_on_return_before_receive_fails() -> None:
    async def scenario() -> None:
        with pytest.raises(LifespanFailure, match="returned before sending"):
            await LifespanManager(return_at_once, "on").startup()

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_raise_after_receive_fails(mode: LifespanMode) -> None:
    app = LifespanApp(on_startup="raise")

    async def scenario() -> None:
        with pytest.raises(LifespanFailure, match="startup crashed") as caught:
            await LifespanManager(app, mode).startup()
        assert isinstance(caught.value.__cause__, RuntimeError)

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_return_after_receive_fails(mode: LifespanMode) -> None:
    app = LifespanApp(on_startup="return")

    async def scenario() -> None:
        with pytest.raises(
            LifespanFailure, match=r"returned before sending lifespan.startup.complete"
        ):
            await LifespanManager(app, mode).startup()

    asyncio.run(scenario())


def test_startup_timeout() -> None:
    app = LifespanApp(on_startup="hang")

    async def scenario() -> None:
        manager = LifespanManager(app, "on", timeout=0.05)
        with pytest.raises(
            LifespanFailure, match=r"did not complete lifespan startup within 0.05 s"
        ):
            await manager.startup()
        assert not manager.supported

    asyncio.run(scenario())
    assert app.cancelled


def test_startup_twice_rejected() -> None:
    async def scenario() -> None:
        manager = LifespanManager(LifespanApp(), "on")
        await manager.startup()
        with pytest.raises(RuntimeError, match="already called"):
            await manager.startup()
        await manager.shutdown()

    asyncio.run(scenario())


def test_shutdown_failed_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = LifespanApp(on_shutdown="failed")

    async def scenario() -> None:
        manager = LifespanManager(app, "on")
        await manager.startup()
        await manager.shutdown()

    asyncio.run(scenario())
    [record] = bridge_records(caplog, logging.ERROR)
    assert "lifespan.shutdown.failed: shutdown went wrong" in record.getMessage()


def test_shutdown_raise_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = LifespanApp(on_shutdown="raise")

    async def scenario() -> None:
        manager = LifespanManager(app, "on")
        await manager.startup()
        await manager.shutdown()

    asyncio.run(scenario())
    [record] = bridge_records(caplog, logging.ERROR)
    assert "during lifespan shutdown" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_shutdown_return_without_complete_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = LifespanApp(on_shutdown="return")

    async def scenario() -> None:
        manager = LifespanManager(app, "on")
        await manager.startup()
        await manager.shutdown()

    asyncio.run(scenario())
    [record] = bridge_records(caplog, logging.WARNING)
    assert "without sending lifespan.shutdown.complete" in record.getMessage()


def test_shutdown_timeout_cancels_app(caplog: pytest.LogCaptureFixture) -> None:
    app = LifespanApp(on_shutdown="hang")

    async def scenario() -> None:
        manager = LifespanManager(app, "on", timeout=0.05)
        await manager.startup()
        await manager.shutdown()

    asyncio.run(scenario())
    assert app.cancelled
    [record] = bridge_records(caplog, logging.ERROR)
    assert "did not complete lifespan shutdown within 0.05 s" in record.getMessage()


def test_shutdown_without_startup_is_noop() -> None:
    app = LifespanApp()
    asyncio.run(LifespanManager(app, "on").shutdown())
    assert app.scope is None


def test_app_crash_while_serving_logged(caplog: pytest.LogCaptureFixture) -> None:
    crash = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await crash.wait()
        raise RuntimeError("background failure")

    async def scenario() -> None:
        manager = LifespanManager(app, "on")
        await manager.startup()
        crash.set()
        for _ in range(5):
            await asyncio.sleep(0)
        await manager.shutdown()

    asyncio.run(scenario())
    [record] = bridge_records(caplog, logging.ERROR)
    assert "while serving" in record.getMessage()


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        (
            [{"type": "lifespan.shutdown.complete"}],
            r"Unexpected ASGI message 'lifespan.shutdown.complete' in lifespan state "
            r"'awaiting lifespan.startup.complete'",
        ),
        (
            [{"type": "lifespan.startup.complete"}, {"type": "lifespan.startup.complete"}],
            r"'lifespan.startup.complete' in lifespan state 'serving'",
        ),
        ([{"type": "http.response.start"}], r"'http.response.start' in lifespan state"),
    ],
)
def test_send_out_of_order_raises_in_app(messages: list[dict[str, Any]], match: str) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            for message in messages:
                await send(message)
        except RuntimeError as exc:
            errors.append(exc)
            await send({"type": "lifespan.startup.failed", "message": "gave up"})

    async def scenario() -> None:
        manager = LifespanManager(app, "on")
        try:
            await manager.startup()
        except LifespanFailure:
            pass
        else:
            await manager.shutdown()

    asyncio.run(scenario())
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert re.search(match, str(errors[0])), str(errors[0])


def test_custom_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        manager = LifespanManager(return_at_once, "auto", logger=logging.getLogger("tests.custom"))
        await manager.startup()

    asyncio.run(scenario())
    assert [r.name for r in caplog.records] == ["tests.custom"]
