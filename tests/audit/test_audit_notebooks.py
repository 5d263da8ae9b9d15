"""Notebooks: code cells are audited; findings point at the line of the .ipynb file, and name the cell."""

from __future__ import annotations

import json
from pathlib import Path

from stage1kit_audit import AuditConfig, audit_paths

EXAMPLE = Path(__file__).parent / "examples" / "notebooks" / "explore.ipynb"


def test_code_cells_are_audited_and_mapped_to_cells() -> None:
    report = audit_paths([EXAMPLE], config=AuditConfig(root=EXAMPLE.parent), use_cache=False, jobs=1)
    found = sorted((f.cell, f.cell_line, f.rule) for f in report.findings)
    # cell 1 imports; cell 2 (after a markdown cell that mentions from_pretrained) loads; cell 3 templates
    assert found == [(2, 2, "SK100"), (3, 1, "SK200")]


def test_positions_are_lines_and_columns_of_the_ipynb_file() -> None:
    """SARIF viewers and GitHub annotations mark ``line:column`` of the .ipynb file itself."""
    report = audit_paths([EXAMPLE], config=AuditConfig(root=EXAMPLE.parent), use_cache=False, jobs=1)
    lines = EXAMPLE.read_text().splitlines()
    marked = {f.rule: lines[f.line - 1][f.column - 1 :] for f in report.findings}
    assert marked["SK100"].startswith("AutoModelForCausalLM.from_pretrained(name)")
    assert marked["SK200"].startswith("tokenizer.apply_chat_template(messages)")


def test_escaped_characters_before_a_finding_shift_its_column(tmp_path: Path) -> None:
    cell = 'label = "a \\"quoted\\" name"; model = AutoModel.from_pretrained(label)\n'
    notebook = {"cells": [{"cell_type": "code", "source": ["from transformers import AutoModel\n", cell]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "escaped.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    [finding] = audit_paths([path], config=AuditConfig(root=tmp_path), use_cache=False, jobs=1).findings
    line = path.read_text().splitlines()[finding.line - 1]
    assert line[finding.column - 1 :].startswith("AutoModel.from_pretrained(label)")
    assert (finding.cell, finding.cell_line) == (1, 2)


def test_a_shell_command_continued_over_lines_does_not_hide_a_later_cell(tmp_path: Path) -> None:
    """``!lm_eval \\`` with continuation lines used to be a parse error (SK999) for the whole notebook."""
    notebook = {
        "cells": [
            {"cell_type": "code", "source": ["!lm_eval --model hf \\\n", "    --model_args pretrained=gpt2 \\\n",
                                             "    --tasks hellaswag\n"]},
            {"cell_type": "code", "source": ["files = !ls\n", "x, y = %who_ls\n"]},
            {"cell_type": "code", "source": ["from transformers import AutoModel\n",
                                             "model = AutoModel.from_pretrained('gpt2')\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "shell.ipynb"
    path.write_text(json.dumps(notebook, indent=1))
    report = audit_paths([path], config=AuditConfig(root=tmp_path), use_cache=False, jobs=1)
    assert [(f.rule, f.cell, f.cell_line) for f in report.findings] == [("SK100", 3, 2)]


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
