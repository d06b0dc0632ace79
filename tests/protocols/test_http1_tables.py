"""The translation tables accept exactly the bytes of their grammar rules."""

from __future__ import annotations

import pytest

from pounce_protocols.http1._tables import (
    CONTROLS_TO_LF,
    FIELD_VALUE_TABLE,
    HEX_DIGIT_TABLE,
    TOKEN_TABLE,
    VISIBLE_TABLE,
)

# Each rule spelled out from RFC 9110 §5.6.2 and RFC 5234 appendix B.1,
# independently of the module under test.
TCHAR = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
VCHAR = set(range(0x21, 0x7F))
CONTROLS = set(range(0x00, 0x09)) | set(range(0x0A, 0x20)) | {0x7F}
FIELD_VALUE = set(range(256)) - CONTROLS
HEXDIG = set(b"0123456789abcdefABCDEF")

RULES = [
    ("token", TOKEN_TABLE, TCHAR),
    ("visible", VISIBLE_TABLE, VCHAR),
    ("field value", FIELD_VALUE_TABLE, FIELD_VALUE),
    ("hex digit", HEX_DIGIT_TABLE, HEXDIG),
]


@pytest.mark.parametrize(("rule", "table", "allowed"), RULES, ids=[rule[0] for rule in RULES])
def test_table_keeps_exactly_allowed_bytes(rule: str, table: bytes, allowed: set[int]) -> None:
    assert len(table) == 256
    for byte in range(256):
        single = bytes([byte])
        assert (single.translate(table) == single) == (byte in allowed), (rule, byte)


@pytest.mark.parametrize(("rule", "table", "allowed"), RULES, ids=[rule[0] for rule in RULES])
def test_one_bad_byte_in_long_value_found(rule: str, table: bytes, allowed: set[int]) -> None:
    good = bytes(sorted(allowed)) * 3
    for byte in set(range(256)) - allowed:
        value = good + bytes([byte]) + good
        assert value.translate(table) != value, (rule, byte)
    assert good.translate(table) == good


def test_controls_to_lf_counts_controls() -> None:
    for byte in range(256):
        expected = 1 if byte in CONTROLS else 0
        assert bytes([byte]).translate(CONTROLS_TO_LF).count(b"\n") == expected, byte
    head = b"GET / HTTP/1.1\r\nHost: x\tY\r\nA: \x7f\x00"
    assert head.translate(CONTROLS_TO_LF).count(b"\n") == 6
