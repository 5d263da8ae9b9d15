"""Helpers for the audit's tests: audit a snippet under a known config, with no cache."""

from __future__ import annotations

from pathlib import Path

from stage1kit_audit import AuditConfig, AuditReport, audit_paths


def audit_source(tmp_path: Path, source: str, *, name: str = "snippet.py", **config: object) -> AuditReport:
    """Audit one snippet written to ``tmp_path/name`` under a config rooted at ``tmp_path``."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    settings = AuditConfig(root=tmp_path, **config)  # type: ignore[arg-type]
    return audit_paths([path], config=settings, use_cache=False, jobs=1)


def rules_found(report: AuditReport) -> list[str]:
    return [f.rule for f in report.findings]
