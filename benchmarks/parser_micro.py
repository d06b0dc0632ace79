"""Time the two HTTP/1.1 backends on a few typical requests and responses.

Run with ``python benchmarks/parser_micro.py`` from the workspace root (or
``hatch run python benchmarks/parser_micro.py``). Each case is timed with
``timeit`` in the same process for both backends, best of five repeats, and
reported in microseconds per operation together with the h11/pounce ratio.
The numbers depend on the machine; only the ratios carry over.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from pounce_protocols.http1 import FastHTTP1Connection, H11Connection, HTTP1ServerConnection

GET = (
    b"GET /api/items?page=2 HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"User-Agent: bench/1.0\r\n"
    b"Accept: application/json\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
)
POST = (
    b"POST /api/items HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: 27\r\n"
    b"\r\n"
    b'{"name": "pounce", "id": 1}'
)
CHUNKED = (
    b"POST /upload HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
    b"10\r\n0123456789abcdef\r\n"
    b"10\r\n0123456789abcdef\r\n"
    b"0\r\n\r\n"
)
RESPONSE_HEADERS = [
    (b"content-type", b"application/json"),
    (b"server", b"pounce"),
    (b"date", b"Thu, 01 Jan 2026 00:00:00 GMT"),
]
RESPONSE_BODY = b'{"ok": true}'

Factory = Callable[[], HTTP1ServerConnection]


def parse_case(factory: Factory, request: bytes) -> Callable[[], object]:
    """Return a callable that parses ``request`` on a connection reused across cycles."""
    connection = factory()

    def run() -> object:
        events = connection.receive_data(request)
        connection.send_response_full(200, RESPONSE_HEADERS, RESPONSE_BODY)
        connection.start_next_cycle()
        return events

    return run


def respond_case(factory: Factory) -> Callable[[], object]:
    """Return a callable that serializes one whole response per cycle."""
    connection = factory()

    def run() -> object:
        connection.receive_data(GET)
        data = connection.send_response_full(200, RESPONSE_HEADERS, RESPONSE_BODY)
        connection.start_next_cycle()
        return data

    return run


def measure(case: Callable[[], object], number: int) -> float:
    """Return the best time per call in microseconds over five repeats."""
    return min(timeit.repeat(case, number=number, repeat=5)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000, help="calls per repeat")
    args = parser.parse_args()

    backends: dict[str, Factory] = {"pounce": FastHTTP1Connection, "h11": H11Connection}
    cases = {
        "GET, 5 headers, parse + respond": lambda f: parse_case(f, GET),
        "POST, Content-Length body": lambda f: parse_case(f, POST),
        "POST, chunked body": lambda f: parse_case(f, CHUNKED),
        "respond only (parse GET + full response)": respond_case,
    }
    # Parse alone: a fresh machine for each request, so no response is needed.
    parse_only = {
        name: (lambda factory=factory: factory().receive_data(GET))
        for name, factory in backends.items()
    }

    print(f"{'case':44} {'pounce us':>10} {'h11 us':>10} {'h11/pounce':>11}")
    for label, make in cases.items():
        pounce = measure(make(backends["pounce"]), args.number)
        h11 = measure(make(backends["h11"]), args.number)
        print(f"{label:44} {pounce:10.2f} {h11:10.2f} {h11 / pounce:11.1f}")
    pounce = measure(parse_only["pounce"], args.number)
    h11 = measure(parse_only["h11"], args.number)
    print(f"{'GET, new machine + parse only':44} {pounce:10.2f} {h11:10.2f} {h11 / pounce:11.1f}")


if __name__ == "__main__":
    main()
