"""An example project audited end to end, as a user meets it: `stage1kit audit` in its root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from stage1kit_audit.cli import audit_command

PROJECT = Path(__file__).parent / "examples" / "project"

EXPECTED = """\
src/demo/stage.py:13:13: SK100 `transformers.AutoModelForCausalLM.from_pretrained` loads outside the loader modules
src/demo/stage.py:13:62: SK400 `trust_remote_code=True`: remote code can install its own template and tokenizer
src/demo/stage.py:14:17: SK200 a chat message (role/content) makes libraries apply a template
src/demo/stage.py:15:31: SK500 `scripts/generate_stage1_data.py` is retired (see [tool.stage1kit.audit] retired)
src/demo/stage.py:16:13: SK200 `trl.maybe_apply_chat_template` applies a chat template
src/demo/tools.py:3:37: SK900 suppression of SK100 suppresses nothing; remove it
src/demo/tools.py:11:5: SK900 suppression of SK100 gives no reason
src/demo/tools.py:12:12: SK100 `transformers.AutoModel.from_config` loads outside the loader modules"""


def test_the_example_project_reports_each_problem_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT)
    result = CliRunner().invoke(audit_command, ["--no-cache"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # each finding line starts with the expected text (the rest says what to do instead)
    assert len(lines) == len(EXPECTED.splitlines()) + 1
    for line, expected in zip(lines, EXPECTED.splitlines(), strict=False):
        assert line.startswith(expected), line
    assert lines[-1].startswith("stage1kit audit: 8 finding(s) in 5 file(s)")
    assert os.path.samefile(Path.cwd(), PROJECT)
