"""A file that does not parse is a finding (SK999), never a crash."""

from __future__ import annotations

from pathlib import Path

from stage1kit_audit import AuditConfig, audit_paths


def test_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("x = 1\ndef f(:\n    pass\n")
    (tmp_path / "bad.py").write_text("from transformers import pipeline\npipeline('x')\n")
    report = audit_paths([tmp_path], config=AuditConfig(root=tmp_path), use_cache=False, jobs=1)
    by_rule = {f.rule: f for f in report.findings}
    assert set(by_rule) == {"SK999", "SK100"}
    assert by_rule["SK999"].path.endswith("broken.py") and by_rule["SK999"].line == 2
    assert "does not parse" in by_rule["SK999"].message


def test_undecodable_and_null_byte_files_do_not_crash(tmp_path: Path) -> None:
    (tmp_path / "latin.py").write_bytes(b"x = '\xff\xfe'\nfrom_pretrained\n")
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\nchat_template = 2\n")
    report = audit_paths([tmp_path], config=AuditConfig(root=tmp_path), use_cache=False, jobs=1)
    assert {f.rule for f in report.findings} == {"SK999"}
    assert report.files_checked == 2


def test_broken_notebook_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text("{not json")
    report = audit_paths([tmp_path], config=AuditConfig(root=tmp_path), use_cache=False, jobs=1)
    assert [f.rule for f in report.findings] == ["SK999"]
