"""Check that the five distributions under packages/ can be released together.

Each package needs its own metadata, README and ``py.typed`` marker. All five
share one version, and a package names its siblings by plain name and version
range, never by path, so that its wheel installs from an index. The sibling
dependencies follow the layers: a package depends only on the layers below it.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"

# Distribution name -> (import name, sibling distributions it depends on).
LAYOUT: dict[str, tuple[str, set[str]]] = {
    "pounce-protocols": ("pounce_protocols", set()),
    "pounce-asgi-bridge": ("pounce_asgi_bridge", set()),
    "pounce-server": ("pounce_server", {"pounce-protocols", "pounce-asgi-bridge"}),
    "pounce-cli": ("pounce_cli", {"pounce-server"}),
    "pounce": (
        "pounce",
        {"pounce-protocols", "pounce-asgi-bridge", "pounce-server", "pounce-cli"},
    ),
}


def load_project(distribution: str) -> dict[str, Any]:
    """Return the [project] table of one package's pyproject.toml."""
    with (PACKAGES / distribution / "pyproject.toml").open("rb") as file:
        project: dict[str, Any] = tomllib.load(file)["project"]
    return project


def sibling_requirements(project: dict[str, Any]) -> list[Requirement]:
    """Return the requirements of a project, extras included, that name a sibling."""
    strings: list[str] = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        strings.extend(extra)
    requirements = [Requirement(string) for string in strings]
    return [req for req in requirements if canonicalize_name(req.name) in LAYOUT]


def test_packages_folder_matches_layout() -> None:
    found = {path.name for path in PACKAGES.iterdir() if (path / "pyproject.toml").exists()}

    assert found == set(LAYOUT)


@pytest.mark.parametrize("distribution", sorted(LAYOUT))
def test_package_has_metadata_files(distribution: str) -> None:
    folder = PACKAGES / distribution
    import_name = LAYOUT[distribution][0]
    project = load_project(distribution)

    assert project["name"] == distribution
    assert project["readme"] == "README.md"
    readme = folder / "README.md"
    assert readme.is_file(), f"missing {readme.relative_to(ROOT)}"
    assert readme.read_text().strip(), f"{readme.relative_to(ROOT)} is empty"
    py_typed = folder / "src" / import_name / "py.typed"
    assert py_typed.is_file(), f"missing {py_typed.relative_to(ROOT)}"


@pytest.mark.parametrize("distribution", sorted(LAYOUT))
def test_wheel_target_is_import_package(distribution: str) -> None:
    with (PACKAGES / distribution / "pyproject.toml").open("rb") as file:
        config = tomllib.load(file)
    import_name = LAYOUT[distribution][0]

    targets = config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert targets == [f"src/{import_name}"]


def test_versions_agree() -> None:
    versions = {name: load_project(name)["version"] for name in LAYOUT}

    assert len(set(versions.values())) == 1, versions


def test_python_requirement_agrees() -> None:
    requires = {name: load_project(name)["requires-python"] for name in LAYOUT}

    assert len(set(requires.values())) == 1, requires


@pytest.mark.parametrize("distribution", sorted(LAYOUT))
def test_siblings_follow_layers(distribution: str) -> None:
    requirements = sibling_requirements(load_project(distribution))
    names = {canonicalize_name(req.name) for req in requirements}

    assert names == LAYOUT[distribution][1]


@pytest.mark.parametrize("distribution", sorted(LAYOUT))
def test_siblings_named_by_range(distribution: str) -> None:
    for requirement in sibling_requirements(load_project(distribution)):
        sibling_version = Version(load_project(canonicalize_name(requirement.name))["version"])

        assert requirement.url is None, f"{requirement} points at a path or URL"
        assert requirement.specifier, f"{requirement} has no version range"
        assert sibling_version in requirement.specifier, (
            f"{requirement} excludes the sibling's own version {sibling_version}"
        )
        # A bare ==X.Y.Z pin would force every package to release together
        # even for a fix in one of them.
        operators = {spec.operator for spec in requirement.specifier}
        assert operators != {"=="}, f"{requirement} pins one version instead of a range"


def test_root_is_not_a_distribution() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())

    assert "project" not in config
    assert "build-system" not in config


@pytest.mark.slow
def test_wheels_name_siblings_by_range(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv not found on PATH: it builds the wheels for this test")
    for distribution in sorted(LAYOUT):
        out_dir = tmp_path / distribution
        subprocess.run(
            [uv, "build", "--wheel", "--out-dir", str(out_dir), str(PACKAGES / distribution)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        (wheel,) = out_dir.glob("*.whl")
        import_name, siblings = LAYOUT[distribution]

        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            (metadata_name,) = [name for name in names if name.endswith(".dist-info/METADATA")]
            metadata = Parser().parsestr(archive.read(metadata_name).decode())

        assert f"{import_name}/py.typed" in names
        requirements = [Requirement(line) for line in metadata.get_all("Requires-Dist", [])]
        wheel_siblings = [req for req in requirements if canonicalize_name(req.name) in LAYOUT]
        assert {canonicalize_name(req.name) for req in wheel_siblings} == siblings
        for requirement in wheel_siblings:
            assert requirement.url is None, f"{wheel.name}: {requirement} points at a path"
            assert requirement.specifier, f"{wheel.name}: {requirement} has no range"
