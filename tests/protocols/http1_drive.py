"""Feed request bytes to an HTTP/1.1 machine and record what it concludes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pounce_protocols.http1 import (
    Data,
    Event,
    FastHTTP1Connection,
    H11Connection,
    HTTP1Limits,
    HTTP1ServerConnection,
    ProtocolError,
)

Factory = Callable[[HTTP1Limits | None], HTTP1ServerConnection]
BACKENDS: dict[str, Factory] = {"pounce": FastHTTP1Connection, "h11": H11Connection}

#: What a machine concluded: ("events", [...]) or ("error", status).
Verdict = tuple[str, object]


def merge_data(events: list[Event]) -> list[Event]:
    """Join adjacent Data events, since backends may cut a body differently."""
    merged: list[Event] = []
    for event in events:
        if isinstance(event, Data) and merged and isinstance(merged[-1], Data):
            merged[-1] = Data(merged[-1].data + event.data)
        else:
            merged.append(event)
    return merged


def run(
    factory: Factory,
    parts: Iterable[bytes],
    *,
    limits: HTTP1Limits | None = None,
    eof: bool = False,
) -> Verdict:
    """Feed ``parts`` one call each, respond to every request, and return the verdict.

    Empty parts are skipped: ``b""`` would signal the end of input, which
    only ``eof`` requests.
    Each complete request gets a small 200 response; the next cycle starts
    when the machine allows keep-alive, and feeding stops when it does not.
    """
    machine = factory(limits)
    events: list[Event] = []
    closed = False

    def serve() -> None:
        nonlocal closed
        while machine.request_complete and not closed:
            machine.send_response_full(200, [(b"content-type", b"text/plain")], b"ok")
            if not machine.keep_alive:
                closed = True
                return
            events.extend(machine.start_next_cycle())

    try:
        for part in parts:
            if closed:
                break
            if not part:
                continue
            events.extend(machine.receive_data(part))
            serve()
        if eof and not closed:
            events.extend(machine.receive_data(b""))
            serve()
    except ProtocolError as exc:
        return ("error", exc.status)
    return ("events", merge_data(events))


def split_runs(data: bytes) -> Iterable[list[bytes]]:
    """Yield ``[data[:i], data[i:]]`` for every i, empty parts left out."""
    for index in range(len(data) + 1):
        yield [part for part in (data[:index], data[index:]) if part]
