"""A lock on the results folder, held for the length of a run.

Snakemake's own lock lives in the working directory's ``.snakemake/``, so two working directories
whose configs name the same ``results_dir`` would both run every job and overwrite each other's
files. This lock lives in the results folder itself: ``<results_dir>/.taskvectors.lock``, a JSON
file naming the run that holds it (host, pid, start time, working directory, command line).

The Snakefile takes it in ``onstart:`` (which Snakemake skips for dry runs and for the per-job
processes of cluster executors) and gives it back in ``onsuccess:``/``onerror:``.

How a held lock is told from a stale one: the holder keeps an exclusive ``flock`` on the file for
as long as its process lives, and the kernel drops it when the process dies, even on SIGKILL. So
on one host a lock whose ``flock`` can be taken is stale, and is taken over with a warning on
stderr. A lock written on another host is refused: its process cannot be checked from here (and
``flock`` over network filesystems is not dependable), so the message names that run and says how
to remove the lock once it is over.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LOCK_NAME = ".taskvectors.lock"
# Open lock files of this process, by resolved results folder: the file descriptor holds the flock.
_HELD: dict[Path, int] = {}


class RunLockError(RuntimeError):
    """Another run holds the results folder; the message names it."""


def lock_path(results_dir: str | Path) -> Path:
    return Path(results_dir) / LOCK_NAME


def describe(owner: dict[str, Any]) -> str:
    """One line naming the run in a lock file's record."""
    command = " ".join(owner.get("command") or []) or "?"
    return (
        f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')}, started "
        f"{owner.get('started', '?')}, in {owner.get('cwd', '?')} ({command})"
    )


def this_run(command: Sequence[str] | None = None) -> dict[str, Any]:
    """The record this process writes into the lock file."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cwd": os.getcwd(),
        "command": list(sys.argv if command is None else command),
    }


def read_owner(path: Path) -> dict[str, Any]:
    """The record in a lock file (``{}`` when it is empty, unreadable or not JSON)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def pid_alive(pid: Any) -> bool:
    """Whether a process with this pid exists on this host."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _open_locked(path: Path) -> int | None:
    """A descriptor of ``path`` with its exclusive flock taken, or ``None`` if another holds it.

    Retries when the file was replaced or removed between opening and locking, so the flock is
    always on the file that the path names.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same_file = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:
            return fd
        os.close(fd)


def _held_elsewhere_error(results_dir: Path, path: Path, owner: dict[str, Any]) -> RunLockError:
    who = describe(owner) if owner else "a run whose details are not written yet"
    return RunLockError(
        f"results folder {results_dir} is in use by another taskvectors run: {who}. "
        f"Wait for it to end, or give this run another results_dir; if that run is not running "
        f"any more, delete {path}"
    )


def acquire(results_dir: str | Path, command: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Take the results folder's lock for this process, or :class:`RunLockError`.

    Creates the folder if needed. Taking a lock this process already holds does nothing. A stale
    lock (its run is gone, same host) is taken over with a warning on stderr (Snakemake silences
    Python warnings); its record is returned, ``None`` otherwise.
    """
    folder = Path(results_dir)
    key = folder.resolve()
    if key in _HELD:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = lock_path(key)
    fd = _open_locked(path)
    if fd is None:
        raise _held_elsewhere_error(key, path, read_owner(path))
    previous = read_owner(path)
    if previous:
        if previous.get("host") != socket.gethostname():
            os.close(fd)
            raise _held_elsewhere_error(key, path, previous)
        alive = pid_alive(previous.get("pid"))
        state = "still exists but is not holding the lock" if alive else "is gone"
        print(
            f"taskvectors: warning: taking over the stale lock {path}: its run "
            f"({describe(previous)}) {state}",
            file=sys.stderr,
        )
    record = json.dumps(this_run(command), indent=1).encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, record, 0)
    os.fsync(fd)
    _HELD[key] = fd
    return previous or None


def release(results_dir: str | Path) -> None:
    """Give the lock back: remove the file and drop the flock. Nothing if this process lacks it."""
    key = Path(results_dir).resolve()
    fd = _HELD.pop(key, None)
    if fd is None:
        return
    with contextlib.suppress(FileNotFoundError):
        lock_path(key).unlink()
    os.close(fd)


def holds(results_dir: str | Path) -> bool:
    """Whether this process holds the results folder's lock."""
    return Path(results_dir).resolve() in _HELD
