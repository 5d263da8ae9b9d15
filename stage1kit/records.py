"""JSONL records: appended and flushed one at a time, read back tolerant of a torn last line.

A stage that crashes (or is killed) leaves a JSONL file whose complete lines are all good records
and whose last line may be half-written. :func:`read_records` drops such a torn tail (and
:class:`RecordWriter` truncates it before appending), so a resumed stage continues without
duplicates or garbage. Bad records anywhere else are errors naming the file and line.

A stage reads its *inputs* with :func:`read_input_records` instead: a finished upstream file always
ends in a newline, so a torn last line there means the file was cut off or edited, and silently
dropping that record would let a stage bless data it never saw. It is an error naming file and line.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


from stage1kit.errors import Stage1kitError


class RecordError(Stage1kitError, ValueError):
    """A JSONL file holds something that is not a record; the message names file and line."""


def _complete_prefix_length(path: Path) -> int:
    """Bytes up to and including the last newline: everything after it is a torn write."""
    data = path.read_bytes()
    return data.rfind(b"\n") + 1


def iter_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file; a torn final line (no newline) is skipped.

    For a stage reading back its own, possibly interrupted, output. Inputs: :func:`iter_input_records`.
    """
    return _iter_jsonl(Path(path), torn_tail_is_error=False)


def iter_input_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a finished JSONL file; a torn final line is a :class:`RecordError`."""
    return _iter_jsonl(Path(path), torn_tail_is_error=True)


def _iter_jsonl(path: Path, *, torn_tail_is_error: bool) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n") and raw.strip():
                if torn_tail_is_error:
                    raise RecordError(_torn_message(path, number))
                return  # torn tail of an interrupted write
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise RecordError(f"{path}:{number}: not valid JSON ({exc.msg}); fix or delete that line") from exc
            if not isinstance(record, dict):
                raise RecordError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield record


def _torn_message(path: Path, number: int) -> str:
    return (
        f"{path}:{number}: the last line is incomplete (the file does not end in a newline): it was cut off "
        "while being written or edited by hand, so this is not a finished stage output; rerun the stage that "
        "writes it (its unfinished run resumes), or delete that line if you edited the file"
    )


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file, dropping a torn final line (a stage resuming its own output)."""
    return list(iter_records(path))


def read_input_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a finished upstream JSONL file; a torn final line is an error naming file:line."""
    return list(iter_input_records(path))


class RecordWriter:
    """Append records to a JSONL file, flushing (and fsync-ing) each so a crash loses at most one.

    Opening an existing file first cuts off a torn final line left by an interrupted run.
    """

    def __init__(self, path: str | Path, *, fsync: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            keep = _complete_prefix_length(self.path)
            if keep != self.path.stat().st_size:
                with self.path.open("r+b") as handle:
                    handle.truncate(keep)
        self._handle = self.path.open("a", encoding="utf-8")
        self._fsync = fsync
        self.written = 0

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())
        self.written += 1

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a whole file so readers see the old or the new content, never half of it.

    The file gets the permissions a plain ``open(path, "w")`` would give it (an existing file keeps
    its mode; a new one gets 0666 less the umask), not the private 0600 of :func:`tempfile.mkstemp`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_temp_beside(path: Path) -> tuple[int, Path]:
    """A new, exclusively created temp file in ``path``'s folder, with the mode ``open()`` would give ``path``."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            # 0o666 is filtered by the umask, exactly as open() filters it.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        if mode is not None:
            os.fchmod(fd, mode)
        return fd, tmp


def write_records_atomic(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write a whole JSONL file atomically (for stages that produce their output in one go)."""
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    atomic_write_text(path, "".join(lines))
    return len(lines)
