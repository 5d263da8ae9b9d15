"""``stage1kit instructions``, ``responses`` and ``judge`` from the command line, on a tiny model."""

from __future__ import annotations

from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.records import read_records

from gen_helpers import FAST_INSTRUCTIONS, FAST_RESPONSES


def _sets(options):
    return [arg for key, value in options.items() for arg in ("--set", f"{key}={value}")]


def test_the_three_commands_build_a_run(tmp_path, talking_model_dir):
    runner = CliRunner()
    common = ["--run-dir", str(tmp_path / "run"), "--model", str(talking_model_dir), "--quiet", "--device", "cpu"]
    result = runner.invoke(cli, ["instructions", *common, "--target", "2", *_sets(FAST_INSTRUCTIONS)])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output and "pass" in result.output
    result = runner.invoke(cli, ["responses", *common, "-k", "2", *_sets(FAST_RESPONSES)])
    assert result.exit_code == 0, result.output
    assert "candidates" in result.output
    result = runner.invoke(cli, ["judge", *common, "--critic-set", "batch_size=4"])
    assert result.exit_code == 0, result.output
    assert "order_agreement_rate" in result.output
    assert len(read_records(tmp_path / "run" / "judgements.jsonl")) == 2


def test_responses_without_instructions_says_what_to_run(tmp_path, talking_model_dir):
    result = CliRunner().invoke(cli, ["responses", "--run-dir", str(tmp_path), "--model", str(talking_model_dir)])
    assert result.exit_code == 1 and "run `stage1kit instructions` first" in result.output


def test_user_code_that_loads_a_model_stops_the_stage_before_loading(tmp_path):
    script = tmp_path / "mine.py"
    script.write_text("from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained('gpt2')\n")
    result = CliRunner().invoke(
        cli, ["instructions", "--run-dir", str(tmp_path / "run"), "--model", "no-such-model", "--user-code", str(script)]
    )
    assert result.exit_code == 1 and "no model was loaded" in result.output
    assert "mine.py" in result.output


def test_stage_commands_take_the_prompt_format_as_options(tmp_path, talking_model_dir):
    runner = CliRunner()
    common = ["--run-dir", str(tmp_path / "run"), "--model", str(talking_model_dir), "--quiet", "--device", "cpu"]
    assert runner.invoke(cli, ["instructions", *common, "--target", "2", *_sets(FAST_INSTRUCTIONS)]).exit_code == 0
    bad = runner.invoke(cli, ["responses", *common, "--prompt-template", "Q: {question}\nA:"])
    assert bad.exit_code != 0 and "--prompt options" in bad.output and "template = 'Q: {question}\\nA:': must hold {instruction} exactly once" in bad.output
    result = runner.invoke(cli, ["responses", *common, "-k", "2", "--prompt-template", "Q: {instruction}\nA:", *_sets(FAST_RESPONSES)])
    assert result.exit_code == 0, result.output
    [record, _] = read_records(tmp_path / "run" / "responses.jsonl")
    assert record["prompt"] == f"Q: {record['instruction']}\nA:"
