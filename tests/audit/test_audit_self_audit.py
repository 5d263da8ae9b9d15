"""The project's own code passes its own audit (CI runs this too)."""

from __future__ import annotations

from pathlib import Path

from stage1kit_audit import audit_paths, load_config

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_passes_its_own_audit() -> None:
    config = load_config(REPO)
    assert "tests/audit/examples/**" in config.exclude
    report = audit_paths([REPO], config=config, use_cache=False)
    listing = "\n".join(f"{f.path}:{f.line}:{f.column}: {f.rule} {f.message}" for f in report.findings)
    assert report.clean, listing
