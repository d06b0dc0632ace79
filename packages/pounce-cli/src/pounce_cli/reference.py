"""Markdown tables of the options, for docs/cli.md and docs/configuration.md.

The docs keep these tables between ``<!-- options:begin -->`` and
``<!-- options:end -->`` markers. A test checks that they match what this
module renders, so the reference cannot drift from ``ServerConfig``.
Regenerate with ``python -m pounce_cli.reference docs/cli.md docs/configuration.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .options import Option, server_options

__all__ = ["BEGIN", "END", "render_cli_table", "render_config_table", "update_file"]

BEGIN = "<!-- options:begin -->"
END = "<!-- options:end -->"


def _default(option: Option) -> str:
    value = option.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if value in ("", ()):
        return "empty"
    return f"`{value}`"


def _flag(option: Option) -> str:
    if option.kind == "bool":
        positive = option.flag
        negative = "--no-" + positive.removeprefix("--")
        return f"`{positive}` / `{negative}`"
    metavar = option.metavar or option.name.upper()
    if option.choices:
        metavar = "{" + ",".join(option.choices) + "}"
    return f"`{option.flag} {metavar}`"


def render_cli_table() -> str:
    """Render the table of server flags with their environment variables."""
    rows = ["| flag | environment | default | what it sets |", "|---|---|---|---|"]
    for option in server_options():
        rows.append(f"| {_flag(option)} | `{option.env}` | {_default(option)} | {option.help} |")
    return "\n".join(rows)


def render_config_table() -> str:
    """Render the table of ``ServerConfig`` fields."""
    rows = ["| field | type | default | flag | meaning |", "|---|---|---|---|---|"]
    types = {
        "bool": "bool",
        "int": "int",
        "float": "float (seconds)",
        "str": "str",
        "optional-str": "str or None",
        "optional-int": "int or None",
        "header": "tuple of (name, value)",
        "list": "list of str",
    }
    for option in server_options():
        rows.append(
            f"| `{option.name}` | {types[option.kind]} | {_default(option)} | "
            f"`{option.flag}` | {option.help} |"
        )
    return "\n".join(rows)


def update_file(path: Path, table: str) -> bool:
    """Replace the table between the markers in ``path``; return whether it changed."""
    text = path.read_text(encoding="utf-8")
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"{path} has no {BEGIN} ... {END} markers")
    updated = f"{head}{BEGIN}\n{table}\n{END}{tail}"
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


def main(argv: list[str]) -> int:
    """Regenerate the tables in the given files (cli.md first, then configuration.md)."""
    renderers = {"cli.md": render_cli_table, "configuration.md": render_config_table}
    for name in argv:
        path = Path(name)
        update_file(path, renderers[path.name]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
