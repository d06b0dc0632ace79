"""Check the import contracts between the five packages with import-linter.

The contracts live in ``[tool.importlinter]`` of the root ``pyproject.toml``.
One test checks them against the real source tree. The others build a tiny
stand-in tree of the five import packages in a temporary folder, where every
layer imports only the layers below it. They then add one forbidden import at a
time, so a contract that stops catching its violation fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"

LAYERS_CONTRACT = "Layers point down: cli -> server -> (bridge | protocols)"
INDEPENDENCE_CONTRACT = "The bridge and the protocols do not import each other"
CLI_CONTRACT = "The CLI reaches the protocols and the bridge only through the server"

# The imports of a tree that keeps every contract: each package imports only
# the packages below it, and the CLI reaches the lower layers through the server.
CLEAN_IMPORTS: dict[str, list[str]] = {
    "pounce_protocols": [],
    "pounce_asgi_bridge": [],
    "pounce_server": ["pounce_protocols", "pounce_asgi_bridge"],
    "pounce_cli": ["pounce_server"],
    "pounce": ["pounce_cli", "pounce_server", "pounce_protocols", "pounce_asgi_bridge"],
}

RESULT_LINE = re.compile(r"^(?P<name>.+) (?P<status>KEPT|BROKEN)$", re.MULTILINE)


def find_lint_imports() -> str:
    """Return the lint-imports executable of the interpreter running the tests."""
    beside_python = Path(sys.executable).parent / "lint-imports"
    if beside_python.exists():
        return str(beside_python)
    on_path = shutil.which("lint-imports")
    if on_path is None:
        pytest.fail("lint-imports not found: install import-linter in the test environment")
    return on_path


def run_lint_imports(cwd: Path, python_path: Path | None) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the root config and return its finished process."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if python_path is not None:
        # Entries on PYTHONPATH come before the editable installs of the
        # workspace, so the packages in python_path shadow the real ones.
        env["PYTHONPATH"] = str(python_path)
    return subprocess.run(
        [find_lint_imports(), "--no-logo", "--no-cache", str(CONFIG)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def contract_results(output: str) -> dict[str, str]:
    """Map each contract name in lint-imports output to KEPT or BROKEN."""
    return {match["name"].strip(): match["status"] for match in RESULT_LINE.finditer(output)}


def write_tree(src: Path, imports: dict[str, list[str]]) -> None:
    """Write one package per key whose __init__.py imports the listed packages."""
    for package, imported in imports.items():
        (src / package).mkdir(parents=True)
        lines = ['"""A stand-in package for the import contract tests."""', ""]
        lines += [f"import {name}" for name in imported]
        (src / package / "__init__.py").write_text("\n".join(lines) + "\n")


def test_config_names_every_package() -> None:
    config = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]

    assert sorted(config["root_packages"]) == sorted(CLEAN_IMPORTS)
    contract_names = [contract["name"] for contract in config["contracts"]]
    assert contract_names == [LAYERS_CONTRACT, INDEPENDENCE_CONTRACT, CLI_CONTRACT]


def test_source_tree_keeps_contracts() -> None:
    result = run_lint_imports(cwd=ROOT, python_path=None)
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    assert contract_results(output) == {
        LAYERS_CONTRACT: "KEPT",
        INDEPENDENCE_CONTRACT: "KEPT",
        CLI_CONTRACT: "KEPT",
    }, output


def test_clean_stand_in_tree_keeps_contracts(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_tree(src, CLEAN_IMPORTS)

    result = run_lint_imports(cwd=tmp_path, python_path=src)
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    assert set(contract_results(output).values()) == {"KEPT"}, output


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        ("pounce_asgi_bridge", "pounce_protocols", {LAYERS_CONTRACT, INDEPENDENCE_CONTRACT}),
        ("pounce_protocols", "pounce_asgi_bridge", {LAYERS_CONTRACT, INDEPENDENCE_CONTRACT}),
        # The server imports the bridge and the CLI imports the server, so these
        # two upward imports also join the bridge and the protocols indirectly.
        ("pounce_protocols", "pounce_server", {LAYERS_CONTRACT, INDEPENDENCE_CONTRACT}),
        ("pounce_asgi_bridge", "pounce_cli", {LAYERS_CONTRACT, INDEPENDENCE_CONTRACT}),
        ("pounce_server", "pounce_cli", {LAYERS_CONTRACT}),
        ("pounce_cli", "pounce", {LAYERS_CONTRACT}),
        ("pounce_cli", "pounce_protocols", {CLI_CONTRACT}),
        ("pounce_cli", "pounce_asgi_bridge", {CLI_CONTRACT}),
    ],
)
def test_forbidden_import_breaks_contract(
    tmp_path: Path, importer: str, imported: str, broken: set[str]
) -> None:
    imports = {package: list(names) for package, names in CLEAN_IMPORTS.items()}
    imports[importer].append(imported)
    src = tmp_path / "src"
    write_tree(src, imports)

    result = run_lint_imports(cwd=tmp_path, python_path=src)
    output = result.stdout + result.stderr
    results = contract_results(output)

    assert result.returncode != 0, output
    assert {name for name, status in results.items() if status == "BROKEN"} == broken, output
