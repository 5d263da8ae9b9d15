"""The content-hash cache: an unchanged file is not re-analysed; any change that matters is."""

from __future__ import annotations

from pathlib import Path

import pytest
from stage1kit_audit import AuditConfig, audit_paths
from stage1kit_audit.cache import cache_dir

SOURCE = "from transformers import pipeline\npipeline('x')\n"


def _audit(root: Path, **kwargs: object):
    return audit_paths([root / "pkg"], config=AuditConfig(root=root, **kwargs), jobs=1)  # type: ignore[arg-type]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(SOURCE)
    (tmp_path / "pkg" / "b.py").write_text("x = 1\n")
    return tmp_path


def test_second_run_comes_from_the_cache_with_the_same_findings(tree: Path) -> None:
    first = _audit(tree)
    second = _audit(tree)
    assert first.files_cached == 0 and second.files_cached == 2
    assert second.files_parsed == 0
    assert second.findings == first.findings


def test_changed_content_is_analysed_again(tree: Path) -> None:
    _audit(tree)
    (tree / "pkg" / "b.py").write_text("import transformers\ntransformers.pipeline('y')\n")
    report = _audit(tree)
    assert report.files_cached == 1
    assert len(report.findings) == 2


def test_changed_config_is_analysed_again(tree: Path) -> None:
    _audit(tree)
    report = _audit(tree, retired=("pkg/a.py",))
    assert report.files_cached == 0


def test_loader_status_is_part_of_the_key(tree: Path) -> None:
    assert not _audit(tree).clean
    assert _audit(tree, loader_modules=("pkg/a.py",)).clean


def test_no_cache_neither_reads_nor_writes(tree: Path) -> None:
    audit_paths([tree / "pkg"], config=AuditConfig(root=tree), use_cache=False)
    assert not (cache_dir() / "audit.sqlite3").exists()
    assert _audit(tree).files_cached == 0


def test_cache_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STAGE1KIT_CACHE_DIR", str(tmp_path / "explicit"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("STAGE1KIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "stage1kit"


def test_unwritable_cache_is_ignored(monkeypatch: pytest.MonkeyPatch, tree: Path) -> None:
    blocker = tree / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("STAGE1KIT_CACHE_DIR", str(blocker / "cache"))
    assert len(_audit(tree).findings) == 1
