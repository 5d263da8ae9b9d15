"""A content-hash cache of per-file results, so an unchanged tree re-audits in well under a second.

Keys hash the file's bytes, the settings that change findings and the tool version; the value is
the file's findings. One SQLite file per user cache folder: safe with concurrent pre-commit
processes, and any failure (read-only disk, corrupt file) quietly disables the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import __version__

_CHUNK = 500


def cache_dir() -> Path:
    """``$STAGE1KIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/stage1kit``, else ``~/.cache/stage1kit``."""
    explicit = os.environ.get("STAGE1KIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stage1kit"


def cache_key(data: bytes, salt: str) -> str:
    """The key for one file's bytes under one set of settings (``salt``)."""
    return hashlib.blake2b(data, digest_size=20, key=salt.encode()[:64]).hexdigest()


@functools.lru_cache(maxsize=1)
def tool_fingerprint() -> str:
    """The version plus a hash of the audit's own source, so a changed rule never reads stale results."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return f"{__version__}-{digest.hexdigest()}"


def settings_salt(config_fingerprint: str, loader: bool, notebook: bool) -> str:
    return f"{tool_fingerprint()}|{config_fingerprint}|{int(loader)}|{int(notebook)}"


class ResultCache:
    """Maps keys to JSON-encoded results; every method is a no-op once the database fails."""

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or cache_dir()) / "audit.sqlite3"
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except (sqlite3.Error, OSError):
            self._db = None

    def get_many(self, keys: Iterable[str]) -> dict[str, list]:
        keys = list(keys)
        found: dict[str, list] = {}
        if self._db is None:
            return found
        try:
            for chunk in _chunks(keys):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk)
                found.update((k, json.loads(v)) for k, v in rows)
        except (sqlite3.Error, ValueError):
            return {}
        return found

    def put_many(self, items: dict[str, list]) -> None:
        if self._db is None or not items:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in items.items()],
                )
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _chunks(keys: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]
