"""The public surface of ``pounce_protocols.http1`` and backend selection."""

from __future__ import annotations

import inspect

import pytest

import pounce_protocols.http1 as http1
from pounce_protocols.http1 import (
    BACKENDS,
    FastHTTP1Connection,
    H11Connection,
    HTTP1Limits,
    HTTP1ServerConnection,
    create_connection,
)

DOCUMENTED = {
    "BACKENDS",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "FastHTTP1Connection",
    "H11Connection",
    "HTTP1Limits",
    "HTTP1ServerConnection",
    "Headers",
    "ProtocolError",
    "Request",
    "create_connection",
}


def test_all_lists_the_documented_names() -> None:
    assert set(http1.__all__) == DOCUMENTED
    for name in DOCUMENTED:
        assert hasattr(http1, name), name


def test_backend_names() -> None:
    assert BACKENDS == ("auto", "pounce", "h11")


@pytest.mark.parametrize(
    ("backend", "expected"),
    [("auto", FastHTTP1Connection), ("pounce", FastHTTP1Connection), ("h11", H11Connection)],
)
def test_create_connection_picks_backend(backend: str, expected: type) -> None:
    limits = HTTP1Limits(max_body=10)
    machine = create_connection(backend, limits)

    assert type(machine) is expected
    assert machine.receive_data(b"") != []


def test_create_connection_default_is_fast() -> None:
    assert type(create_connection()) is FastHTTP1Connection


def test_unknown_backend_names_value_and_choices() -> None:
    with pytest.raises(ValueError, match=r"'httptools'.*auto, pounce, h11"):
        create_connection("httptools")


@pytest.mark.parametrize("cls", [FastHTTP1Connection, H11Connection])
def test_backends_implement_every_interface_member(cls: type) -> None:
    members = [
        name for name, _ in inspect.getmembers(HTTP1ServerConnection) if not name.startswith("_")
    ]
    assert members
    for name in members:
        assert hasattr(cls, name), f"{cls.__name__} lacks {name}"
        interface_member = getattr(HTTP1ServerConnection, name)
        if callable(interface_member):
            expected_parameters = list(inspect.signature(interface_member).parameters)
            actual_parameters = list(inspect.signature(getattr(cls, name)).parameters)
            assert actual_parameters == expected_parameters, name
