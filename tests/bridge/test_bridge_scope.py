"""HTTPScopeFactory.build: every key of the ASGI HTTP connection scope."""

from __future__ import annotations

from typing import Any

import pytest

from pounce_asgi_bridge import HTTPScopeFactory

HEADERS = [(b"host", b"example.test"), (b"accept", b"*/*")]


def build(factory: HTTPScopeFactory, target: bytes = b"/", **kwargs: Any) -> dict[str, Any]:
    return factory.build(b"GET", target, "1.1", HEADERS, ("192.0.2.7", 50123), **kwargs)


def test_scope_has_every_key() -> None:
    scope = build(HTTPScopeFactory(), b"/items?id=3")
    assert set(scope) == {
        "type",
        "asgi",
        "http_version",
        "method",
        "scheme",
        "path",
        "raw_path",
        "query_string",
        "root_path",
        "headers",
        "client",
        "server",
        "extensions",
    }


def test_scope_values() -> None:
    factory = HTTPScopeFactory(scheme="https", server=("127.0.0.1", 8443))
    scope = factory.build(b"POST", b"/items?id=3", "2", HEADERS, ("192.0.2.7", 50123))
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "2"
    assert scope["method"] == "POST"
    assert type(scope["method"]) is str
    assert scope["scheme"] == "https"
    assert scope["path"] == "/items"
    assert scope["raw_path"] == b"/items"
    assert scope["query_string"] == b"id=3"
    assert scope["root_path"] == ""
    assert scope["headers"] is HEADERS
    assert scope["client"] == ("192.0.2.7", 50123)
    assert scope["server"] == ("127.0.0.1", 8443)
    assert scope["extensions"] == {"http.response.trailers": {}}


def test_scope_defaults() -> None:
    scope = build(HTTPScopeFactory())
    assert scope["scheme"] == "http"
    assert scope["server"] is None
    assert "state" not in scope


def test_server_argument_overrides_default() -> None:
    factory = HTTPScopeFactory(server=("127.0.0.1", 8000))
    assert build(factory, server=("::1", 9000))["server"] == ("::1", 9000)
    assert build(factory, server=None)["server"] is None
    assert build(factory)["server"] == ("127.0.0.1", 8000)


def test_client_none_is_kept() -> None:
    scope = HTTPScopeFactory().build(b"GET", b"/", "1.1", [], None)
    assert scope["client"] is None


def test_path_is_percent_decoded() -> None:
    scope = build(HTTPScopeFactory(), b"/caf%C3%A9/a%20b?q=%20")
    assert scope["path"] == "/caf\u00e9/a b"
    assert scope["raw_path"] == b"/caf%C3%A9/a%20b"
    assert scope["query_string"] == b"q=%20"


def test_absolute_form_target() -> None:
    scope = build(HTTPScopeFactory(), b"http://example.test:8080/p%41th?x=1")
    assert scope["path"] == "/pAth"
    assert scope["raw_path"] == b"/p%41th"
    assert scope["query_string"] == b"x=1"


def test_absolute_form_without_path() -> None:
    scope = build(HTTPScopeFactory(), b"http://example.test")
    assert scope["path"] == "/"
    assert scope["raw_path"] == b"/"


def test_asterisk_target() -> None:
    scope = HTTPScopeFactory().build(b"OPTIONS", b"*", "1.1", [], None)
    assert scope["path"] == "*"
    assert scope["raw_path"] == b"*"
    assert scope["query_string"] == b""


def test_root_path_prefixes_path_and_raw_path() -> None:
    scope = build(HTTPScopeFactory(root_path="/api"), b"/users/a%20b?x=1")
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/users/a b"
    assert scope["raw_path"] == b"/api/users/a%20b"
    assert scope["query_string"] == b"x=1"


def test_root_path_trailing_slash_dropped() -> None:
    scope = build(HTTPScopeFactory(root_path="/api/"), b"/users")
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/users"


def test_root_path_encoded_in_raw_path() -> None:
    scope = build(HTTPScopeFactory(root_path="/caf\u00e9 x"), b"/a")
    assert scope["path"] == "/caf\u00e9 x/a"
    assert scope["raw_path"] == b"/caf%C3%A9%20x/a"


@pytest.mark.parametrize("root_path", ["api", "api/"])
def test_root_path_without_leading_slash_rejected(root_path: str) -> None:
    with pytest.raises(ValueError, match="root_path must start with '/'"):
        HTTPScopeFactory(root_path=root_path)


def test_empty_scheme_rejected() -> None:
    with pytest.raises(ValueError, match="scheme must not be empty"):
        HTTPScopeFactory(scheme="")


def test_state_is_a_shallow_copy_per_request() -> None:
    pool = object()
    state: dict[str, Any] = {"pool": pool}
    factory = HTTPScopeFactory(state=state)
    first = build(factory)
    second = build(factory)

    assert first["state"] == {"pool": pool}
    assert first["state"] is not state
    assert first["state"] is not second["state"]
    assert first["state"]["pool"] is pool

    first["state"]["user"] = "alice"
    assert "user" not in state
    assert "user" not in second["state"]


def test_state_sees_later_lifespan_changes() -> None:
    # The lifespan task fills the dict after the factory was built.
    state: dict[str, Any] = {}
    factory = HTTPScopeFactory(state=state)
    state["ready"] = True
    assert build(factory)["state"] == {"ready": True}


def test_empty_state_dict_still_adds_key() -> None:
    assert build(HTTPScopeFactory(state={}))["state"] == {}


def test_scopes_do_not_share_nested_dicts() -> None:
    factory = HTTPScopeFactory()
    first = build(factory)
    second = build(factory)
    first["asgi"]["extra"] = True
    first["extensions"]["custom"] = {}
    assert second["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert second["extensions"] == {"http.response.trailers": {}}


def test_method_is_decoded_as_given() -> None:
    scope = HTTPScopeFactory().build(b"PROPFIND", b"/", "1.1", [], None)
    assert scope["method"] == "PROPFIND"
