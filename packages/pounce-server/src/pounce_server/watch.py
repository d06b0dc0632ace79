"""The file watcher behind ``--reload``: decide when the source has changed.

Theory of operation
-------------------
A :class:`FileWatcher` watches one or more directory trees and hands out
*batches*: the set of matching files that were created, modified or deleted
since the previous batch. The reloader's main thread calls :meth:`FileWatcher.wait`
in a loop with short timeouts, so it never needs an event loop and its signal
handlers run between calls.

Which files count is decided by one filter (:class:`PathFilter`). Include
globs match the file name. Exclude globs match the file name or any directory
name on the way from the watched directory down to the file, so ``.git`` or
``node_modules`` drops a whole tree. An exclude glob that contains a ``/``
matches the relative path instead (``build/*``). Excludes win over includes.

Two backends produce the raw changes:

* ``watchfiles`` (when that package is importable): the operating system's
  notifications, collected by watchfiles' Rust thread. A thread of ours
  iterates ``watchfiles.watch()`` and queues each group of accepted paths.
  The constructor returns once watchfiles has started its watch loop (or
  after 5 s), so a change made right after construction is not missed.
* ``poll``: a scan of the trees every ``poll_interval`` seconds that compares
  ``(st_mtime_ns, st_size)`` per matching file with the previous scan. It
  prunes excluded directories while walking and does not follow symbolic
  links to directories, so a link cycle cannot make it loop. A rewrite that
  keeps both the size and the timestamp (within the file system's timestamp
  resolution) goes unseen.

Editors save in several steps (write a temporary file, rename, touch), so
:meth:`FileWatcher.wait` debounces: after the first change it keeps
collecting until no new change has arrived for about ``SETTLE_SECONDS``.
It stops collecting ``MAX_BATCH_SECONDS`` after it received the first change,
so a constant stream of writes still produces batches. The watchfiles backend
may group changes for up to the same time before it hands them over.

One thread at a time may call :meth:`FileWatcher.wait`. Any thread may call
:meth:`FileWatcher.close`, and a ``wait()`` already running then returns by
its timeout at the latest.
"""

from __future__ import annotations

import fnmatch
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from .logs import server_logger

__all__ = [
    "BACKENDS",
    "DEFAULT_EXCLUDES",
    "DEFAULT_INCLUDES",
    "MAX_BATCH_SECONDS",
    "SETTLE_SECONDS",
    "FileWatcher",
    "PathFilter",
]

#: Backend names accepted by :class:`FileWatcher`.
BACKENDS = ("auto", "watchfiles", "poll")
#: File-name globs watched when no include glob is given.
DEFAULT_INCLUDES = ("*.py",)
#: Globs ignored when no exclude glob is given: hidden files and directories
#: (``.git``, ``.venv``, editor swap files), compiled Python, byte-code
#: caches and editor backup files.
DEFAULT_EXCLUDES = (".*", "*.py[cod]", "__pycache__", "*~")
#: Quiet time that ends a batch.
SETTLE_SECONDS = 0.1
#: Upper bound on how long one batch keeps collecting after its first change.
MAX_BATCH_SECONDS = 1.0

# watchfiles' own grouping: its Rust loop sleeps this long between checks of
# the collected changes and at our stop flag, so it also bounds how long
# close() waits for the watch thread.
_WATCHFILES_STEP_MS = 50
# watchfiles.Change.added, the code of a created file or directory.
_WATCHFILES_ADDED = 1
# How long the constructor waits for watchfiles' watch loop to start.
_WATCHFILES_START_SECONDS = 5.0

_PathLike = str | os.PathLike[str]
_Signature = tuple[int, int]


