"""One writer per run directory: a second run on the same directory refuses at once.

Two runs writing into one run directory interleave their records (duplicate ids, a dataset trained
on half of each) and each then writes a manifest that blesses the mix. :class:`RunDirLock` takes an
exclusive ``flock`` on ``RUN_DIR/.stage1kit.lock`` for as long as a run works there; the file also
records who holds it (pid, host, command line, start time) so the refusal can say whom to wait for.

The kernel releases a ``flock`` when its holder exits, however it exits (``SIGKILL`` included), so a
lock file left behind by a dead run never blocks: no pid checks, no stale-lock cleanup. A holder
removes the file (and the run directory, if taking the lock created it and nothing else was written
there) before it lets go; a process that meanwhile locked the removed file sees that it is no longer
the file at that path and locks the current one instead. A process that already holds the lock may
take it again (nested commands); it is released when the outermost holder leaves.

Under ``accelerate launch`` (or any launcher that starts one copy of the command per device) a
command whose work is split across the processes (``RunDirLock(root, across_processes=True)``: the
train stages) has only the main process (global rank 0) take the lock, for the whole launch; the
other copies work under it and take nothing, or the second copy would find the directory busy with
the first. A launch refused by another run's lock stops as a whole: the launcher ends the other
copies when the main one exits with the refusal. Any other command would write the same outputs
from every copy, so its non-main copies refuse at once, saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from stage1kit.distributed import is_main_process, launch_world_size
from stage1kit.errors import Stage1kitError

LOCK_NAME = ".stage1kit.lock"

#: How often to retry after locking a file that its previous holder removed (a race of microseconds).
MAX_ATTEMPTS = 100

#: Locks this process holds: resolved lock path -> (file descriptor, whether taking it created the run dir).
_HELD: dict[Path, tuple[int, bool]] = {}
_DEPTH: dict[Path, int] = {}
_HELD_GUARD = threading.Lock()


class RunDirBusy(Stage1kitError):
    """Another process is working in this run directory; the message names it and what to do."""


class RunDirLock:
    """``with RunDirLock(run_dir): ...`` — hold the run directory, or raise :class:`RunDirBusy` at once.

    ``across_processes``: the command splits its work over the processes of a launch, so a non-main
    process works under the main one's lock instead of taking it.
    """

    def __init__(self, root: str | Path, *, across_processes: bool = False) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self.follows_main = across_processes and not is_main_process()

    def __enter__(self) -> "RunDirLock":
        if self.follows_main:
            return self  # a non-main copy of a launch works under the lock its main process holds
        if not is_main_process():
            raise RunDirBusy(_one_process_message(self.root))
        key = self.path.resolve()
        with _HELD_GUARD:
            if key in _HELD:
                _DEPTH[key] += 1
                return self
            created = not self.root.exists()
            fd = self._lock()
            _write_holder(fd)
            _HELD[key], _DEPTH[key] = (fd, created), 1
        return self

    def _lock(self) -> int:
        for _ in range(MAX_ATTEMPTS):
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except FileNotFoundError:
                continue  # the previous holder removed the (empty) run directory just now
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunDirBusy(_busy_message(self.root, holder)) from None
            if _is_current(fd, self.path):
                return fd
            os.close(fd)  # locked a file its holder removed on release; lock the one at the path now
        raise RunDirBusy(f"could not lock {self.path}: other processes keep taking and releasing it; try again")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.follows_main:
            return
        key = self.path.resolve()
        with _HELD_GUARD:
            if key not in _HELD:
                return
            _DEPTH[key] -= 1
            if _DEPTH[key] > 0:
                return
            fd, created = _HELD.pop(key)
            del _DEPTH[key]
            try:
                self.path.unlink(missing_ok=True)  # while still locked: see the module docstring
                if created:
                    with contextlib.suppress(OSError):  # not empty: the run wrote something, keep it
                        self.root.rmdir()
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


class ShardLock:
    """``with ShardLock(run_dir, "responses.shard-03-of-08"): ...`` — one shard run (``--shard I/N``).

    The shards of a SLURM array work side by side in one run directory, so a shard takes the
    run-directory lock *shared* (other shards may hold it too; a whole run, which takes it
    exclusively, is refused while any shard works, and a shard is refused while a run works), and
    its own shard's lock exclusively (the same shard twice at once is refused). Shared holders never
    remove the lock file: others may still hold it. Raises :class:`RunDirBusy` at once.
    """

    def __init__(self, root: str | Path, shard: str) -> None:
        self.root = Path(root)
        self.shard_path = self.root / f".stage1kit.{shard}.lock"
        self._fds: list[int] = []

    def __enter__(self) -> "ShardLock":
        self._fds.append(_lock_file(self.root, self.root / LOCK_NAME, fcntl.LOCK_SH))
        try:
            fd = _lock_file(self.root, self.shard_path, fcntl.LOCK_EX)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        _write_holder(fd)
        self._fds.append(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if len(self._fds) == 2:
            self.shard_path.unlink(missing_ok=True)  # while still locked, as RunDirLock does
        for fd in reversed(self._fds):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._fds.clear()


def _lock_file(root: Path, path: Path, mode: int) -> int:
    """Lock ``path`` (``LOCK_SH`` or ``LOCK_EX``) without waiting; :class:`RunDirBusy` names the holder."""
    for _ in range(MAX_ATTEMPTS):
        root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunDirBusy(_busy_message(root, holder)) from None
        if _is_current(fd, path):
            return fd
        os.close(fd)
    raise RunDirBusy(f"could not lock {path}: other processes keep taking and releasing it; try again")


def _is_current(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not one a previous holder has removed)."""
    try:
        at_path = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


def holder_info() -> dict[str, Any]:
    """What the lock file says about this process: pid, host, command line and start time."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": shlex.join(sys.orig_argv),  # the interpreter too: `python -m ...` reads as typed
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _write_holder(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder_info()) + "\n").encode("utf-8"), 0)


def _read_holder(fd: int) -> dict[str, Any]:
    """The holder's record; ``{}`` when it has not written it yet (or wrote something unreadable)."""
    try:
        size = os.fstat(fd).st_size
        holder = json.loads(os.pread(fd, max(size, 1), 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _one_process_message(root: Path) -> str:
    return (
        f"this command runs in one process, but it was launched in {launch_world_size()} (this is a non-main "
        f"copy): every copy would write the same outputs in {root}. Run it without `accelerate launch`; only "
        "`stage1kit train sft|dpo` split their work across the processes of a launch."
    )


def _busy_message(root: Path, holder: dict[str, Any]) -> str:
    if holder.get("pid") is not None:
        who = (
            f"pid {holder['pid']} on {holder.get('host', '?')}, started {holder.get('started_at', '?')}, "
            f"running `{holder.get('command', '?')}`"
        )
        stop = f" (or stop it: kill {holder['pid']})"
    else:
        who = "a process that has not yet recorded itself, or shard runs (`--shard I/N`) working side by side"
        stop = ""
    return (
        f"run directory {root} is in use by another stage1kit run: {who}. Two runs in one directory would "
        f"mix their records. Wait for that run to finish{stop} and rerun this command (finished stages are "
        "skipped), or give this run its own run directory ([run] dir in the config)."
    )
