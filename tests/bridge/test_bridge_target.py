"""split_target and decode_path: the four request-target forms and path decoding."""

from __future__ import annotations

import pytest

from pounce_asgi_bridge import decode_path, split_target


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/", (b"/", b"")),
        (b"/a/b", (b"/a/b", b"")),
        (b"/a/b?x=1&y=2", (b"/a/b", b"x=1&y=2")),
        (b"/a?", (b"/a", b"")),
        (b"/a?x=1?y", (b"/a", b"x=1?y")),
        (b"/redirect?to=http://other/", (b"/redirect", b"to=http://other/")),
    ],
)
def test_split_origin_form(target: bytes, expected: tuple[bytes, bytes]) -> None:
    assert split_target(target) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"http://example.test:8080/p/q?x=1", (b"/p/q", b"x=1")),
        (b"https://example.test/p", (b"/p", b"")),
        (b"http://example.test", (b"/", b"")),
        (b"http://example.test:8080", (b"/", b"")),
        (b"http://example.test?x=1", (b"/", b"x=1")),
        (b"http://example.test?next=/a", (b"/", b"next=/a")),
        (b"http://example.test/?x=/a", (b"/", b"x=/a")),
    ],
)
def test_split_absolute_form(target: bytes, expected: tuple[bytes, bytes]) -> None:
    assert split_target(target) == expected


def test_split_asterisk_form() -> None:
    assert split_target(b"*") == (b"*", b"")


def test_split_authority_form_passes_through() -> None:
    assert split_target(b"example.test:443") == (b"example.test:443", b"")


@pytest.mark.parametrize(
    ("raw_path", "expected"),
    [
        (b"/plain/path", "/plain/path"),
        (b"/a%20b", "/a b"),
        (b"/caf%C3%A9", "/caf\u00e9"),
        (b"/a%2Fb", "/a/b"),
        (b"/100%25", "/100%"),
        (b"/bad%zzescape", "/bad%zzescape"),
        (b"/trailing%", "/trailing%"),
        (b"", ""),
    ],
)
def test_decode_path(raw_path: bytes, expected: str) -> None:
    assert decode_path(raw_path) == expected


def test_decode_path_replaces_invalid_utf8() -> None:
    # %FF can never start a UTF-8 sequence; %C3 alone is a cut-off one.
    assert decode_path(b"/x%FFy") == "/x\ufffdy"
    assert decode_path(b"/x%C3") == "/x\ufffd"


def test_decode_path_result_encodes_as_utf8() -> None:
    # The reason for errors="replace": the result never contains lone
    # surrogates, so frameworks can always encode it again.
    decoded = decode_path(b"/%ED%A0%80/%80")
    assert decoded.encode("utf-8")


def test_decode_path_tolerates_raw_non_ascii() -> None:
    # A lenient parser may pass bytes above 0x7F; they decode as UTF-8.
    assert decode_path("/caf\u00e9".encode()) == "/caf\u00e9"
    assert decode_path(b"/\xff") == "/\ufffd"
