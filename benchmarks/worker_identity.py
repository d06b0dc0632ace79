"""An ASGI app that reports which worker served each request, for ``accept_spread.py``.

Every HTTP response body is the serving worker's identity,
``<pid>/<thread name>``: worker processes differ by pid, and thread workers
by thread name (Pounce names them ``pounce-worker-N``). The app also counts
requests and distinct client connections per worker and per request path,
so a benchmark can load one path and read back how its requests and
connections were spread.

A request to one worker cannot see another process's counters, so the
counts leave through lifespan shutdown instead of an endpoint. When the
``ACCEPT_SPREAD_STATS_DIR`` environment variable names a directory, each
process writes ``<pid>.json`` there at lifespan shutdown, mapping identity
to ``{"requests": {path: count}, "connections": {path: count}}``, where a
connection is counted by its client address and port. That count suits
long-lived connections only, because a port that the client reuses for a
later connection is counted once. Process workers run lifespan in each
process and write one file each. Thread workers share one lifespan, which
runs after every worker has stopped, and so one file contains all of their
counts.

``GET /block?until=T`` blocks the worker's event loop with ``time.sleep``
until the Unix time ``T`` (at most ``MAX_BLOCK`` seconds ahead), so that
new connections wait in the listen queue. Only ``scale_down_check.py``
uses it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

__all__ = ["MAX_BLOCK", "STATS_DIR_VARIABLE", "app", "worker_identity"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

STATS_DIR_VARIABLE = "ACCEPT_SPREAD_STATS_DIR"
#: Maximum time in seconds that ``/block`` stops a worker's loop.
MAX_BLOCK = 10.0

# identity -> path -> requests, and identity -> path -> client addresses.
# Each worker thread only writes its own identity's inner dicts, so no two
# threads update the same counter.
_requests: dict[str, dict[str, int]] = {}
_clients: dict[str, dict[str, set[Any]]] = {}


def worker_identity() -> str:
    """Return ``<pid>/<thread name>`` for the worker running this code."""
    return f"{os.getpid()}/{threading.current_thread().name}"


def _block(query: bytes) -> None:
    values = parse_qs(query.decode("ascii", "replace")).get("until")
    if not values:
        return
    try:
        until = float(values[0])
    except ValueError:
        return
    delay = min(until - time.time(), MAX_BLOCK)
    if delay > 0:
        # Deliberately synchronous: the loop must stop accepting while it sleeps.
        time.sleep(delay)


def _write_counts() -> None:
    directory = os.environ.get(STATS_DIR_VARIABLE)
    if not directory:
        return
    target = Path(directory) / f"{os.getpid()}.json"
    partial = target.with_suffix(".partial")
    counts = {
        identity: {
            "requests": per_path,
            "connections": {path: len(peers) for path, peers in _clients[identity].items()},
        }
        for identity, per_path in _requests.items()
    }
    partial.write_text(json.dumps(counts))
    # The rename makes the file appear whole, so a reader never sees half of it.
    partial.replace(target)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Respond with the worker's identity and count the request; write counts at shutdown."""
    if scope["type"] == "http":
        identity = worker_identity()
        path = scope["path"]
        requests = _requests.setdefault(identity, {})
        requests[path] = requests.get(path, 0) + 1
        client = scope.get("client")
        # ASGI allows the client address as a list, which is not hashable.
        peer = tuple(client) if client is not None else None
        _clients.setdefault(identity, {}).setdefault(path, set()).add(peer)
        if path == "/block":
            _block(scope["query_string"])

        body = identity.encode()
        headers = [
            (b"content-type", b"text/plain"),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return

    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _write_counts()
                await send({"type": "lifespan.shutdown.complete"})
                return
