"""The two HTTP/1.1 backends must reach the same verdict on the same bytes.

Every corpus vector is fed whole and split in two at every byte boundary.
Both backends must return the same events (adjacent Data pieces merged) or
fail with the same status, and that verdict must not depend on the split.
Hypothesis then does the same with streams built from HTTP fragments and
with random bytes.
"""

from __future__ import annotations

import pytest
from http1_corpus import ALL, SMALL, Vector
from http1_drive import BACKENDS, run, split_runs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pounce_protocols.http1 import HTTP1Limits


@pytest.mark.parametrize("vector", ALL, ids=lambda vector: vector.name)
def test_backends_agree_on_every_split(vector: Vector) -> None:
    whole = run(BACKENDS["pounce"], [vector.data], limits=vector.limits, eof=vector.eof)
    if vector.status is None:
        assert whole[0] == "events", f"valid vector rejected: {whole}"
    else:
        assert whole == ("error", vector.status)

    for parts in split_runs(vector.data):
        where = f"split after {len(parts[0]) if len(parts) == 2 else 0} bytes"
        fast = run(BACKENDS["pounce"], parts, limits=vector.limits, eof=vector.eof)
        h11 = run(BACKENDS["h11"], parts, limits=vector.limits, eof=vector.eof)
        assert fast == h11, where
        assert fast == whole, where


FRAGMENTS = [
    b"GET",
    b"POST",
    b"HEAD",
    b"G@T",
    b" ",
    b"  ",
    b"/",
    b"/a?b=c",
    b"*",
    b"\xe9",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"HTTP/1",
    b"\r\n",
    b"\r\n\r\n",
    b"\r",
    b"\n",
    b"Host: x",
    b"Host:",
    b"host: y",
    b"X-A: v",
    b":",
    b"Content-Length: ",
    b"content-length:",
    b"Transfer-Encoding: ",
    b"chunked",
    b"gzip",
    b",",
    b"0",
    b"1",
    b"5",
    b"a",
    b"ff",
    b"00000000000000001",
    b";",
    b"=",
    b'"',
    b"\\",
    b"\t",
    b"\x00",
    b"\x01",
    b"\x7f",
    b"\x80",
    b"Connection: ",
    b"close",
    b"keep-alive",
    b"Expect: 100-continue",
    b"hello",
    b"x" * 40,
]

REQUEST_STARTS = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n",
    b"GET / HTTP/1.0\r\n",
    b"",
]

LIMITS = st.sampled_from([None, SMALL, HTTP1Limits(max_header_count=2, max_head=64, max_body=8)])


def assert_backends_agree(data: bytes, split: int, eof: bool, limits: HTTP1Limits | None) -> None:
    index = split % (len(data) + 1)
    parts = [part for part in (data[:index], data[index:]) if part]
    fast = run(BACKENDS["pounce"], parts, limits=limits, eof=eof)
    h11 = run(BACKENDS["h11"], parts, limits=limits, eof=eof)
    assert fast == h11
    assert fast == run(BACKENDS["pounce"], [data], limits=limits, eof=eof)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.sampled_from(REQUEST_STARTS),
    fragments=st.lists(st.sampled_from(FRAGMENTS), max_size=30),
    split=st.integers(min_value=0),
    eof=st.booleans(),
    limits=LIMITS,
)
def test_fragment_streams_agree(
    start: bytes, fragments: list[bytes], split: int, eof: bool, limits: HTTP1Limits | None
) -> None:
    assert_backends_agree(start + b"".join(fragments), split, eof, limits)


@settings(max_examples=200, deadline=None)
@given(
    start=st.sampled_from(REQUEST_STARTS),
    noise=st.binary(max_size=120),
    split=st.integers(min_value=0),
    eof=st.booleans(),
    limits=LIMITS,
)
def test_random_bytes_agree(
    start: bytes, noise: bytes, split: int, eof: bool, limits: HTTP1Limits | None
) -> None:
    assert_backends_agree(start + noise, split, eof, limits)
