"""Make or update the pre-commit hook repository of the audit from this folder.

Why a repository of its own: pre-commit installs a ``language: python`` hook with ``pip install .``
at the root of the hook repository, always (it has no option for a subfolder, by design). The root
of the stage1kit repository is the full toolkit (torch, transformers, trl...: about 6 GB), so the
hook is published from this folder, whose ``pyproject.toml`` is the small ``stage1kit-audit``
distribution (click only). The same pattern as ruff-pre-commit or mirrors-mypy, except that
the content is this folder as it is, not a copy to keep in step.

    python audit/make_hook_repo.py DEST     # DEST: a clone of the hook repository, or a new folder

It copies this folder's files (those git tracks or would track) into DEST, replacing what was
there, commits and tags ``v<version>``; then ``git -C DEST push --follow-tags`` publishes it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
# Never part of the hook repository even outside git: build output and caches.
_NEVER = re.compile(r"(^|/)(__pycache__|build|dist|[^/]*\.egg-info)(/|$)|\.py[co]$")


class HookRepoError(RuntimeError):
    """The hook repository cannot be made; the message says why and what to do."""


def version(source: Path = SOURCE) -> str:
    """The audit's version, read from the package without importing it."""
    text = (source / "stage1kit_audit" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if match is None:
        raise HookRepoError(f"{source}/stage1kit_audit/__init__.py: no __version__ = \"...\" line")
    return match.group(1)


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HookRepoError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout


def source_files(source: Path = SOURCE) -> list[str]:
    """Paths (relative, ``/``-separated) of the files the hook repository holds.

    Inside a git checkout: what git tracks or would track here (so a working tree's uncommitted
    edits are included and ignored files are not); elsewhere every file but build output.
    """
    try:
        listed = _git(source, "ls-files", "--cached", "--others", "--exclude-standard", "-z", ".").split("\0")
    except (HookRepoError, OSError):
        listed = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
    return sorted(p for p in listed if p and not _NEVER.search(p) and (source / p).is_file())


def make_hook_repo(dest: Path, source: Path = SOURCE) -> str:
    """Write this folder's files into the git repository ``dest`` (made if missing), commit, tag.

    Returns the tag (``v<version>``). A tag that already exists on different content is an error:
    bump ``__version__`` first.
    """
    tag = f"v{version(source)}"
    dest.mkdir(parents=True, exist_ok=True)
    if not (dest / ".git").exists():
        _git(dest, "init", "-q")
    for old in _git(dest, "ls-files", "-z").split("\0"):
        if old:
            (dest / old).unlink(missing_ok=True)
    for name in source_files(source):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)
    _git(dest, "add", "-A")
    if _git(dest, "status", "--porcelain"):
        _git(dest, "commit", "-q", "-m", f"stage1kit-audit {tag[1:]} from stage1kit's audit/ folder")
    existing = _git(dest, "tag", "--list", tag).strip()
    if existing:
        if _git(dest, "rev-parse", f"{tag}^{{tree}}") != _git(dest, "rev-parse", "HEAD^{tree}"):
            raise HookRepoError(f"{dest}: tag {tag} already names other content; bump __version__ in "
                                f"{source}/stage1kit_audit/__init__.py")
    else:
        _git(dest, "tag", tag)
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="a clone of the hook repository, or a new folder")
    args = parser.parse_args(argv)
    try:
        tag = make_hook_repo(args.dest)
    except HookRepoError as exc:
        print(f"make_hook_repo: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.dest}: committed and tagged {tag}; publish with: git -C {args.dest} push --follow-tags")
    return 0


if __name__ == "__main__":
    sys.exit(main())
