"""HTTPCycle.receive: body pieces, then http.disconnect."""

from __future__ import annotations

import asyncio

from bridge_doubles import FakeSink, FakeSource, body, make_cycle, start


def test_receive_whole_body() -> None:
    async def scenario() -> None:
        cycle, source, _ = make_cycle(FakeSource([b"hello"]))
        assert await cycle.receive() == {
            "type": "http.request",
            "body": b"hello",
            "more_body": False,
        }
        assert source.reads == 1

    asyncio.run(scenario())


def test_receive_streams_pieces() -> None:
    async def scenario() -> None:
        cycle, _, _ = make_cycle(FakeSource([b"a", b"b", b""]))
        messages = [await cycle.receive() for _ in range(3)]
        assert messages == [
            {"type": "http.request", "body": b"a", "more_body": True},
            {"type": "http.request", "body": b"b", "more_body": True},
            {"type": "http.request", "body": b"", "more_body": False},
        ]

    asyncio.run(scenario())


def test_disconnect_after_body_waits_for_client() -> None:
    async def scenario() -> None:
        cycle, source, _ = make_cycle(FakeSource([b"x"]))
        await cycle.receive()
        waiter = asyncio.ensure_future(cycle.receive())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not waiter.done()
        assert source.waits == 1

        source.disconnected.set()
        assert await waiter == {"type": "http.disconnect"}
        assert source.reads == 1

    asyncio.run(scenario())


def test_disconnect_repeats_without_waiting() -> None:
    async def scenario() -> None:
        cycle, source, _ = make_cycle(FakeSource([b"x"]))
        await cycle.receive()
        source.disconnected.set()
        assert await cycle.receive() == {"type": "http.disconnect"}
        assert await cycle.receive() == {"type": "http.disconnect"}
        assert source.waits == 1

    asyncio.run(scenario())


def test_disconnect_at_once_after_response_complete() -> None:
    async def scenario() -> None:
        source = FakeSource([b"x"])
        # No link from sink to source: only the cycle's own state can
        # make receive return without waiting.
        cycle, _, _ = make_cycle(source, FakeSink())
        await cycle.send(start())
        await cycle.send(body(b"done"))
        assert cycle.response_complete
        assert await cycle.receive() == {"type": "http.disconnect"}
        assert source.reads == 0
        assert source.waits == 0

    asyncio.run(scenario())


def test_disconnect_after_read_and_response() -> None:
    async def scenario() -> None:
        source = FakeSource([b"x"])
        cycle, _, _ = make_cycle(source, FakeSink())
        await cycle.receive()
        await cycle.send(start())
        await cycle.send(body(b"done"))
        assert await cycle.receive() == {"type": "http.disconnect"}
        assert source.waits == 0

    asyncio.run(scenario())


def test_disconnect_raised_by_source() -> None:
    async def scenario() -> None:
        cycle, source, _ = make_cycle(FakeSource([b"part"], disconnect_after_body=True))
        assert await cycle.receive() == {"type": "http.request", "body": b"part", "more_body": True}
        assert await cycle.receive() == {"type": "http.disconnect"}
        assert await cycle.receive() == {"type": "http.disconnect"}
        assert source.reads == 2
        assert source.waits == 0

    asyncio.run(scenario())


def test_disconnect_during_streamed_response() -> None:
    async def scenario() -> None:
        cycle, source, _ = make_cycle(FakeSource([b""]), FakeSink())
        await cycle.receive()
        await cycle.send(start())
        await cycle.send(body(b"chunk", more_body=True))
        waiter = asyncio.ensure_future(cycle.receive())
        await asyncio.sleep(0)
        assert not waiter.done()
        source.disconnected.set()
        assert await waiter == {"type": "http.disconnect"}

    asyncio.run(scenario())
