"""The HTTP/1.1 connection handler: one ``asyncio.Protocol`` per connection.

Theory of operation
-------------------
Bytes arrive in ``data_received`` and go straight into the sans-I/O machine
(``pounce_protocols.http1``). Its events drive one ``RequestCycle`` at a
time; the app runs in its own task through the bridge's ``HTTPCycle``.
Pipelined requests wait in the machine's buffer and are answered in order.

Deadlines are plain numbers, not timers: ``deadline`` says when an idle or
slow connection must go, and the worker's sweeper closes the ones that have
passed it. A request costs no timer objects, and a closed connection leaves
none behind.

- A fresh connection has ``timeout_header`` to send a whole head, and
  ``timeout_keep_alive`` to send its first byte.
- After a response, the same two rules run again from the moment it ended.
  Neither is extended by bytes that arrive: a client that trickles one byte
  a second still loses the connection when the head deadline passes.
- While the app runs, no deadline applies to it, but the client must keep
  reading: response bytes waiting in the transport (while the app is held
  by backpressure, or after the connection was closed) must shrink within
  ``timeout_write``, or the connection is dropped.

After a response, the connection is kept only when both sides allow it and
the request body was read to its end; a small unread rest is drained first
(at most ``limit_unread_body`` bytes), a larger one closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
import sys
from time import perf_counter
from typing import Any, cast

from pounce_asgi_bridge import HTTPCycle
from pounce_protocols.http1 import (
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    ProtocolError,
    Request,
    create_connection,
)

from .context import WorkerContext
from .cycle import RequestCycle
from .logs import access_logger, worker_logger

__all__ = ["HTTP1Protocol"]

_INFINITY = math.inf
#: SO_LINGER on with a zero timeout: closing resets the connection.
_LINGER_RESET = struct.pack("ii", 1, 0)

if sys.version_info >= (3, 12):
    # Start the app's task at once, inside data_received: a handler that does
    # not wait on anything responds without a trip through the event loop.
    def _start_task(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[None]:
        return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg]

else:

    def _start_task(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[None]:
        return loop.create_task(coro)


class HTTP1Protocol(asyncio.Protocol):
    """Serve HTTP/1.1 requests on one connection."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.loop = ctx.loop
        config = ctx.config
        self.parser = create_connection(config.http, config.http1_limits)
        self.transport: asyncio.Transport | None = None
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.cycle: RequestCycle | None = None
        self.task: asyncio.Task[None] | None = None
        #: Set when the connection must close after the current response.
        self.closing = False
        self.write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._lost = False
        #: When the connection must go, by the loop's clock; see the module doc.
        self.deadline = _INFINITY
        #: Bytes waiting to be sent at the last sweep, and since when they
        #: have not shrunk; see ``_write_stalled``.
        self._write_backlog = 0
        self._write_stall_since = _INFINITY
        self._bytes_written = 0
        self._bytes_flushed = 0
        self._idle_since = 0.0
        self._awaiting_first_byte = True
        self._draining = False
        #: Events of a pipelined request that wait for the next loop pass.
        self._pending: list[Event] | None = None

    # asyncio.Protocol callbacks.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport's methods without
        # subclassing it, so an isinstance check would reject them.
        self.transport = cast(asyncio.Transport, transport)
        self.client = _address(transport.get_extra_info("peername"))
        self.server = _address(transport.get_extra_info("sockname"))
        self.ctx.connections.add(self)
        self._become_idle()
        if self.ctx.debug:
            worker_logger.debug("Connection opened from %s", _format_client(self.client))

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.ctx.connections.discard(self)
        self.deadline = _INFINITY
        cycle = self.cycle
        if cycle is not None:
            cycle.lose()
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self.ctx.debug:
            worker_logger.debug("Connection from %s closed", _format_client(self.client))

    def data_received(self, data: bytes) -> None:
        if self._awaiting_first_byte:
            # A request has begun: from now on only the head deadline counts.
            self._awaiting_first_byte = False
            self.deadline = self._idle_since + self.ctx.config.timeout_header
        cycle = self.cycle
        if (
            cycle is not None
            and cycle.body_complete
            and not self._draining
            and not cycle.awaiting_disconnect
        ):
            # A pipelined request arrived while this one is in progress. The
            # machine keeps its bytes, so stop reading to hold them back,
            # unless the app waits for the disconnect that only reading finds.
            self.pause_reading()
        try:
            events = self.parser.receive_data(data)
        except ProtocolError as exc:
            self._reject(exc)
            return
        if events:
            self._dispatch(events)

    def eof_received(self) -> bool:
        try:
            events = self.parser.receive_data(b"")
        except ProtocolError as exc:
            # The client stopped inside a request: it cannot complete it.
            self._reject(exc)
            return True
        self._dispatch(events)
        cycle = self.cycle
        if not events and cycle is not None and not cycle.response_complete:
            # Bytes after the request (a pipelined request, a stray CRLF)
            # make the machine hold back ConnectionClosed until the next
            # cycle parses them. The running app must hear of the EOF now,
            # as _peer_closed does for it, or a long poll waits forever.
            cycle.notify_peer_closed()
        # Keep our side open: a client that half-closes after a complete
        # request still gets its response.
        return True

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # Helpers for RequestCycle.

    def write(self, data: bytes) -> None:
        """Write bytes unless the connection is already gone."""
        if data and not self._lost:
            assert self.transport is not None
            self._bytes_written += len(data)
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's buffer drains below its low-water mark."""
        if not self.write_paused or self._lost:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self.loop.create_future()
            self._drain_waiter = waiter
        # The future is shared by every writer until resume_writing or
        # connection_lost resolves it, so a writer that is cancelled (a
        # send under a timeout) must not cancel it for the others.
        await asyncio.shield(waiter)

    def pause_reading(self) -> None:
        if not self._reading_paused and not self._lost:
            self._reading_paused = True
            assert self.transport is not None
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and not self._lost:
            self._reading_paused = False
            assert self.transport is not None
            self.transport.resume_reading()

    # Events from the machine.

    def _dispatch(self, events: list[Event]) -> None:
        pending = self._pending
        if pending is not None:
            # The pipelined request these events continue has not started
            # yet, so they must follow its own events, not run before them.
            pending += events
        else:
            self._handle_events(events)

    def _handle_pending(self) -> None:
        events = self._pending
        self._pending = None
        if events is None or self._lost or self.transport is None or self.transport.is_closing():
            # The connection went away (a failed write, a rejected body,
            # a shutdown) before the request started: its app cannot answer.
            return
        self._handle_events(events)

    def _handle_events(self, events: list[Event]) -> None:
        start: RequestCycle | None = None
        for event in events:
            kind = type(event)
            if kind is Request:
                start = self._begin_request(event)  # type: ignore[arg-type]
            elif kind is Data:
                self._receive_body(event.data)  # type: ignore[union-attr]
            elif kind is EndOfMessage:
                self._end_body()
            elif kind is ConnectionClosed:
                self._peer_closed()
        if start is not None and not start.disconnected:
            self._run_app(start)

    def _begin_request(self, request: Request) -> RequestCycle | None:
        self.deadline = _INFINITY
        # perf_counter, not loop.time(): uvloop's clock ticks in milliseconds,
        # too coarse for the access log's durations.
        cycle = RequestCycle(self, request, perf_counter())
        self.cycle = cycle
        limit = self.ctx.config.limit_concurrency
        if limit is not None and len(self.ctx.connections) > limit:
            self._send_unavailable(cycle)
            return None
        return cycle

    def _receive_body(self, data: bytes) -> None:
        cycle = self.cycle
        if cycle is None:
            return
        if not self._draining:
            cycle.feed(data)
            return
        cycle.body_received += len(data)
        if cycle.body_received > self.ctx.config.limit_unread_body:
            self._close()

    def _end_body(self) -> None:
        cycle = self.cycle
        if cycle is None:
            return
        cycle.end_body()
        if self._draining:
            self._draining = False
            if self.parser.keep_alive:
                self._next_cycle()
            else:
                self._close()

    def _peer_closed(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self._close()
        else:
            # End of input after a complete request: the client may have
            # half-closed and still read, so the response is written, then
            # the connection closes. An app waiting for the disconnect
            # hears it now, since most clients send EOF only as they leave.
            self.closing = True
            self.cycle.notify_peer_closed()

    def _run_app(self, cycle: RequestCycle) -> None:
        request = cycle.request
        scope = self.ctx.scope_factory.build(
            request.method,
            request.target,
            request.http_version,
            request.headers,
            self.client,
            self.server,
        )
        bridge = HTTPCycle(scope, cycle, cycle)
        self.ctx.requests += 1
        tasks = self.ctx.tasks
        task = _start_task(self.loop, _serve(bridge, self.ctx.app, tasks))
        self.task = task
        if not task.done():
            # The app may go on after its response (background work), past
            # this connection's next request or close. The worker keeps the
            # task so that a graceful shutdown waits for it; the task removes
            # itself when it ends.
            tasks.add(task)

    # The end of a response.

    def response_finished(self, cycle: RequestCycle) -> None:
        """Decide what the connection does once ``cycle``'s response is sent."""
        if self.ctx.access_log:
            _log_access(self, cycle)
        if self._lost:
            return
        if self.closing or not cycle.request.keep_alive:
            self._close()
        elif not cycle.body_complete:
            # The machine only allows keep-alive once the body has ended.
            self._drain_or_close(cycle)
        elif self.parser.keep_alive:
            self._next_cycle()
        else:
            self._close()

    def _drain_or_close(self, cycle: RequestCycle) -> None:
        # Body bytes the app did not read must be consumed, never parsed as
        # the next request. A client still waiting for "100 Continue" will
        # not send them, and a long rest is not worth reading.
        request = cycle.request
        limit = self.ctx.config.limit_unread_body
        if request.expect_continue and not cycle.continue_sent:
            self._close()
            return
        if request.content_length is not None and request.content_length > limit:
            self._close()
            return
        self._draining = True
        cycle.lose()
        self.deadline = self.loop.time() + self.ctx.config.timeout_keep_alive
        self.resume_reading()

    def _next_cycle(self) -> None:
        self.cycle = None
        self.task = None
        self._become_idle()
        try:
            events = self.parser.start_next_cycle()
        except ProtocolError as exc:
            self._reject(exc)
            return
        self.resume_reading()
        if events:
            # A pipelined request: serve it on the next loop pass, so a
            # long pipeline does not recurse through the app's callbacks.
            self._awaiting_first_byte = False
            self.deadline = self._idle_since + self.ctx.config.timeout_header
            self._pending = events
            self.loop.call_soon(self._handle_pending)

    def _become_idle(self) -> None:
        now = self.loop.time()
        config = self.ctx.config
        self._idle_since = now
        self._awaiting_first_byte = True
        self.deadline = now + min(config.timeout_keep_alive, config.timeout_header)

    # Errors and closing.

    def _reject(self, exc: ProtocolError) -> None:
        if self.ctx.debug:
            worker_logger.debug(
                "Rejected a request from %s with %d: %s",
                _format_client(self.client),
                exc.status,
                exc.message,
            )
        cycle = self.cycle
        if cycle is None or not cycle.head_written:
            self.write(
                self.parser.send_error_response(exc.status, exc.message, self.ctx.default_headers())
            )
            if cycle is not None:
                cycle.status = exc.status
                if self.ctx.access_log:
                    _log_access(self, cycle)
        if cycle is not None:
            cycle.lose()
        self._close()

    def _send_unavailable(self, cycle: RequestCycle) -> None:
        worker_logger.warning(
            "Rejected a request from %s with 503: over --limit-concurrency (%d)",
            _format_client(self.client),
            self.ctx.config.limit_concurrency,
        )
        cycle.status = 503
        self.write(
            self.parser.send_error_response(503, "Service Unavailable", self.ctx.default_headers())
        )
        if self.ctx.access_log:
            _log_access(self, cycle)
        cycle.lose()
        self._close()

    def abort_cycle(self, cycle: RequestCycle, *, reset: bool = False) -> None:
        """Close the connection because ``cycle``'s response cannot finish.

        With ``reset`` the close sends RST instead of FIN, for a response
        whose truncation a clean close would hide.
        """
        cycle.lose()
        if not reset:
            self._close()
            return
        self.deadline = _INFINITY
        transport = self.transport
        if transport is None or self._lost:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # A zero linger time makes the close send RST instead of FIN.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.abort()

    def _close(self) -> None:
        self.deadline = _INFINITY
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def shutdown(self) -> None:
        """Close when idle, or after the current response (with ``Connection: close``)."""
        self.closing = True
        cycle = self.cycle
        if self._pending is not None:
            # A pipelined request was parsed and starts on the next loop
            # pass. It is in flight already, so it gets its response.
            return
        if cycle is None or cycle.response_complete:
            self._close()

    def cancel(self) -> None:
        """Stop now: the app sees a disconnect and the connection closes."""
        if self.cycle is not None:
            self.cycle.lose()
        if self.transport is not None:
            self.transport.abort()

    def check_deadline(self, now: float) -> None:
        """Close the connection if its deadline has passed or its writes stalled."""
        if self._write_stalled(now):
            worker_logger.debug(
                "Dropping the connection from %s: it read none of %d pending bytes in %gs",
                _format_client(self.client),
                self._write_backlog,
                self.ctx.config.timeout_write,
            )
            self.cancel()
            return
        if now < self.deadline:
            return
        if self.ctx.debug:
            worker_logger.debug(
                "Closing the connection from %s: timed out waiting for the client",
                _format_client(self.client),
            )
        self._close()

    def _write_stalled(self, now: float) -> bool:
        # A client that stops reading would hold the connection (and an app
        # waiting on backpressure) forever. Bytes waiting in the transport
        # must shrink within timeout_write, or the connection is dropped.
        transport = self.transport
        if transport is None or self._lost:
            return False
        backlog = transport.get_write_buffer_size()
        if not backlog or not (self.write_paused or transport.is_closing()):
            self._write_stall_since = _INFINITY
            return False
        # The app may refill the buffer as it drains, so progress is the
        # count of bytes that left it, not its size.
        flushed = self._bytes_written - backlog
        if flushed > self._bytes_flushed or self._write_stall_since == _INFINITY:
            self._bytes_flushed = flushed
            self._write_backlog = backlog
            self._write_stall_since = now
            return False
        return now - self._write_stall_since >= self.ctx.config.timeout_write


async def _serve(bridge: HTTPCycle, app: Any, tasks: set[asyncio.Task[None]]) -> None:
    # Removing the task here rather than in a done callback saves a trip
    # through the loop's callback queue on every request.
    try:
        await bridge.run(app)
    except (SystemExit, KeyboardInterrupt) as exc:
        # Meant to end the process: it ends this worker's loop instead (a
        # supervisor replaces the worker). Reading the exception once it is
        # stored keeps asyncio from reporting it again, much later, as never
        # retrieved.
        worker_logger.error(
            "The app raised %s during a request; stopping this worker", type(exc).__name__
        )
        current = asyncio.current_task()
        if current is not None:
            current.add_done_callback(_retrieve)
        raise
    finally:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            # Closed by the garbage collector after its loop was gone: an
            # abandoned task, no longer in any set.
            task = None
        if task is not None:
            tasks.discard(task)


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


def _address(value: Any) -> tuple[str, int] | None:
    if isinstance(value, tuple) and len(value) >= 2:
        return (str(value[0]), int(value[1]))
    return None


def _format_client(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client is not None else "unix socket"


def _log_access(conn: HTTP1Protocol, cycle: RequestCycle) -> None:
    request = cycle.request
    duration_ms = (perf_counter() - cycle.started_at) * 1000.0
    access_logger.info(
        '%s - "%s %s HTTP/%s" %d %d %.1fms',
        _format_client(conn.client),
        request.method.decode("ascii", "replace"),
        request.target.decode("ascii", "replace"),
        request.http_version,
        cycle.status,
        cycle.body_bytes_sent,
        duration_ms,
    )
