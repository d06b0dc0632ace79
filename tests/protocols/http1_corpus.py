"""Request byte vectors shared by the fast-parser and differential tests.

Each vector carries the status it must be rejected with, or ``None`` when it
is valid. Vectors that test a size limit use ``SMALL`` limits, so that every
split of them stays cheap to run.
"""

from __future__ import annotations

from dataclasses import dataclass

from pounce_protocols.http1 import HTTP1Limits

SMALL = HTTP1Limits(
    max_request_line=64, max_header_field=48, max_header_count=4, max_head=200, max_body=32
)


@dataclass(frozen=True)
class Vector:
    """One request stream and the verdict both backends must reach on it."""

    name: str
    data: bytes
    status: int | None = None
    limits: HTTP1Limits | None = None
    eof: bool = False


def get(*fields: bytes, target: bytes = b"/", version: bytes = b"HTTP/1.1") -> bytes:
    """Return a GET head with a Host field first and ``fields`` after it."""
    lines = [b"GET " + target + b" " + version, b"Host: example.com", *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def post(body: bytes, *fields: bytes) -> bytes:
    """Return a POST with ``fields`` and ``body`` after the head."""
    lines = [b"POST /submit HTTP/1.1", b"Host: example.com", *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(body: bytes, *fields: bytes) -> bytes:
    """Return a POST whose ``body`` is already chunk-framed."""
    return post(body, b"Transfer-Encoding: chunked", *fields)


VALID = [
    Vector("simple get", get()),
    Vector("get with headers", get(b"User-Agent: test/1.0", b"Accept: */*", b"X-Empty:")),
    Vector("repeated fields kept", get(b"Accept: a", b"accept: b", b"ACCEPT: c")),
    Vector("value whitespace stripped", get(b"X-A: \t spaced  out \t", b"X-B:tight")),
    Vector("obs-text in value", get(b"X-Latin: caf\xe9 \x80\xff")),
    Vector("every tchar in a name", get(b"!#$%&'*+-.^_`|~09azAZ: v")),
    Vector("colon in value", get(b"X-Time: 12:30:45")),
    Vector("http/1.0 without host", b"GET / HTTP/1.0\r\n\r\n"),
    Vector("http/1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
    Vector(
        "http/1.0 keep-alive and close", b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
    ),
    Vector("http/1.1 close", get(b"Connection: close")),
    Vector("connection token list", get(b"Connection: upgrade, CLOSE")),
    Vector("expect continue", post(b"hello", b"Content-Length: 5", b"Expect: 100-Continue")),
    Vector(
        "expect in http/1.0 ignored",
        b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    ),
    Vector("options star", b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n"),
    Vector(
        "connect authority", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    ),
    Vector("absolute form", get(target=b"http://example.com/a?b=c#d")),
    Vector("extension method", b"M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n"),
    Vector("lowercase method", b"get / HTTP/1.1\r\nHost: x\r\n\r\n"),
    Vector("empty host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n"),
    Vector("one leading empty line", b"\r\n" + get()),
    Vector("eight leading empty lines", b"\r\n" * 8 + get()),
    Vector("content-length body", post(b"hello", b"Content-Length: 5")),
    Vector("content-length zero", post(b"", b"Content-Length: 0")),
    Vector("content-length leading zeros", post(b"abc", b"Content-Length: 0003")),
    Vector("content-length list", post(b"hello", b"Content-Length: 5, 5")),
    Vector("content-length repeated", post(b"hello", b"Content-Length: 5", b"Content-Length: 5")),
    Vector("content-length 18 digits", post(b"", b"Content-Length: 000000000000000000")),
    Vector("chunked body", chunked(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")),
    Vector(
        "chunked case-insensitive", post(b"3\r\nabc\r\n0\r\n\r\n", b"Transfer-Encoding: ChUnKeD")
    ),
    Vector("chunked upper hex", chunked(b"A\r\n0123456789\r\n0\r\n\r\n")),
    Vector("chunked leading zeros", chunked(b"0005\r\nhello\r\n000\r\n\r\n")),
    Vector("chunked 16 digit zero size", chunked(b"0000000000000000\r\n\r\n")),
    Vector(
        "chunk extensions", chunked(b'5;name\r\nhello\r\n3;a=b;c="q;\\"x"\r\nabc\r\n0;last\r\n\r\n')
    ),
    Vector("chunk extension quoted empty", chunked(b'1;e=""\r\nx\r\n0\r\n\r\n')),
    Vector("chunked trailers", chunked(b"3\r\nabc\r\n0\r\nX-Checksum: 42\r\nX-Other:  v \r\n\r\n")),
    Vector(
        "chunked trailer content-length",
        chunked(b"1\r\na\r\n0\r\nContent-Length: nonsense\r\n\r\n"),
    ),
    Vector("chunked empty body", chunked(b"0\r\n\r\n")),
    Vector("pipelined gets", get() + get(target=b"/second")),
    Vector("pipelined post then get", post(b"abc", b"Content-Length: 3") + get(target=b"/next")),
    Vector("pipelined chunked then get", chunked(b"2\r\nhi\r\n0\r\n\r\n") + get(target=b"/next")),
    Vector("pipelined with empty line", get() + b"\r\n" + get(target=b"/after")),
    Vector("http/1.0 then more closes", b"GET / HTTP/1.0\r\n\r\n" + get()),
    Vector("close then more", get(b"Connection: close") + get()),
    Vector("eof after request", get(), eof=True),
    Vector("eof after empty lines", get() + b"\r\n\r\n", eof=True),
    Vector("eof on idle connection", b"", eof=True),
    Vector(
        "limits: lines at the limit",
        b"GET /" + b"a" * 50 + b" HTTP/1.1\r\nHost: " + b"h" * 42 + b"\r\n\r\n",
        limits=SMALL,
    ),
    Vector("limits: four fields", get(b"A: 1", b"B: 2", b"C: 3"), limits=SMALL),
    Vector("limits: body at the limit", post(b"x" * 32, b"Content-Length: 32"), limits=SMALL),
    Vector(
        "limits: chunked at the limit",
        chunked(b"10\r\n" + b"x" * 16 + b"\r\n10\r\n" + b"y" * 16 + b"\r\n0\r\n\r\n"),
        limits=SMALL,
    ),
]

INVALID = [
    # Line endings (RFC 9112 §2.2).
    Vector("bare lf after request line", b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
    Vector("bare lf after field", b"GET / HTTP/1.1\r\nHost: x\n\r\n", 400),
    Vector("bare lf ends head", b"GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
    Vector("all bare lf", b"GET / HTTP/1.1\nHost: x\n\n", 400),
    Vector("bare cr in request line", b"GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("bare cr in value", b"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n", 400),
    Vector("cr cr lf", b"GET / HTTP/1.1\r\r\nHost: x\r\n\r\n", 400),
    Vector("leading bare lf", b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("leading bare cr", b"\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("nine leading empty lines", b"\r\n" * 9 + get(), 400),
    # Control bytes (RFC 9110 §5.5).
    Vector("nul in value", get(b"X-A: a\x00b"), 400),
    Vector("soh in value", get(b"X-A: a\x01b"), 400),
    Vector("del in value", get(b"X-A: a\x7fb"), 400),
    Vector("vertical tab in value", get(b"X-A: a\x0bb"), 400),
    Vector("nul in target", b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    # Request line (RFC 9112 §3).
    Vector("double space", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("leading space", b" GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("trailing space", b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
    Vector("tab separator", b"GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("missing version", b"GET /\r\nHost: x\r\n\r\n", 400),
    Vector("missing target", b"GET HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("space in target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("high byte in target", b"GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("bad method byte", b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("method with paren", b"GET( / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("lowercase protocol", b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    Vector("version without minor", b"GET / HTTP/1\r\nHost: x\r\n\r\n", 400),
    Vector("two digit major", b"GET / HTTP/11.1\r\nHost: x\r\n\r\n", 400),
    Vector("garbage line", b"hello world\r\n\r\n", 400),
    Vector("tls client hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    # Unsupported versions (RFC 9110 §15.6.6).
    Vector("http/2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    Vector("http/0.9 style", b"GET / HTTP/0.9\r\n\r\n", 505),
    Vector("http/1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
    Vector("http/3.0 before a bad field", b"GET / HTTP/3.0\r\nbad field\r\n\r\n", 505),
    # Field lines (RFC 9112 §5).
    Vector("space before colon", get(b"X-A : v"), 400),
    Vector("tab before colon", get(b"X-A\t: v"), 400),
    Vector("no colon", get(b"X-A v"), 400),
    Vector("empty name", get(b": v"), 400),
    Vector("bad name byte", get(b"X[A]: v"), 400),
    Vector("obs-fold", get(b"X-A: one", b" two"), 400),
    Vector("obs-fold with tab", get(b"X-A: one", b"\ttwo"), 400),
    Vector("fold right after request line", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
    # Host (RFC 9112 §3.2).
    Vector("missing host", b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    Vector("two hosts", get(b"Host: other.example"), 400),
    Vector("two hosts in http/1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    # Content-Length (RFC 9110 §8.6).
    Vector("content-length letters", post(b"", b"Content-Length: abc"), 400),
    Vector("content-length negative", post(b"", b"Content-Length: -1"), 400),
    Vector("content-length plus sign", post(b"", b"Content-Length: +1"), 400),
    Vector("content-length inner space", post(b"", b"Content-Length: 1 2"), 400),
    Vector("content-length hex", post(b"", b"Content-Length: 0x10"), 400),
    Vector("content-length empty", post(b"", b"Content-Length:"), 400),
    Vector("content-length list differs", post(b"hello", b"Content-Length: 5, 6"), 400),
    Vector(
        "content-length repeated differs",
        post(b"hello", b"Content-Length: 5", b"Content-Length: 6"),
        400,
    ),
    Vector("content-length empty member", post(b"hello", b"Content-Length: 5,"), 400),
    Vector("content-length 19 digits", post(b"", b"Content-Length: 0000000000000000001"), 400),
    # Transfer-Encoding (RFC 9112 §6.1).
    Vector(
        "te and cl", post(b"0\r\n\r\n", b"Transfer-Encoding: chunked", b"Content-Length: 5"), 400
    ),
    Vector(
        "cl and te", post(b"0\r\n\r\n", b"Content-Length: 5", b"Transfer-Encoding: chunked"), 400
    ),
    Vector(
        "te in http/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400
    ),
    Vector("te gzip only", post(b"", b"Transfer-Encoding: gzip"), 400),
    Vector("te identity", post(b"", b"Transfer-Encoding: identity"), 400),
    Vector("te chunked then gzip", post(b"", b"Transfer-Encoding: chunked, gzip"), 400),
    Vector("te empty", post(b"", b"Transfer-Encoding:"), 400),
    Vector("te trailing comma", post(b"", b"Transfer-Encoding: chunked,"), 400),
    Vector("te gzip then chunked", post(b"0\r\n\r\n", b"Transfer-Encoding: gzip, chunked"), 501),
    Vector("te chunked twice", post(b"0\r\n\r\n", b"Transfer-Encoding: chunked, chunked"), 501),
    Vector(
        "te two fields",
        post(b"0\r\n\r\n", b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"),
        501,
    ),
    Vector(
        "te repeated chunked fields",
        post(b"0\r\n\r\n", b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"),
        501,
    ),
    Vector(
        "te before a bad content-length",
        post(b"", b"Transfer-Encoding: gzip, chunked", b"Content-Length: x"),
        400,
    ),
    Vector(
        "te 501 after missing host",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        400,
    ),
    # Chunked framing (RFC 9112 §7.1).
    Vector("chunk size not hex", chunked(b"g\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk size empty", chunked(b"\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk size 17 digits", chunked(b"00000000000000001\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk size trailing space", chunked(b"1 \r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk size leading space", chunked(b" 1\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk size negative", chunked(b"-1\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk size bare lf", chunked(b"1\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk extension without name", chunked(b"1;\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk extension empty value", chunked(b"1;a=\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk extension space", chunked(b"1 ;a\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk extension open quote", chunked(b'1;a="x\r\nx\r\n0\r\n\r\n'), 400),
    Vector("chunk extension nul", chunked(b"1;a\x00\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk extension bare cr", chunked(b"1;a\rb\r\nx\r\n0\r\n\r\n"), 400),
    Vector("chunk data too long", chunked(b"1\r\nxy\r\n0\r\n\r\n"), 400),
    Vector("chunk data lf only", chunked(b"1\r\nx\n0\r\n\r\n"), 400),
    Vector("chunk size line too long", chunked(b"1;" + b"a" * 4200 + b"\r\nx\r\n0\r\n\r\n"), 400),
    Vector("trailer bare lf", chunked(b"0\r\nX-T: 1\n\r\n"), 400),
    Vector("trailer fold", chunked(b"0\r\nX-T: 1\r\n 2\r\n\r\n"), 400),
    Vector("trailer without colon", chunked(b"0\r\nX-T 1\r\n\r\n"), 400),
    Vector("trailer nul", chunked(b"0\r\nX-T: \x00\r\n\r\n"), 400),
    # Size limits, with SMALL limits.
    Vector(
        "request line too long", b"GET /" + b"a" * 70 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, SMALL
    ),
    Vector("request line too long, no end yet", b"GET /" + b"a" * 70, 414, SMALL),
    Vector(
        "request line one over", b"GET /" + b"a" * 51 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, SMALL
    ),
    Vector("field line too long", get(b"X-Long: " + b"v" * 60), 431, SMALL),
    Vector(
        "field line too long, no end yet", b"GET / HTTP/1.1\r\nX-Long: " + b"v" * 60, 431, SMALL
    ),
    Vector("too many fields", get(b"A: 1", b"B: 2", b"C: 3", b"D: 4"), 431, SMALL),
    Vector(
        "head too large",
        get(*(b"X-%d: " % i + b"v" * 40 for i in range(3)), target=b"/" + b"p" * 40),
        431,
        SMALL,
    ),
    Vector(
        "head too large, no end yet",
        b"GET / HTTP/1.1\r\n"
        + b"A: "
        + b"v" * 40
        + b"\r\n"
        + (b"B: " + b"v" * 40 + b"\r\n") * 3
        + b"C: "
        + b"v" * 40,
        431,
        SMALL,
    ),
    Vector("bare lf before long line", b"GET / HTTP/1.1\nX: " + b"v" * 80, 400, SMALL),
    Vector("long line before bare lf", b"GET /" + b"a" * 70 + b"\n", 414, SMALL),
    Vector("content-length over limit", post(b"", b"Content-Length: 33"), 413, SMALL),
    Vector("chunked over limit", chunked(b"10\r\n" + b"x" * 16 + b"\r\n11\r\n"), 413, SMALL),
    Vector("trailer line too long", chunked(b"0\r\nX-T: " + b"v" * 60 + b"\r\n\r\n"), 431, SMALL),
    Vector(
        "too many trailers",
        chunked(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n"),
        431,
        SMALL,
    ),
    # End of input inside a message.
    Vector("eof inside request line", b"GET / HT", 400, eof=True),
    Vector("eof inside head", b"GET / HTTP/1.1\r\nHost: x\r\n", 400, eof=True),
    Vector("eof after lone cr", b"\r", 400, eof=True),
    Vector("eof inside body", post(b"abc", b"Content-Length: 5"), 400, eof=True),
    Vector("eof inside chunked", chunked(b"5\r\nab"), 400, eof=True),
    Vector("eof inside trailers", chunked(b"0\r\nX: 1\r\n"), 400, eof=True),
    # A bad request pipelined behind a good one.
    Vector("good then bad", get() + b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
    Vector("good then partial then eof", get() + b"GET / HT", 400, eof=True),
]

ALL = VALID + INVALID
