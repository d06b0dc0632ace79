"""Run the bridge's tests in a virtual environment that contains only the bridge.

A custom server must be able to use ``pounce-asgi-bridge`` without the rest of
Pounce. This test builds a wheel of the bridge, installs it with pytest into a
fresh virtual environment, checks that no other Pounce package came along, and
runs ``tests/bridge`` with that environment's pytest. An import of another
Pounce layer anywhere in the bridge or its tests then fails here even where the
workspace environment, which installs all five packages, hides it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BRIDGE = ROOT / "packages" / "pounce-asgi-bridge"

# The other import packages of the workspace. None of them may be importable
# beside the bridge alone.
OTHER_LAYERS = ["pounce_protocols", "pounce_server", "pounce_cli", "pounce"]

INSTALL_TIMEOUT = 300
TEST_TIMEOUT = 600


def isolated_env(venv: Path) -> dict[str, str]:
    """Return os.environ without the settings that would leak the workspace in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTEST_ADDOPTS"}
        and not key.startswith(("PYTEST_XDIST", "PYTEST_PLUGINS", "COV_CORE"))
    }
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    return env


def run(command: list[str], env: dict[str, str], timeout: float) -> str:
    """Run a setup command and return its output, failing the test if it fails."""
    result = subprocess.run(
        command,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output}"
    return output


def create_bridge_venv(tmp_path: Path) -> Path:
    """Create a virtual environment with the bridge wheel and pytest only."""
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    env = isolated_env(venv)
    uv = shutil.which("uv")

    if uv is not None:
        # Install a wheel built now, because uv may reuse a cached build of a
        # directory while the directory's pyproject.toml is unchanged.
        wheel_dir = tmp_path / "wheel"
        run(
            [uv, "build", "--wheel", "--out-dir", str(wheel_dir), str(BRIDGE)], env, INSTALL_TIMEOUT
        )
        (wheel,) = wheel_dir.glob("*.whl")
        run([uv, "venv", "--python", sys.executable, str(venv)], env, INSTALL_TIMEOUT)
        run(
            [uv, "pip", "install", "--python", str(python), str(wheel), "pytest"],
            env,
            INSTALL_TIMEOUT,
        )
    else:
        run([sys.executable, "-m", "venv", str(venv)], env, INSTALL_TIMEOUT)
        run(
            [str(python), "-m", "pip", "install", "--quiet", str(BRIDGE), "pytest"],
            env,
            INSTALL_TIMEOUT,
        )
    return venv


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT * 3 + TEST_TIMEOUT)
def test_bridge_tests_pass_alone(tmp_path: Path) -> None:
    venv = create_bridge_venv(tmp_path)
    python = str(venv / "bin" / "python")
    env = isolated_env(venv)

    location = run(
        [python, "-c", "import pounce_asgi_bridge; print(*pounce_asgi_bridge.__path__)"],
        env,
        INSTALL_TIMEOUT,
    )
    assert Path(location.strip()).is_relative_to(venv), f"bridge imported from {location}"

    for module in OTHER_LAYERS:
        probe = subprocess.run(
            [python, "-c", f"import {module}"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
        assert probe.returncode != 0, f"{module} is importable beside the bridge alone"
        assert "ModuleNotFoundError" in probe.stderr, probe.stderr

    # The cache provider is off because the workspace run may write the same
    # .pytest_cache folder at the same time.
    result = subprocess.run(
        [
            str(venv / "bin" / "pytest"),
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(ROOT),
            "tests/bridge",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != pytest.ExitCode.NO_TESTS_COLLECTED, (
        f"tests/bridge has no tests:\n{output}"
    )
    assert result.returncode == pytest.ExitCode.OK, output