def _compile_globs(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """Join globs into one regular expression, or None when there are none."""
    sources = [fnmatch.translate(os.path.normcase(pattern)) for pattern in patterns]
    if not sources:
        return None
    return re.compile("|".join(sources))


class PathFilter:
    """The include and exclude rules, applied relative to each watched root."""

    def __init__(
        self, roots: Sequence[Path], includes: Sequence[str], excludes: Sequence[str]
    ) -> None:
        self.roots = tuple(roots)
        self._includes = _compile_globs(includes)
        # A glob with a separator describes a relative path, any other glob
        # one name. Matching a separator-free glob against a whole relative
        # path would let "a*z" exclude "ab/xyz", which no part matches.
        self._name_excludes = _compile_globs(p for p in excludes if "/" not in p)
        self._path_excludes = _compile_globs(p for p in excludes if "/" in p)

    def includes_name(self, name: str) -> bool:
        """Return whether a file name matches an include glob."""
        return self._includes is not None and bool(self._includes.match(os.path.normcase(name)))

    def excludes_entry(self, name: str, relative: str) -> bool:
        """Return whether a file or directory is excluded.

        ``relative`` is the entry's path below its watched root, with the
        platform's separator, and ``name`` its last part.
        """
        if self._name_excludes is not None and self._name_excludes.match(os.path.normcase(name)):
            return True
        return self._path_excludes is not None and bool(
            self._path_excludes.match(os.path.normcase(relative))
        )

    def accepts(self, path: Path) -> bool:
        """Return whether a changed file is one to report.

        With nested roots a file counts when any root that contains it
        accepts it, so an explicitly watched ``.config`` directory is not
        pruned by the ``.*`` exclude of an outer root.
        """
        if not self.includes_name(path.name):
            return False
        for root in self.roots:
            try:
                parts = path.relative_to(root).parts
            except ValueError:
                continue
            if not self._excludes_any_prefix(parts):
                return True
        return False

    def scan(self, directory: Path, found: dict[Path, _Signature]) -> None:
        """Record ``(st_mtime_ns, st_size)`` of every accepted file below ``directory``.

        ``directory`` is a watched root or lies inside one. Excluded
        directories are pruned, and symbolic links to directories are not
        followed, so a link cycle cannot make the walk loop.
        """
        start = self._relative_prefix(directory)
        if start is None:
            return
        pending: list[tuple[str, str]] = [(str(directory), start)]
        while pending:
            current, prefix = pending.pop()
            try:
                with os.scandir(current) as iterator:
                    entries = list(iterator)
            except OSError:
                # The directory was removed after its parent was listed, or it
                # is not readable. Either way its files count as gone.
                continue

            for entry in entries:
                relative = os.path.join(prefix, entry.name) if prefix else entry.name
                if self.excludes_entry(entry.name, relative):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((entry.path, relative))
                        continue
                    if not self.includes_name(entry.name):
                        continue
                    # stat() follows a link to a file, so editing the target counts.
                    status = entry.stat()
                except OSError:
                    continue  # removed while scanning, or a dangling link
                found[Path(entry.path)] = (status.st_mtime_ns, status.st_size)

    def _relative_prefix(self, directory: Path) -> str | None:
        # The path of directory below the first root that does not exclude
        # it, or None when every root that contains it excludes it.
        for root in self.roots:
            try:
                parts = directory.relative_to(root).parts
            except ValueError:
                continue
            if not self._excludes_any_prefix(parts):
                return os.path.join(*parts) if parts else ""
        return None

    def _excludes_any_prefix(self, parts: Sequence[str]) -> bool:
        # The poll backend prunes a directory as soon as it is excluded, so
        # every ancestor is checked here too to report the same files.
        relative = ""
        for part in parts:
            relative = os.path.join(relative, part) if relative else part
            if self.excludes_entry(part, relative):
                return True
        return False


class _Backend(Protocol):
    name: str

    def first(self, timeout: float) -> set[Path]:
        """Wait up to ``timeout`` seconds for changes, and return an empty set if none arrived."""

    def more(self, window: float) -> set[Path]:
        """Return the changes that arrive within ``window`` seconds."""

    def close(self) -> None:
        """Release the backend's resources."""


class _PollBackend:
    """Rescan the trees on a fixed interval and compare file signatures."""

    name = "poll"

    def __init__(self, path_filter: PathFilter, interval: float) -> None:
        self._filter = path_filter
        self._interval = interval
        # The baseline is taken now, so changes made before the first
        # wait() are reported by it.
        self._snapshot = self._scan()
        self._next_scan = time.monotonic() + interval

    def first(self, timeout: float) -> set[Path]:
        # Scans keep their own cadence across calls, so many short waits do
        # not scan more often than poll_interval.
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() >= self._next_scan:
                changed = self._rescan()
                if changed:
                    return changed
            now = time.monotonic()
            if now >= deadline:
                return set()
            time.sleep(min(self._next_scan, deadline) - now)

    def more(self, window: float) -> set[Path]:
        time.sleep(window)
        return self._rescan()

    def close(self) -> None:
        # Nothing to release. The snapshot stays, so a wait() still running
        # in another thread does not report every file as changed.
        pass

    def _rescan(self) -> set[Path]:
        current = self._scan()
        previous = self._snapshot
        self._snapshot = current
        self._next_scan = time.monotonic() + self._interval
        changed = {path for path, signature in current.items() if previous.get(path) != signature}
        changed.update(path for path in previous if path not in current)
        return changed

    def _scan(self) -> dict[Path, _Signature]:
        found: dict[Path, _Signature] = {}
        for root in self._filter.roots:
            self._filter.scan(root, found)
        return found


class _StopFlag:
    """The ``stop_event`` given to watchfiles, which also reports that it started.

    watchfiles documents that ``RustNotify.watch`` calls ``is_set()`` on
    every iteration (its type stubs, version 1.3), and ``watchfiles.watch()``
    creates the notifier before it first calls ``RustNotify.watch``.
    """

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.started = threading.Event()

    def is_set(self) -> bool:
        self.started.set()
        return self.stopped.is_set()


class _WatchfilesBackend:
    """Queue the accepted changes that watchfiles reports from a thread of ours."""

    name = "watchfiles"

    def __init__(self, path_filter: PathFilter, watch: Callable[..., Any]) -> None:
        self._filter = path_filter
        self._changes: queue.SimpleQueue[set[Path]] = queue.SimpleQueue()
        self._flag = _StopFlag()
        self._failure: Exception | None = None
        self._thread = threading.Thread(
            target=self._run, args=(watch,), name="pounce-file-watcher", daemon=True
        )
        self._thread.start()

        # NOTE: if watchfiles takes longer than this to start, the
        # constructor returns anyway and changes made meanwhile may be missed.
        self._flag.started.wait(_WATCHFILES_START_SECONDS)
        if self._failure is not None:
            self.close()
            raise self._failure

    def first(self, timeout: float) -> set[Path]:
        try:
            if timeout > 0:
                changed = self._changes.get(timeout=timeout)
            else:
                changed = self._changes.get_nowait()
        except queue.Empty:
            changed = set()
        self._raise_failure()
        return changed

    def more(self, window: float) -> set[Path]:
        return self.first(window)

    def close(self) -> None:
        self._flag.stopped.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    def _run(self, watch: Callable[..., Any]) -> None:
        try:
            # Filtering happens here rather than in watchfiles so that every
            # raw path goes through the same PathFilter as the poll backend.
            for raw_changes in watch(
                *(str(root) for root in self._filter.roots),
                watch_filter=None,
                debounce=int(MAX_BATCH_SECONDS * 1000),
                step=_WATCHFILES_STEP_MS,
                stop_event=self._flag,
                rust_timeout=0,
                raise_interrupt=False,
            ):
                accepted = self._accepted_paths(raw_changes)
                if accepted:
                    self._changes.put(accepted)
        except Exception as exc:
            # This thread is the boundary, so the error is stored here and
            # raised again in the thread that calls wait().
            self._failure = exc
        finally:
            self._flag.started.set()
            # An empty batch wakes a blocked wait(), which then raises the failure.
            self._changes.put(set())

    def _accepted_paths(self, raw_changes: set[tuple[int, str]]) -> set[Path]:
        accepted: set[Path] = set()
        for change, raw in raw_changes:
            path = Path(raw)
            if self._filter.accepts(path):
                accepted.add(path)
            elif change == _WATCHFILES_ADDED and path.is_dir():
                # A directory moved or copied into the tree can arrive as one
                # event for the directory alone, so its files are listed here.
                found: dict[Path, _Signature] = {}
                self._filter.scan(path, found)
                accepted.update(found)
        # NOTE: a directory moved out of the tree arrives as one deleted path,
        # which cannot be distinguished from a deleted file, so its files are not
        # reported. The poll backend does report them.
        return accepted

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise RuntimeError(f"the watchfiles file watcher failed: {self._failure}") from (
                self._failure
            )


class FileWatcher:
    """Watch directory trees and return debounced batches of changed files.

    Empty ``dirs``, ``includes`` or ``excludes`` mean the current directory,
    :data:`DEFAULT_INCLUDES` and :data:`DEFAULT_EXCLUDES`. Globs that are
    given replace the defaults rather than add to them.

    Raises ``ValueError`` for a directory that does not exist, an unknown
    backend or a non-positive ``poll_interval``, and ``ImportError`` for
    ``backend="watchfiles"`` without the watchfiles package. With
    ``backend="auto"``, watchfiles is used when it imports and starts, and
    polling otherwise.
    """

    def __init__(
        self,
        dirs: Sequence[_PathLike],
        includes: Sequence[str],
        excludes: Sequence[str],
        *,
        poll_interval: float = 0.25,
        backend: str = "auto",
    ) -> None:
        for argument, value in (("dirs", dirs), ("includes", includes), ("excludes", excludes)):
            if isinstance(value, str):
                raise TypeError(
                    f"{argument} must be a sequence of strings, not the string {value!r}"
                )
        if backend not in BACKENDS:
            raise ValueError(
                f"unknown file watcher backend {backend!r}; expected one of {BACKENDS}"
            )
        if not poll_interval > 0:
            raise ValueError(
                f"poll_interval must be a positive number of seconds, got {poll_interval!r}"
            )

        roots = _resolve_dirs(dirs or [os.getcwd()])
        self._filter = PathFilter(roots, includes or DEFAULT_INCLUDES, excludes or DEFAULT_EXCLUDES)
        self._backend = _start_backend(backend, self._filter, poll_interval)
        self._closed = False

    @property
    def backend(self) -> str:
        """The name of the backend in use: ``"watchfiles"`` or ``"poll"``."""
        return self._backend.name

    @property
    def dirs(self) -> tuple[Path, ...]:
        """The watched directories, absolute and with symbolic links resolved."""
        return self._filter.roots

    def wait(self, timeout: float) -> list[Path] | None:
        """Block until a batch of changes has settled, or ``timeout`` seconds pass.

        Returns the changed paths, sorted, or None when nothing changed. Once
        a first change is seen the call may outlast ``timeout`` by up to
        ``MAX_BATCH_SECONDS`` to finish the batch.
        """
        if self._closed:
            raise RuntimeError("wait() called on a closed FileWatcher")
        batch = self._backend.first(max(timeout, 0.0))
        if not batch:
            return None

        end = time.monotonic() + MAX_BATCH_SECONDS
        while (remaining := end - time.monotonic()) > 0:
            more = self._backend.more(min(SETTLE_SECONDS, remaining))
            if not more:
                break
            batch |= more
        return sorted(batch)

    def close(self) -> None:
        """Stop watching. Calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._backend.close()

    def __enter__(self) -> FileWatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _resolve_dirs(dirs: Iterable[_PathLike]) -> list[Path]:
    roots: list[Path] = []
    for directory in dirs:
        path = Path(directory)
        if not path.exists():
            raise ValueError(f"directory to watch not found: {os.fspath(directory)!r}")
        if not path.is_dir():
            raise ValueError(f"path to watch is not a directory: {os.fspath(directory)!r}")
        # Resolved roots give both backends one spelling of each path,
        # whatever symbolic links the given directory passes through.
        resolved = path.resolve()
        if resolved not in roots:
            roots.append(resolved)
    return roots


def _start_backend(choice: str, path_filter: PathFilter, poll_interval: float) -> _Backend:
    if choice == "poll":
        return _PollBackend(path_filter, poll_interval)

    try:
        import watchfiles  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        if choice == "watchfiles":
            raise ImportError(
                "the 'watchfiles' file watcher backend needs the watchfiles package: "
                "pip install watchfiles, or use the 'poll' backend"
            ) from exc
        return _PollBackend(path_filter, poll_interval)

    if choice == "watchfiles":
        return _WatchfilesBackend(path_filter, watchfiles.watch)
    try:
        return _WatchfilesBackend(path_filter, watchfiles.watch)
    except (OSError, RuntimeError) as exc:
        # One cause is a large tree that exceeds the limit on inotify
        # watches. Polling needs no such resource.
        server_logger.warning(
            "The watchfiles file watcher failed to start (%s); polling every %.2f s instead",
            exc,
            poll_interval,
        )
        return _PollBackend(path_filter, poll_interval)
