"""The option tables in docs/ match what ServerConfig's fields render."""

from __future__ import annotations

from pathlib import Path

import pytest

from pounce_cli.reference import BEGIN, END, render_cli_table, render_config_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def table_in(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text.partition(BEGIN)[2].partition(END)[0].strip()


@pytest.mark.parametrize(
    ("name", "render"), [("cli.md", render_cli_table), ("configuration.md", render_config_table)]
)
def test_docs_table_is_current(name: str, render: object) -> None:
    expected = render()  # type: ignore[operator]
    assert table_in(DOCS / name) == expected, (
        f"docs/{name} is out of date: run python -m pounce_cli.reference docs/{name}"
    )
