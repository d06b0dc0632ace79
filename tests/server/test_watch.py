"""The --reload file watcher: which changes it reports, and when.

Every behaviour test runs on both backends. The watchfiles runs are skipped
where that package is not installed. A test that expects a change to be
ignored also makes one watched change, and checks that the batch holds only
that one, so a filter that lets too much through fails instead of timing out.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pounce_server.watch import DEFAULT_EXCLUDES, DEFAULT_INCLUDES, FileWatcher

HAS_WATCHFILES = importlib.util.find_spec("watchfiles") is not None

# Upper bound for a wait that expects a change. A passing test returns long before it.
CHANGE_TIMEOUT = 5.0

BACKENDS = [
    "poll",
    pytest.param(
        "watchfiles",
        marks=pytest.mark.skipif(
            not HAS_WATCHFILES, reason="the watchfiles package is not installed"
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def root(tmp_path: Path) -> Path:
    # The watcher reports resolved paths, so the tests build theirs from the same.
    return tmp_path.resolve()


def make_watcher(
    root: Path,
    backend: str,
    includes: tuple[str, ...] = (),
    excludes: tuple[str, ...] = (),
) -> FileWatcher:
    return FileWatcher([str(root)], includes, excludes, poll_interval=0.05, backend=backend)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_modified_file_is_reported(root: Path, backend: str) -> None:
    module = root / "app.py"
    write(module, "x = 1\n")
    with make_watcher(root, backend) as watcher:
        assert watcher.backend == backend
        write(module, "x = 22\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [module]


def test_created_file_is_reported(root: Path, backend: str) -> None:
    with make_watcher(root, backend) as watcher:
        module = root / "new.py"
        write(module, "y = 1\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [module]


def test_deleted_file_is_reported(root: Path, backend: str) -> None:
    module = root / "old.py"
    write(module, "z = 1\n")
    with make_watcher(root, backend) as watcher:
        module.unlink()
        assert watcher.wait(CHANGE_TIMEOUT) == [module]


def test_file_in_subdirectory_is_reported(root: Path, backend: str) -> None:
    module = root / "pkg" / "sub" / "mod.py"
    write(module, "a = 1\n")
    with make_watcher(root, backend) as watcher:
        write(module, "a = 2222\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [module]


def test_no_change_times_out_with_none(root: Path, backend: str) -> None:
    write(root / "app.py", "x = 1\n")
    with make_watcher(root, backend) as watcher:
        assert watcher.wait(0.3) is None
        assert watcher.wait(0) is None


def test_text_file_ignored_by_default(root: Path, backend: str) -> None:
    with make_watcher(root, backend) as watcher:
        write(root / "notes.txt", "hello\n")
        write(root / "app.py", "x = 1\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [root / "app.py"]


def test_text_file_reported_when_included(root: Path, backend: str) -> None:
    # Given includes replace the default *.py rather than add to it.
    with make_watcher(root, backend, includes=("*.txt",)) as watcher:
        write(root / "app.py", "x = 1\n")
        write(root / "notes.txt", "hello\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [root / "notes.txt"]


def test_default_excludes_prune_trees(root: Path, backend: str) -> None:
    ignored = [
        root / ".venv" / "lib" / "site.py",
        root / "__pycache__" / "app.py",
        root / "pkg" / ".hidden" / "mod.py",
        root / ".hidden.py",
        root / "app.py~",
        root / "app.pyc",
    ]
    # The directories exist before watching starts, as a virtual environment would.
    for path in ignored:
        path.parent.mkdir(parents=True, exist_ok=True)
    with make_watcher(root, backend) as watcher:
        for path in ignored:
            write(path, "ignored = True\n")
        write(root / "app.py", "x = 1\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [root / "app.py"]


def test_custom_excludes_by_name_and_path(root: Path, backend: str) -> None:
    ignored = [
        root / "node_modules" / "lib" / "tool.py",
        root / "generated" / "schema.py",
        root / "generated" / "deep" / "more.py",
    ]
    watched = root / "deep" / "generated.py"
    for path in [*ignored, watched]:
        path.parent.mkdir(parents=True, exist_ok=True)
    excludes = ("node_modules", "generated/*")
    with make_watcher(root, backend, excludes=excludes) as watcher:
        for path in ignored:
            write(path, "ignored = True\n")
        write(watched, "x = 1\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [watched]


def test_separator_free_glob_does_not_span_directories(root: Path, backend: str) -> None:
    # "a*z" must not exclude ab/xyz.py, whose relative path matches it as a
    # whole while no single part does.
    module = root / "ab" / "xyz.py"
    module.parent.mkdir()
    with make_watcher(root, backend, excludes=("a*z",)) as watcher:
        write(module, "x = 1\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [module]


def test_moved_in_directory_reports_files(root: Path, backend: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    watched = root / "tree"
    watched.mkdir()
    write(outside / "pkg" / "mod.py", "x = 1\n")
    write(outside / "pkg" / "sub" / "deep.py", "y = 1\n")
    write(outside / "pkg" / "README.txt", "docs\n")
    with make_watcher(watched, backend) as watcher:
        (outside / "pkg").rename(watched / "pkg")
        assert watcher.wait(CHANGE_TIMEOUT) == [
            watched / "pkg" / "mod.py",
            watched / "pkg" / "sub" / "deep.py",
        ]


def test_quick_writes_make_one_batch(root: Path, backend: str) -> None:
    first = root / "a.py"
    second = root / "b.py"
    write(first, "")
    with make_watcher(root, backend) as watcher:
        for count in range(5):
            write(first, "x = 1\n" * (count + 1))
            time.sleep(0.01)
        write(second, "y = 1\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [first, second]
        assert watcher.wait(0.5) is None


def test_changes_between_waits_are_kept(root: Path, backend: str) -> None:
    module = root / "app.py"
    with make_watcher(root, backend) as watcher:
        write(module, "x = 1\n")
        time.sleep(0.3)
        assert watcher.wait(CHANGE_TIMEOUT) == [module]


def test_constant_writes_still_return(root: Path, backend: str) -> None:
    module = root / "busy.py"
    stop = threading.Event()

    def keep_writing() -> None:
        count = 0
        end = time.monotonic() + 8.0
        while not stop.is_set() and time.monotonic() < end:
            count += 1
            write(module, "x = 1\n" * (count % 50 + 1))
            time.sleep(0.02)

    with make_watcher(root, backend) as watcher:
        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            batch = watcher.wait(CHANGE_TIMEOUT)
            still_writing = writer.is_alive()
        finally:
            stop.set()
            writer.join()
    assert batch == [module]
    # The batch ended while the writes went on, so its length is bounded.
    assert still_writing


def test_nested_root_is_not_pruned_by_outer_excludes(root: Path, backend: str) -> None:
    config = root / ".config"
    config.mkdir()
    module = config / "settings.py"
    watcher = FileWatcher([root, config], (), (), poll_interval=0.05, backend=backend)
    with watcher:
        assert watcher.dirs == (root, config)
        write(module, "DEBUG = True\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [module]


def test_empty_dirs_watch_current_directory(
    root: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root)
    with FileWatcher((), (), (), poll_interval=0.05, backend=backend) as watcher:
        assert watcher.dirs == (root,)
        write(root / "app.py", "x = 1\n")
        assert watcher.wait(CHANGE_TIMEOUT) == [root / "app.py"]


def test_defaults_are_documented_values() -> None:
    assert DEFAULT_INCLUDES == ("*.py",)
    assert set(DEFAULT_EXCLUDES) == {".*", "*.py[cod]", "__pycache__", "*~"}


def test_missing_directory_raises_value_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    with pytest.raises(ValueError, match=re.escape(str(missing))):
        FileWatcher([str(missing)], (), (), backend="poll")


def test_file_as_directory_raises_value_error(tmp_path: Path) -> None:
    module = tmp_path / "app.py"
    module.write_text("")
    with pytest.raises(ValueError, match="not a directory"):
        FileWatcher([str(module)], (), (), backend="poll")


def test_string_instead_of_sequence_raises(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="includes"):
        FileWatcher([str(tmp_path)], "*.py", (), backend="poll")


def test_unknown_backend_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="inotify"):
        FileWatcher([str(tmp_path)], (), (), backend="inotify")


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan")])
def test_bad_poll_interval_raises(tmp_path: Path, interval: float) -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        FileWatcher([str(tmp_path)], (), (), poll_interval=interval, backend="poll")


def test_wait_after_close_raises(tmp_path: Path) -> None:
    watcher = FileWatcher([str(tmp_path)], (), (), backend="poll")
    watcher.close()
    watcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        watcher.wait(0)


def test_auto_polls_without_watchfiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, "watchfiles", None)
    with FileWatcher([str(tmp_path)], (), (), backend="auto") as watcher:
        assert watcher.backend == "poll"


def test_forced_watchfiles_without_package_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)
    with pytest.raises(ImportError, match="pip install watchfiles"):
        FileWatcher([str(tmp_path)], (), (), backend="watchfiles")


@pytest.mark.skipif(not HAS_WATCHFILES, reason="the watchfiles package is not installed")
def test_auto_prefers_watchfiles(tmp_path: Path) -> None:
    with FileWatcher([str(tmp_path)], (), (), backend="auto") as watcher:
        assert watcher.backend == "watchfiles"


def fake_watchfiles(watch: Any) -> types.ModuleType:
    module = types.ModuleType("watchfiles")
    module.watch = watch  # type: ignore[attr-defined]
    return module


def failing_watch(*paths: str, **options: Any) -> Iterator[set[tuple[int, str]]]:
    raise OSError(28, "inotify watch limit reached")


def test_auto_falls_back_when_watchfiles_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", fake_watchfiles(failing_watch))
    with caplog.at_level(logging.WARNING, logger="pounce.server"):
        watcher = FileWatcher([str(tmp_path)], (), (), backend="auto")
    with watcher:
        assert watcher.backend == "poll"
    assert "inotify watch limit reached" in caplog.text
    assert "polling" in caplog.text


def test_forced_watchfiles_start_failure_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", fake_watchfiles(failing_watch))
    with pytest.raises(OSError, match="inotify watch limit reached"):
        FileWatcher([str(tmp_path)], (), (), backend="watchfiles")


def test_watchfiles_backend_filters_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for watchfiles.watch with its documented behaviour: it polls
    # stop_event on every step and yields sets of (change, path) pairs.
    root = tmp_path.resolve()
    seen_options: dict[str, Any] = {}
    stopped = threading.Event()

    def scripted_watch(*paths: str, **options: Any) -> Iterator[set[tuple[int, str]]]:
        seen_options.update(options, paths=paths)
        stop_event = options["stop_event"]
        stop_event.is_set()
        yield {
            (1, str(root / "app.py")),
            (2, str(root / "notes.txt")),
            (3, str(root / ".git" / "hook.py")),
        }
        while not stop_event.is_set():
            time.sleep(0.01)
        stopped.set()

    monkeypatch.setitem(sys.modules, "watchfiles", fake_watchfiles(scripted_watch))
    with FileWatcher([str(root)], (), (), backend="watchfiles") as watcher:
        assert watcher.backend == "watchfiles"
        assert watcher.wait(CHANGE_TIMEOUT) == [root / "app.py"]
        assert watcher.wait(0.2) is None
    assert stopped.wait(CHANGE_TIMEOUT)
    assert seen_options["paths"] == (str(root),)
    assert seen_options["watch_filter"] is None


def test_watchfiles_failure_while_watching_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_watch(*paths: str, **options: Any) -> Iterator[set[tuple[int, str]]]:
        options["stop_event"].is_set()
        time.sleep(0.05)
        raise RuntimeError("error in underlying watcher")
        yield set()  # makes this a generator, like watchfiles.watch

    monkeypatch.setitem(sys.modules, "watchfiles", fake_watchfiles(broken_watch))
    with (
        FileWatcher([str(tmp_path)], (), (), backend="watchfiles") as watcher,
        pytest.raises(RuntimeError, match="error in underlying watcher"),
    ):
        watcher.wait(CHANGE_TIMEOUT)
