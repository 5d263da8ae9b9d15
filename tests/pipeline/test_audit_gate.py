"""A violation in the user's code stops the run at the audit, before any model is loaded."""

from click.testing import CliRunner

from stage1kit.cli import cli

VIOLATION = '''
from transformers import AutoTokenizer

def load():
    tokenizer = AutoTokenizer.from_pretrained(CHAT_MODEL_DIR)
    return tokenizer.apply_chat_template([{"role": "user", "content": "hi"}])
'''


def test_planted_violation_stops_the_run_before_any_model_loads(config_path, monkeypatch, edit):
    user_code = config_path.parent / "my_code"
    user_code.mkdir()
    (user_code / "prep.py").write_text(VIOLATION)
    edit(config_path, "user_code = []", 'user_code = ["my_code"]')
    loads = []
    monkeypatch.setattr("stage1kit.loader.CleanModelLoader.load", lambda self: loads.append(self))
    result = CliRunner().invoke(cli, ["run", str(config_path), "--quiet"])
    assert result.exit_code == 1
    assert "audit gate before stage 'instructions'" in result.output
    assert "prep.py:5" in result.output and "SK100" in result.output and "SK200" in result.output
    assert loads == []
    assert not (config_path.parent / "run" / "instructions.jsonl").exists()


def test_doctor_runs_the_audit_the_pipeline_will_run(config_path, edit):
    clean = CliRunner().invoke(cli, ["doctor", str(config_path)])
    assert clean.exit_code == 0, clean.output
    assert "audit: clean" in clean.output and "plugin package(s)" in clean.output

    user_code = config_path.parent / "my_code"
    user_code.mkdir()
    (user_code / "prep.py").write_text(VIOLATION)
    edit(config_path, "user_code = []", 'user_code = ["my_code"]')
    planted = CliRunner().invoke(cli, ["doctor", str(config_path)])
    assert planted.exit_code == 1
    assert "audit of the code the pipeline will run" in planted.output
    assert "prep.py:5" in planted.output and "SK100" in planted.output and "SK200" in planted.output
