"""`stage1kit run --iterations N`: iteration t+1 generates, judges and trains on iteration t's merged
DPO model, each iteration in its own run directory, linked to the previous one in every manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.config import load_config
from stage1kit.hashing import file_sha256
from stage1kit.iterations import IterationError, earlier_iteration_dirs, iteration_config, offset_seed, summary_markdown
from stage1kit.manifest import load_manifest, verify_manifest

STAGE_MANIFESTS = (
    "instructions.manifest.json",
    "responses.manifest.json",
    "judgements.manifest.json",
    "sft.manifest.json",
    "dpo.manifest.json",
    "train-sft/manifest.json",
    "train-dpo/manifest.json",
    "eval/manifest.json",
)


def _small(config_path, edit):
    edit(config_path, "target = 24", "target = 6")
    edit(config_path, "heldout = 6", "heldout = 2")


def test_iteration_configs_offset_every_seed_and_need_the_previous_model(config_path, edit):
    edit(config_path, "# settings of trainer 'trl-dpo'", "seed = 7\n# settings of trainer 'trl-dpo'")
    first = load_config(config_path)
    one = iteration_config(first, 1)
    assert one.model_id == first.model_id and one.run_dir.name == "iter-1"
    assert one.iteration == {"iteration": 1, "previous": None, "previous_sha256": None}
    assert [one.stages[s].seed for s in ("instructions", "responses", "pairs", "evaluate")] == [0, 0, 0, 0]
    with pytest.raises(IterationError, match="needs iteration 2's merged model"):
        iteration_config(first, 3)
    with pytest.raises(IterationError, match=r"iter-2/train-dpo/manifest.json, which does not exist"):
        iteration_config(first, 3, model_id=str(first.run_dir / "iter-2" / "merged-model"))
    assert iteration_config(first, 1).stages["train-dpo"].trainer_settings["seed"] == 7
    moved = offset_seed(first.stages["train-dpo"], 2)
    assert moved.trainer_settings["seed"] == 9 and offset_seed(first.stages["pairs"], 2).seed == 2
    assert first.stages["train-dpo"].trainer_settings["seed"] == 7  # the user's config is left as it was


def test_two_iterations_train_on_the_previous_model_and_a_rerun_skips_everything(config_path, edit):
    _small(config_path, edit)
    result = CliRunner().invoke(cli, ["run", str(config_path), "--quiet", "--iterations", "2"])
    assert result.exit_code == 0, result.output
    run = config_path.parent / "run"
    merged = run / "iter-1" / "merged-model"
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    assert not (run / "iter-2" / "merged-model").exists()  # the last iteration's model is not needed yet
    previous = run / "iter-1" / "train-dpo" / "manifest.json"
    for name in STAGE_MANIFESTS:
        first, second = (load_manifest(run / f"iter-{t}" / name) for t in (1, 2))
        assert verify_manifest(run / "iter-2" / name) == [], name
        # iteration 2 runs on iteration 1's merged checkpoint, and its manifests say so
        assert first["model"]["model_id"] == load_config(config_path).model_id, name
        assert second["model"]["model_id"] == str(merged.resolve()), name
        assert second["config"]["iteration"] == {"iteration": 2, "previous": str(previous.resolve()), "previous_sha256": file_sha256(previous)}
        assert first["config"]["iteration"]["previous"] is None
    seeds = [load_manifest(run / f"iter-{t}" / "instructions.manifest.json")["config"]["settings"]["seed"] for t in (1, 2)]
    assert seeds == [0, 1]
    heldout = [(run / f"iter-{t}" / "heldout.jsonl").read_text() for t in (1, 2)]
    assert heldout[0] != heldout[1]  # fresh held-out data

    summary = json.loads((run / "iterations.json").read_text())
    assert [e["iteration"] for e in summary["iterations"]] == [1, 2]
    assert summary["iterations"][1]["model"] == str(merged.resolve())
    assert all(e["win_rate"] is not None for e in summary["iterations"])  # the starter config has a win rate
    assert (run / "iterations.png").stat().st_size > 0 and summary["plot"] == "iterations.png"
    assert "| 2 | iter-1/merged-model | " in (run / "iterations.md").read_text()
    assert "stage1kit iterations" in result.output

    assert json.loads((merged / "tokenizer_config.json").read_text()).get("chat_template") is None

    merged_weights = sorted(p.stat().st_mtime_ns for p in merged.iterdir())
    again = CliRunner().invoke(cli, ["run", str(config_path), "--quiet", "--iterations", "2"])
    assert again.exit_code == 0, again.output
    assert again.output.count("up to date (manifest matches inputs and config); skipped") == 14
    assert "[merge]" in again.output and "up to date (merged from the current DPO output); skipped" in again.output
    assert sorted(p.stat().st_mtime_ns for p in merged.iterdir()) == merged_weights

    # a merge made from another DPO output than the current one is made again
    record = merged / "merged-from.json"
    record.write_text(record.read_text().replace(file_sha256(previous), "0" * 64))
    third = CliRunner().invoke(cli, ["run", str(config_path), "--quiet", "--iterations", "2"])
    assert third.exit_code == 0, third.output
    assert f"[merge] merging {run / 'iter-1' / 'train-dpo'}" in third.output
    assert json.loads(record.read_text())["dpo_manifest_sha256"] == file_sha256(previous)


@pytest.mark.parametrize("span", [["--until", "pairs"], ["--from", "judge"]])
def test_iterations_run_every_stage(config_path, span):
    result = CliRunner().invoke(cli, ["run", str(config_path), "--quiet", "--iterations", "2", *span])
    assert result.exit_code == 1
    assert "--iterations 2 runs every stage of every iteration; drop --from / --until" in result.output
    assert not (config_path.parent / "run" / "iter-1").exists()


def test_the_summary_shows_accuracy_per_model_with_intervals():
    entry = {
        "iteration": 1,
        "model": "/models/m",
        "accuracy": {"base": {"accuracy": 0.1, "ci95": [0.05, 0.2]}, "dpo": {"accuracy": 0.8, "ci95": [0.7, 0.9]}},
        "win_rate": {"win_rate": 0.75, "ci95": [0.6, 0.85]},
    }
    assert "| 1 | m | 0.100 [0.050, 0.200] | - | 0.800 [0.700, 0.900] | 0.750 |" in summary_markdown([entry], None)


def test_accuracy_questions_leave_out_what_earlier_iterations_trained_on(tmp_path):
    from stage1kit.prompting import DEFAULT_FORMAT as fmt
    from stage1kit.records import write_records_atomic
    from stage1kit.rundir import RunDir
    from stage1kit.stages.evaluate import HeldoutSet, select_accuracy_questions

    link = {"iteration": 3, "previous": str(tmp_path / "iter-2" / "train-dpo" / "manifest.json"), "previous_sha256": "x"}
    first, second, current = (RunDir.at(path) for path in [*earlier_iteration_dirs(link), tmp_path / "iter-3"])
    assert [first.root.name, second.root.name] == ["iter-1", "iter-2"]
    for run, name, question in ((first, "sft", "1+1?"), (second, "dpo", "2+2?"), (current, "sft", "3+3?")):
        write_records_atomic(run.dataset(name), [{"id": "r", "instruction_id": "i", "prompt": fmt.prompt(question), "completion": " 2"}])

    class Questions:
        def questions(self):
            return ["1+1?", "2+2?", "3+3?", "4+4?"]

    none = HeldoutSet([], [], "none")
    assert select_accuracy_questions(current, Questions(), none, 10, 0, fmt, [first, second])[0] == ["4+4?"]
    assert sorted(select_accuracy_questions(current, Questions(), none, 10, 0, fmt)[0]) == ["1+1?", "2+2?", "4+4?"]
    assert earlier_iteration_dirs(None) == [] and earlier_iteration_dirs({"iteration": 1, "previous": None}) == []
