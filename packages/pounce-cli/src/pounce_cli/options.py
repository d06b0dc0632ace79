"""The command line, built from ``ServerConfig``'s fields.

Every server option is a ``ServerConfig`` field whose metadata carries its
help text and flag; this module turns those fields into argparse options,
so a new field shows up in ``pounce --help`` with nothing else to edit.
Values come from four places, highest first: flags, ``POUNCE_*``
environment variables, a config file (``pounce.toml``, or ``[tool.pounce]``
in ``pyproject.toml``), and the defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pounce_server import ConfigError, ServerConfig, __version__

__all__ = ["CLI_ONLY", "ENV_PREFIX", "Option", "build_parser", "collect_settings", "server_options"]

ENV_PREFIX = "POUNCE_"

#: Settings that belong to the command, not to ``ServerConfig``.
CLI_ONLY = ("app", "factory", "app_dir")


@dataclasses.dataclass(frozen=True, slots=True)
class Option:
    """One ``ServerConfig`` field in its command-line form."""

    name: str
    flag: str
    # "str", "optional-str", "int", "optional-int", "float", "bool", "header", "list"
    kind: str
    default: Any
    help: str
    metavar: str | None
    choices: tuple[str, ...] | None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def server_options() -> list[Option]:
    """Describe every documented ``ServerConfig`` field as a command-line option."""
    hints = typing.get_type_hints(ServerConfig)
    options = []
    for field in dataclasses.fields(ServerConfig):
        if not field.init or "help" not in field.metadata:
            continue
        meta = field.metadata
        options.append(
            Option(
                name=field.name,
                flag=meta["flag"] or "--" + field.name.replace("_", "-"),
                kind=_kind(hints[field.name]),
                default=field.default,
                help=meta["help"],
                metavar=meta["metavar"],
                choices=meta["choices"],
            )
        )
    return options


def _kind(hint: Any) -> str:
    if hint is bool:
        return "bool"
    if hint is int:
        return "int"
    if hint is float:
        return "float"
    if hint is str:
        return "str"
    if hint == int | None:
        return "optional-int"
    if hint == str | None:
        return "optional-str"
    if hint == tuple[tuple[str, str], ...]:
        return "header"
    if hint == tuple[str, ...]:
        return "list"
    raise TypeError(f"no command-line form for a field of type {hint!r}")


# Converters shared by flags, environment variables and config files. Each
# raises ValueError with a message that names what was expected.


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def _to_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _to_header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise ValueError(f"expected 'Name: value', got {text!r}")
    return (name.strip(), value.strip())


def _to_item(text: str) -> str:
    if not text.strip():
        raise ValueError("expected a value, got an empty string")
    return text.strip()


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "int": _to_int,
    "optional-int": _to_int,
    "float": _to_float,
    "str": str,
    "optional-str": str,
    "bool": _to_bool,
}


def _argparse_type(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"pounce: error: {message} (see pounce --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``pounce`` argument parser."""
    parser = _Parser(
        prog="pounce",
        description="Serve an ASGI application over HTTP/1.1.",
        epilog=(
            "Every option can also be set with a POUNCE_* environment variable "
            "(POUNCE_PORT=9000) or in pounce.toml / [tool.pounce] in pyproject.toml; "
            "flags win over the environment, which wins over the file. "
            "Exit codes: 0 clean shutdown, 1 startup or runtime failure, "
            "2 invalid option, 3 app could not be loaded, 4 cannot bind."
        ),
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument(
        "app", nargs="?", metavar="APP", help="The ASGI app as 'module:attribute', e.g. main:app."
    )
    parser.add_argument(
        "--factory",
        action="store_true",
        help="Treat APP as a factory: call it with no arguments to get the app.",
    )
    parser.add_argument(
        "--app-dir",
        metavar="DIR",
        help="Directory put first on sys.path before importing APP (default: the current one).",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="Read settings from this TOML file instead of pounce.toml."
    )
    parser.add_argument("--version", action="version", version=f"pounce {__version__}")

    for option in server_options():
        default = option.default
        shown = "" if default in (None, "", ()) else f" (default: {_show(default)})"
        if option.kind == "bool":
            parser.add_argument(
                option.flag,
                dest=option.name,
                action=argparse.BooleanOptionalAction,
                help=option.help + shown,
            )
        elif option.kind in ("header", "list"):
            parser.add_argument(
                option.flag,
                dest=option.name,
                action="append",
                metavar=option.metavar,
                type=_argparse_type(_to_header if option.kind == "header" else _to_item),
                help=option.help,
            )
        else:
            # With choices and no metavar, argparse lists the choices in --help.
            metavar = option.metavar or (None if option.choices else option.name.upper())
            parser.add_argument(
                option.flag,
                dest=option.name,
                metavar=metavar,
                type=_argparse_type(_CONVERTERS[option.kind]),
                choices=option.choices,
                help=option.help + shown,
            )
    return parser


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def collect_settings(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merge flags, environment and config file into (command settings, config values).

    Raise ``ConfigError`` for an invalid environment variable or file entry;
    flag errors exit through argparse with code 2.
    """
    parser = build_parser()
    flags = vars(parser.parse_args(argv))
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    options = {option.name: option for option in server_options()}

    merged: dict[str, Any] = {}
    merged.update(_from_file(flags.pop("config", None), cwd, options))
    merged.update(_from_environ(environ, options))
    for name, option in options.items():
        if option.kind in ("header", "list") and name in flags:
            flags[name] = tuple(flags[name])
    merged.update(flags)

    command = {name: merged.pop(name) for name in CLI_ONLY if name in merged}
    return command, merged


def _from_environ(environ: Mapping[str, str], options: dict[str, Option]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in (*CLI_ONLY, *options):
        key = ENV_PREFIX + name.upper()
        if key not in environ:
            continue
        text = environ[key]
        if name in CLI_ONLY:
            values[name] = _to_bool(text) if name == "factory" else text
            continue
        values[name] = _convert(options[name], text, key)
    return values


def _convert(option: Option, text: str, source: str) -> Any:
    try:
        if option.kind == "header":
            return tuple(_to_header(part) for part in _split_headers(text))
        if option.kind == "list":
            # Comma-separated, as in POUNCE_BIND=127.0.0.1:8000,[::1]:8000.
            return tuple(_to_item(part) for part in text.split(",") if part.strip())
        value = _CONVERTERS[option.kind](text)
    except ValueError as exc:
        raise ConfigError(source, str(exc)) from None
    if option.choices and value not in option.choices:
        raise ConfigError(source, f"{value!r} is not one of {', '.join(option.choices)}")
    return value


# A comma starts a new header only when a "Name:" follows it, so values
# such as "no-cache, no-store" keep their commas.
_HEADER_SEPARATOR = re.compile(r",\s*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*:)")


def _split_headers(text: str) -> list[str]:
    return [part for part in _HEADER_SEPARATOR.split(text) if part.strip()]


def _from_file(path: str | None, cwd: Path, options: dict[str, Option]) -> dict[str, Any]:
    table, source = _read_config_table(path, cwd)
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        where = f"{source}: {key}"
        if name in CLI_ONLY:
            values[name] = value
            continue
        option = options.get(name)
        if option is None:
            raise ConfigError(where, "unknown setting; see pounce --help for the names")
        if option.kind == "header":
            if not isinstance(value, Mapping):
                raise ConfigError(where, "expected a table of header names to values")
            values[name] = tuple((str(k), str(v)) for k, v in value.items())
        elif option.kind == "list":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ConfigError(where, "expected a string or a list of strings")
            values[name] = tuple(items)
        elif isinstance(value, str) and option.kind not in ("str", "optional-str"):
            values[name] = _convert(option, value, where)
        else:
            values[name] = value
    return values


def _read_config_table(path: str | None, cwd: Path) -> tuple[dict[str, Any], str]:
    if path is not None:
        return _load_toml(Path(path), None), path
    own = cwd / "pounce.toml"
    if own.is_file():
        return _load_toml(own, None), str(own)
    project = cwd / "pyproject.toml"
    if project.is_file():
        return _load_toml(project, ("tool", "pounce")), f"{project} [tool.pounce]"
    return {}, ""


def _load_toml(path: Path, table: tuple[str, ...] | None) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError("config", f"file {str(path)!r} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    for key in table or ():
        data = data.get(key, {})
        if not isinstance(data, dict):
            raise ConfigError("config", f"[{'.'.join(table or ())}] in {path} is not a table")
    return data
