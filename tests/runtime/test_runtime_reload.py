"""``pounce --reload`` as a user runs it: a real process, a real app file, real edits.

Each test copies a small app into ``tmp_path`` and runs the reloader on it.
Where the code changes under a running server, a client loop sends
requests on fresh connections the whole time, and every one of them must
succeed.
"""

from __future__ import annotations

import re
import signal
import sys
import time
from pathlib import Path

import pytest
from reload_helpers import (
    ClientLoop,
    Reply,
    descendants,
    get,
    marked_processes,
    process_gone,
    run_reloader,
    write_app,
    write_source,
)

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="--reload tests use POSIX signals and /proc"
)

#: The old generation's exit line. Every request sent after it reaches the new code.
_OLD_STOPPED = r"generation 1: server process stopped \(exit code 0\)"


def _failures(replies: list[Reply]) -> list[Reply]:
    return [reply for reply in replies if reply.error is not None]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param((), id="one-worker"),
        pytest.param(("--workers", "2", "--worker-kind", "thread"), id="two-threads"),
        pytest.param(("--workers", "2", "--worker-kind", "process"), id="two-processes"),
    ],
)
def test_reload_edit_under_load(tmp_path: Path, options: tuple[str, ...]) -> None:
    app = tmp_path / "app.py"
    write_app(app, "old")

    with (
        run_reloader(tmp_path, "--reload-dir", str(tmp_path), *options) as run,
        ClientLoop(run.port) as loop,
    ):
        loop.wait_count(5)
        mark = run.mark()
        write_app(app, "new")

        run.wait_for(
            r"generation 2: server process started \(pid \d+, changed: app\.py\)", after=mark
        )
        run.wait_for(r"reload: new workers serving", after=mark)
        run.wait_for(_OLD_STOPPED, after=mark)
        # The old generation may have accepted the request in flight now
        # before it stopped, but not the ones after it.
        settled = len(loop.snapshot())
        loop.wait_count(settled + 10)
        replies = loop.stop()

    assert _failures(replies) == []
    assert replies[0].version == "old"
    after = replies[settled + 1 :]
    assert len(after) >= 9
    assert {reply.version for reply in after} == {"new"}


