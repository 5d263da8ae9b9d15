"""Notebooks: code cells are audited; findings point at the cell and the line within it."""

from __future__ import annotations

import json
from pathlib import Path

from stage1kit_audit import AuditConfig, audit_paths

EXAMPLE = Path(__file__).parent / "examples" / "notebooks" / "explore.ipynb"


def test_code_cells_are_audited_and_mapped_to_cells() -> None:
    report = audit_paths([EXAMPLE], config=AuditConfig(root=EXAMPLE.parent), use_cache=False, jobs=1)
    found = sorted((f.cell, f.line, f.rule) for f in report.findings)
    # cell 1 imports; cell 2 (after a markdown cell that mentions from_pretrained) loads; cell 3 templates
    assert found == [(2, 2, "SK100"), (3, 1, "SK200")]


def test_magics_and_markdown_are_ignored(tmp_path: Path) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["tokenizer.apply_chat_template(m)"]},
            {"cell_type": "code", "source": ["%pip install transformers\n", "!ls\n", "x = 1\n"]},
            {"cell_type": "code", "source": "%%bash\necho from_pretrained\n"},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "clean.ipynb"
    path.write_text(json.dumps(notebook))
    report = audit_paths([path], config=AuditConfig(root=tmp_path), use_cache=False, jobs=1)
    assert report.clean and report.files_checked == 1
