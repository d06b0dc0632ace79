"""Load the ASGI application named by a ``module:attribute`` string."""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import AppLoadError, ConfigError

__all__ = ["AppSource", "load_app"]


@dataclass(frozen=True, slots=True)
class AppSource:
    """Where a worker process finds the app: a ``module:attribute`` or an object.

    An object is sent to worker processes by pickling, which works for
    module-level apps only (they are pickled by reference, that is, imported
    again by name). ``check_picklable`` reports any other app before a worker starts.
    """

    spec: str | None
    obj: Any = None
    factory: bool = False
    app_dir: str | None = "."

    def load(self) -> Callable[..., Any]:
        if self.spec is not None:
            return load_app(self.spec, factory=self.factory, app_dir=self.app_dir)
        return self.obj  # type: ignore[no-any-return]

    def describe(self) -> str:
        if self.spec is not None:
            return self.spec
        name = getattr(self.obj, "__qualname__", None) or type(self.obj).__qualname__
        return f"{getattr(self.obj, '__module__', '?')}.{name}"

    def check_picklable(self) -> None:
        """Raise ``ConfigError`` if worker processes could not receive the app object."""
        if self.spec is not None:
            return
        try:
            pickle.dumps(self.obj)
        except Exception as exc:
            raise ConfigError(
                "worker_kind",
                f"process workers import the app in each process, and {self.describe()} "
                f"cannot be sent to them ({type(exc).__name__}: {exc}); pass the app as "
                "'module:attribute', or use --worker-kind thread",
            ) from None


def load_app(spec: str, *, factory: bool = False, app_dir: str | None = ".") -> Callable[..., Any]:
    """Import ``module:attribute`` and return the ASGI callable it names.

    ``attribute`` may be dotted (``module:holder.app``). With ``factory`` the
    attribute is called with no arguments and its result is the app.
    ``app_dir`` is put first on ``sys.path`` so modules beside it import.
    Every failure raises ``AppLoadError`` with one line naming the fix.
    """
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise AppLoadError(
            f"invalid application {spec!r}: expected 'module:attribute', for example 'main:app'"
        )
    if app_dir is not None:
        if not os.path.isdir(app_dir):
            raise AppLoadError(f"app directory {app_dir!r} does not exist; check --app-dir")
        sys.path.insert(0, app_dir)

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the named module missing is the user's typo. A missing import
        # inside it needs another fix, and the message names that fix.
        if exc.name is not None and (
            module_name == exc.name or module_name.startswith(exc.name + ".")
        ):
            raise AppLoadError(
                f"module {module_name!r} not found; check the name and --app-dir "
                f"(searched from {app_dir or 'the current sys.path'!r})"
            ) from None
        missing = exc.name or "?"
        if missing.partition(".")[0] == module_name.partition(".")[0]:
            hint = "check that import in your own package"
        else:
            hint = "install the missing package"
        raise AppLoadError(
            f"importing {module_name!r} failed at {_where(exc)}: {exc}; {hint}"
        ) from exc
    except Exception as exc:
        raise AppLoadError(
            f"importing {module_name!r} failed at {_where(exc)}: {type(exc).__name__}: {exc}"
        ) from exc

    app: Any = module
    for part in attribute.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise AppLoadError(
                f"attribute {attribute!r} not found in module {module_name!r}; "
                f"check the name after the colon"
            ) from None

    if factory:
        if not callable(app):
            raise AppLoadError(f"factory {spec!r} is not callable")
        try:
            app = app()
        except Exception as exc:
            raise AppLoadError(f"factory {spec!r} raised {type(exc).__name__}: {exc}") from exc
    elif inspect.isfunction(app) and _takes_no_arguments(app):
        raise AppLoadError(
            f"{spec!r} takes no arguments, so it looks like an app factory; pass --factory"
        )

    if not callable(app):
        kind = type(app).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise AppLoadError(
            f"{spec!r} is {article} {kind}, not an ASGI callable app(scope, receive, send)"
        )
    return app  # type: ignore[no-any-return]


def _where(exc: BaseException) -> str:
    """Return "file:line" of the innermost frame of ``exc``, where it was raised."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown place"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


def _takes_no_arguments(function: Callable[..., Any]) -> bool:
    try:
        return not inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