def test_reload_sighup_new_generation(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    write_app(app, "same")

    with run_reloader(tmp_path, "--reload-dir", str(tmp_path)) as run, ClientLoop(run.port) as loop:
        loop.wait_count(5)
        first_pids = {reply.pid for reply in loop.snapshot()}
        mark = run.mark()
        run.process.send_signal(signal.SIGHUP)

        started = run.wait_for(
            r"generation 2: server process started \(pid (\d+), SIGHUP received\)",
            after=mark,
        )
        run.wait_for(_OLD_STOPPED, after=mark)
        settled = len(loop.snapshot())
        loop.wait_count(settled + 10)
        replies = loop.stop()

    new_pid = int(started.group(1))
    assert _failures(replies) == []
    assert new_pid not in first_pids
    after = replies[settled + 1 :]
    assert len(after) >= 9
    assert {reply.pid for reply in after} == {new_pid}


def test_reload_syntax_error_keeps_old(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    write_app(app, "old")
    # The error is on line 5: "def handler(:".
    broken = 'import os\n\nVERSION = "broken"\n\ndef handler(:\n    pass\n'

    with run_reloader(tmp_path, "--reload-dir", str(tmp_path)) as run, ClientLoop(run.port) as loop:
        loop.wait_count(3)
        mark = run.mark()
        write_source(app, broken)

        failed = run.wait_for(r"reload: the new workers failed to start.*", after=mark)
        run.wait_for(r"generation 2: server process failed", after=mark)
        during = len(loop.snapshot())
        loop.wait_count(during + 10)
        still_old = loop.snapshot()[during:]

        mark = run.mark()
        write_app(app, "fixed")
        run.wait_for(r"generation 3: server process started", after=mark)
        run.wait_for(_OLD_STOPPED, after=mark)
        settled = len(loop.snapshot())
        loop.wait_count(settled + 5)
        replies = loop.stop()

    assert f"{app}:5" in failed.group(0)
    assert "SyntaxError" in failed.group(0)
    assert _failures(replies) == []
    assert {reply.version for reply in still_old} == {"old"}
    assert {reply.version for reply in replies[settled + 1 :]} == {"fixed"}


def test_reload_first_import_fails(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import missing_module_of_reload_test\n\napp = None\n")

    with run_reloader(tmp_path, "--reload-dir", str(tmp_path), wait_serving=False) as run:
        code = run.wait_exit()

    assert code == 3, run.log()
    errors = run.find(r"pounce: error: .*")
    assert len(errors) == 1, run.log()
    assert "No module named 'missing_module_of_reload_test'" in errors[0].group(0)
    assert f"{tmp_path / 'app.py'}:1" in errors[0].group(0)
    assert run.find(r"serving on") == []


def test_reload_ignores_other_files(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    write_app(app, "old")
    notes = tmp_path / "notes.txt"
    notes.write_text("first\n")
    build = tmp_path / "build"
    build.mkdir()
    generated = build / "generated.py"
    generated.write_text("VALUE = 1\n")
    scratch = tmp_path / "scratch_one.py"
    scratch.write_text("VALUE = 1\n")

    with run_reloader(
        tmp_path,
        "--reload-dir",
        str(tmp_path),
        "--reload-exclude",
        "build",
        "--reload-exclude",
        "scratch_*.py",
    ) as run:
        mark = run.mark()
        # A .txt file matches no include glob. The others match *.py, but also
        # an exclude glob for a directory name or for a file name.
        write_source(notes, "second\n")
        write_source(generated, "VALUE = 22\n")
        write_source(scratch, "VALUE = 22\n")
        (tmp_path / "scratch_two.py").write_text("VALUE = 3\n")
        # Long enough for either watcher backend to report a change on its own,
        # so that a wrong one would start a generation before app.py changes.
        time.sleep(1.5)
        ignored = run.find(r"reload: starting|generation 2", after=mark)
        write_app(app, "new")
        started = run.wait_for(
            r"generation 2: server process started \(pid \d+, (.*)\)", after=mark
        )
        run.wait_for(_OLD_STOPPED, after=mark)
        reply = get(run.port)

    assert ignored == []
    assert started.group(1) == "changed: app.py"
    assert reply.version == "new"


def _wait_all_gone(processes: dict[int, str], timeout: float = 10) -> dict[int, str]:
    """Wait until none of ``processes`` runs, and return those still running."""
    # The multiprocessing resource trackers end when their parent closes
    # its pipe, so they may outlive it by a moment.
    deadline = time.monotonic() + timeout
    left = dict(processes)
    while left and time.monotonic() < deadline:
        left = {pid: start for pid, start in left.items() if not process_gone(pid, start)}
        time.sleep(0.05)
    return left


_needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@_needs_proc
def test_reload_sigterm_leaves_no_children(tmp_path: Path) -> None:
    write_app(tmp_path / "app.py", "old")

    with run_reloader(
        tmp_path, "--reload-dir", str(tmp_path), "--workers", "2", "--worker-kind", "process"
    ) as run:
        assert get(run.port).version == "old"
        family = descendants(run.process.pid)
        # The generation and its two worker processes, at least.
        assert len(family) >= 3, family
        assert set(family) <= set(marked_processes(tmp_path))
        code = run.stop(signal.SIGTERM)

    assert code == 0, run.log()
    assert _wait_all_gone(family) == {}, run.log()
    assert _wait_all_gone(marked_processes(tmp_path)) == {}, run.log()


@_needs_proc
def test_reload_sigterm_during_reload(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    write_app(app, "old")

    with run_reloader(
        tmp_path, "--reload-dir", str(tmp_path), "--workers", "2", "--worker-kind", "process"
    ) as run:
        mark = run.mark()
        write_app(app, "new")
        run.wait_for(r"generation 2: server process started", after=mark)
        # The new generation is still importing the app or starting its
        # workers, and the old one still serves.
        code = run.stop(signal.SIGTERM)

    assert code == 0, run.log()
    # Marked processes include workers of the new generation that started
    # after the test last looked.
    assert _wait_all_gone(marked_processes(tmp_path)) == {}, run.log()


def test_reload_missing_dir_exits_2(tmp_path: Path) -> None:
    write_app(tmp_path / "app.py", "old")
    missing = tmp_path / "missing"

    with run_reloader(tmp_path, "--reload-dir", str(missing), wait_serving=False) as run:
        code = run.wait_exit()

    assert code == 2, run.log()
    naming = run.find(re.escape(str(missing)))
    assert len(naming) >= 1, run.log()
    assert run.find(r"pounce: error: .*not found.*" + re.escape(str(missing))) != []
    assert run.find(r"generation 1") == []
