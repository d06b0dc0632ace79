"""validate_fields: the fast path for clean header lists checks as much as the full loop."""

from __future__ import annotations

from typing import Any

import pytest

from pounce_asgi_bridge._headers import _COMMON_NAMES, validate_fields

# RFC 9110 §5.6.2, spelled out here independently of the module's table.
TCHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


@pytest.mark.parametrize("name", sorted(_COMMON_NAMES))
def test_common_name_is_lowercase_token(name: bytes) -> None:
    assert name
    assert set(name) <= TCHARS


@pytest.mark.parametrize("value", [b"a\rb", b"a\nb", b"a\x00b"])
def test_common_name_value_still_checked(value: bytes) -> None:
    with pytest.raises(RuntimeError, match=r"b'content-type': the value contains CR, LF or NUL"):
        validate_fields([(b"content-type", value)], "header")


def test_clean_list_returned_as_is() -> None:
    headers = [(b"content-type", b"text/plain"), (b"x-custom-name", b"1")]
    assert validate_fields(headers, "header") is headers


def test_uppercase_after_common_name_rewritten() -> None:
    headers = [(b"content-type", b"text/plain"), (b"X-Custom", b"1")]
    cleaned = validate_fields(headers, "header")
    assert cleaned is not headers
    assert cleaned == [(b"content-type", b"text/plain"), (b"x-custom", b"1")]


def test_list_pair_with_common_name_copied() -> None:
    headers: list[Any] = [(b"server", b"x"), [b"content-type", b"text/plain"]]
    cleaned = validate_fields(headers, "header")
    assert cleaned == [(b"server", b"x"), (b"content-type", b"text/plain")]
    assert type(cleaned[1]) is tuple


def test_bad_name_after_common_name_named() -> None:
    with pytest.raises(RuntimeError, match=r"Invalid response trailer name b'x y'"):
        validate_fields([(b"etag", b'"1"'), (b"x y", b"v")], "trailer")


@pytest.mark.parametrize("field", [(b"date",), (b"date", b"a", b"b"), (b"date", "text")])
def test_malformed_field_with_common_name(field: Any) -> None:
    with pytest.raises(RuntimeError, match=r"at index 1"):
        validate_fields([(b"server", b"x"), field], "header")


@pytest.mark.parametrize("byte", range(256))
def test_every_name_byte_judged_by_rfc(byte: int) -> None:
    name = b"x" + bytes([byte])
    if byte in TCHARS or bytes([byte]).isupper():
        assert validate_fields([(name, b"v")], "header") == [(name.lower(), b"v")]
    else:
        with pytest.raises(RuntimeError, match="a name must be a non-empty token"):
            validate_fields([(name, b"v")], "header")


@pytest.mark.parametrize("byte", range(256))
def test_every_value_byte_judged_by_rfc(byte: int) -> None:
    value = b"a" + bytes([byte]) + b"b"
    if byte in (0x0D, 0x0A, 0x00):
        with pytest.raises(RuntimeError, match="the value contains CR, LF or NUL"):
            validate_fields([(b"x-custom", value)], "header")
    else:
        assert validate_fields([(b"x-custom", value)], "header") == [(b"x-custom", value)]
