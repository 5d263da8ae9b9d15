"""The stage contract as a user meets it: one catalogue, stand-alone commands that agree with `run`,
settings checked before any output is touched, and verdicts that say what failed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.config import load_config
from stage1kit.pipeline import Pipeline, select_stages, stage_plugin_modules
from stage1kit.plugins import get_registry
from stage1kit.records import read_records
from stage1kit.stages.base import JsonlStage, Produced
from stage1kit.stages.catalogue import CATALOGUE, find_stage


def _run(config_path, *args):
    return CliRunner().invoke(cli, ["run", str(config_path), "--quiet", *args])


def _small(config_path, edit, target=6):
    edit(config_path, "target = 24", f"target = {target}")
    edit(config_path, "heldout = 6", "heldout = 2")


def _snapshot(run: Path, name: str) -> tuple[bytes, bytes]:
    return (run / f"{name}.jsonl").read_bytes(), (run / f"{name}.manifest.json").read_bytes()


# --------------------------------------------------------------------------- defect 1, 2: plugins up front


def test_a_missing_default_trainer_stops_the_run_before_any_data_is_made(config_path, monkeypatch):
    registry = get_registry()
    without_trainers = type(registry)(registry.plugins, {**registry._by_kind, "trainers": {}}, registry.plugin_manager)
    monkeypatch.setattr("stage1kit.plugins.get_registry", lambda: without_trainers)
    result = _run(config_path)
    assert result.exit_code == 1
    assert "[train.sft] trainer = 'trl-sft': no trainer named 'trl-sft'" in result.output
    assert not (config_path.parent / "run" / "instructions.jsonl").exists()


def test_training_stages_declare_their_trainer_so_doctor_and_the_gate_audit_it(config_path):
    config = load_config(config_path)
    for name in ("train-sft", "train-dpo"):
        assert "stage1kit_trl" in stage_plugin_modules(config, find_stage(name), get_registry())
    result = CliRunner().invoke(cli, ["doctor", str(config_path)])
    assert result.exit_code == 0, result.output
    assert "audit: clean" in result.output


def test_a_broken_plugin_is_shown_by_run(config_path, edit, monkeypatch):
    from stage1kit.plugins import PluginInfo

    registry = get_registry()
    broken = PluginInfo("fancy-critic", "fancy_critic", "fancy-critic-dist", "0.1", error="ImportError: no module named fancy")
    with_broken = type(registry)([*registry.plugins, broken], registry._by_kind, registry.plugin_manager)
    monkeypatch.setattr("stage1kit.plugins.get_registry", lambda: with_broken)
    _small(config_path, edit, target=2)
    result = _run(config_path, "--until", "instructions")
    assert result.exit_code == 0, result.output
    assert "warning: plugin 'fancy-critic' (fancy-critic-dist) failed to load and is skipped: ImportError" in result.output


# --------------------------------------------------------------------------- defect 3, 6: commands = run


@pytest.mark.slow
def test_each_stage_run_on_its_own_then_run_skips_every_stage(config_path, edit, demo_model_dir):
    _small(config_path, edit)
    run = str(config_path.parent / "run")
    common = ["--run-dir", run, "--model", str(demo_model_dir), "--quiet"]
    train = ["--max-steps", "8", "--logging-steps", "1"]
    commands = [
        ["instructions", "--target", "6"],
        ["responses", "-k", "4"],
        ["judge"],
        ["pairs", "--no-require-order-agreement", "--heldout", "2"],
        ["train", "sft", *train],
        ["train", "dpo", *train],
    ]
    for command in commands:
        result = CliRunner().invoke(cli, [*command, *common])
        assert result.exit_code == 0, (command, result.output)
    assert CliRunner().invoke(cli, ["evaluate", str(config_path), "--quiet"]).exit_code == 0
    result = _run(config_path)
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.output.splitlines() if "up to date" in line and line.startswith("[")]
    assert len(skipped) == len(CATALOGUE), result.output


def test_judge_takes_no_seed_it_would_ignore(tmp_path, demo_model_dir):
    result = CliRunner().invoke(cli, ["judge", "--run-dir", str(tmp_path), "--model", str(demo_model_dir), "--seed", "3"])
    assert result.exit_code == 2 and "No such option '--seed'" in result.output


# --------------------------------------------------------------------------- defect 4: model load settings


def test_pairs_takes_the_model_load_settings_and_a_trained_checkpoint_loads_with_them(tmp_path, monkeypatch):
    from stage1kit.models import ModelAccess
    from stage1kit.settings import ModelSettings

    help_text = CliRunner().invoke(cli, ["pairs", "--help"]).output
    assert "--dtype" in help_text and "--trust-remote-code" in help_text
    seen = []
    monkeypatch.setattr("stage1kit.loader.CleanModelLoader.load", lambda self: seen.append(self) or "loaded")
    merged = tmp_path / "train-dpo"
    merged.mkdir()  # a whole (merged) checkpoint: no adapter_config.json
    access = ModelAccess(ModelSettings(id="base", dtype="bfloat16", device="cpu"), "base")
    assert access.trained(merged) == "loaded"
    assert seen[0].model_name == str(merged) and seen[0].dtype == "bfloat16" and seen[0].device == "cpu"


# --------------------------------------------------------------------------- defect 5: generator stats


def test_the_responses_manifest_records_what_the_generator_counted(config_path, edit):
    _small(config_path, edit)
    assert _run(config_path, "--until", "responses").exit_code == 0
    manifest = json.loads((config_path.parent / "run" / "responses.manifest.json").read_text())
    generator = manifest["qc"]["generator"]
    assert generator["generated"] == 6 * 4
    assert set(generator["rejected"]) >= {"empty", "duplicate", "truncated"}


# --------------------------------------------------------------------------- defect 7, 10: bad settings


@pytest.mark.parametrize(
    "old, new, says",
    [
        ("k = 4", "k = -1", "[responses]: k = -1: must be at least 1"),
        ("[responses]\n", '[responses]\ngenerator_settings = { temperature = "hot" }\n', "temperature: expected float, got str 'hot'"),
    ],
)
def test_a_bad_setting_is_refused_before_finished_work_is_touched(config_path, edit, old, new, says):
    _small(config_path, edit)
    assert _run(config_path, "--until", "responses").exit_code == 0
    run = config_path.parent / "run"
    before = _snapshot(run, "responses")
    text = config_path.read_text()
    config_path.write_text(text.replace("generator_settings = {  }", "", 2) if "generator_settings" in new else text)
    edit(config_path, old, new)
    result = _run(config_path, "--until", "responses")
    assert result.exit_code == 1 and says in result.output, result.output
    assert "Traceback" not in result.output
    assert _snapshot(run, "responses") == before
    doctor = CliRunner().invoke(cli, ["doctor", str(config_path)])
    assert doctor.exit_code == 1 and says in doctor.output


@pytest.mark.parametrize("broken", ["corrupted config.json", "unreachable hub id"])
def test_a_model_that_cannot_be_opened_is_refused_before_finished_work_is_touched(
    config_path, edit, demo_model_dir, tmp_path, monkeypatch, broken
):
    import shutil

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # "unreachable": no network here either way, and no wait
    model = tmp_path / "model-copy"
    shutil.copytree(demo_model_dir, model)
    edit(config_path, str(demo_model_dir), str(model))
    _small(config_path, edit)
    assert _run(config_path, "--until", "responses").exit_code == 0
    run = config_path.parent / "run"
    before = _snapshot(run, "responses")
    edit(config_path, "k = 4", "k = 3")  # responses must rerun
    if broken == "corrupted config.json":
        (model / "config.json").write_text('{"model_type": "llama", ')
        says = "could not open the model config"
    else:
        edit(config_path, str(model), "no-such-org/no-such-model")
        says = "no-such-org/no-such-model"
    result = _run(config_path, "--until", "responses")
    assert result.exit_code == 1 and says in result.output, result.output
    assert _snapshot(run, "responses") == before
    doctor = CliRunner().invoke(cli, ["doctor", str(config_path)])
    assert doctor.exit_code == 1 and says in doctor.output


def test_a_rerun_that_crashes_leaves_the_previous_result_intact(config_path, edit, monkeypatch):
    from stage1kit.records import RecordWriter

    _small(config_path, edit)
    assert _run(config_path, "--until", "responses").exit_code == 0
    run = config_path.parent / "run"
    before = _snapshot(run, "responses")
    edit(config_path, "k = 4", "k = 3")

    class Crash(RecordWriter):
        def write(self, record):
            if self.written == 2:
                raise RuntimeError("power cut")
            super().write(record)

    monkeypatch.setattr("stage1kit.records.RecordWriter", Crash)
    assert _run(config_path, "--until", "responses").exit_code != 0
    assert _snapshot(run, "responses") == before
    monkeypatch.undo()
    assert _run(config_path, "--until", "responses").exit_code == 0
    assert all(len(r["candidates"]) == 3 for r in read_records(run / "responses.jsonl"))


# --------------------------------------------------------------------------- defect 8, 9: stale inputs, verdicts


def test_stand_alone_stages_do_not_bless_changed_inputs(config_path, edit, demo_model_dir):
    _small(config_path, edit)
    assert _run(config_path, "--until", "judge").exit_code == 0
    run = config_path.parent / "run"
    common = ["--run-dir", str(run), "--model", str(demo_model_dir), "--quiet"]
    lines = (run / "instructions.jsonl").read_text().splitlines(keepends=True)
    record = json.loads(lines[0])
    record["instruction"] += " <|im_end|>\n<|im_start|>assistant"
    (run / "instructions.jsonl").write_text(json.dumps(record) + "\n" + "".join(lines[1:]))

    result = CliRunner().invoke(cli, ["responses", *common])
    assert result.exit_code == 1, result.output
    assert "running: input instructions.jsonl changed" in result.output
    assert "verdict FAIL" in result.output and "contamination" in result.output
    responses = read_records(run / "responses.jsonl")
    assert any("<|im_start|>" in r["instruction"] for r in responses)  # regenerated from the new input

    judged = CliRunner().invoke(cli, ["judge", *common])
    assert "running: input responses.jsonl changed" in judged.output
    judgements = {r["instruction_id"]: r["candidates"] for r in read_records(run / "judgements.jsonl")}
    assert judgements == {r["instruction_id"]: r["candidates"] for r in responses}


def test_a_fail_verdict_exits_1_and_lists_the_failed_checks(tmp_path, demo_model_dir):
    args = ["instructions", "--run-dir", str(tmp_path), "--model", str(demo_model_dir), "--quiet", "--target", "2",
            "--thresholds", "min_accepted=1000"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "verdict FAIL" in result.output and "accepted = 2 is below min_accepted = 1000" in result.output


# --------------------------------------------------------------------------- the summary


@pytest.mark.slow
def test_the_summary_reads_the_same_for_a_fresh_and_a_skipped_run(config_path, edit):
    _small(config_path, edit)
    config = load_config(config_path)
    fresh = Pipeline(config, get_registry(), show_progress=False, echo=lambda _: None).run(select_stages(None, None))
    again = Pipeline(config, get_registry(), show_progress=False, echo=lambda _: None).run(select_stages(None, None))
    assert all(o.skipped for o in again)
    assert [(o.stage, o.records_in, o.records_out, o.verdict) for o in fresh] == [
        (o.stage, o.records_in, o.records_out, o.verdict) for o in again
    ]


# --------------------------------------------------------------------------- adding a stage


@dataclass
class ShoutSettings:
    """``[shout]``: upper-case every SFT completion (a toy stage)."""

    thresholds: dict[str, float] = field(default_factory=lambda: {"min_records": 1})


class ShoutStage(JsonlStage):
    """A toy stage, added as the docs show: one class, one line in the catalogue."""

    name = "shout"
    table = "shout"
    settings_type = ShoutSettings
    inputs = ("sft",)
    outputs = ("shouted",)
    text_fields = ("completion",)

    def produce(self, ctx, settings, sink, existing):
        records = read_records(ctx.run_dir.dataset("sft"))
        for record in records:
            sink.write({"id": record["id"], "prompt": record["prompt"], "completion": record["completion"].upper()})
        return Produced(records_in=len(records), plugins={})

    def qc(self, records, produced, settings):
        return {"records": len(records)}


def test_a_stage_added_to_the_catalogue_runs_in_the_pipeline(config_path, edit, monkeypatch):
    monkeypatch.setattr("stage1kit.rundir.DATASET_STAGES", ("instructions", "responses", "judgements", "sft", "dpo", "shouted"))
    _small(config_path, edit)
    catalogue = CATALOGUE[:4] + (ShoutStage(),) + CATALOGUE[4:]
    config_path.write_text(config_path.read_text() + "\n[shout]\nthresholds = { min_records = 1 }\n")
    config = load_config(config_path, catalogue)
    pipeline = Pipeline(config, get_registry(), show_progress=False, echo=lambda _: None)
    outcomes = pipeline.run(select_stages(None, "shout", catalogue))
    assert [o.stage for o in outcomes] == ["instructions", "responses", "judge", "pairs", "shout"]
    shouted = read_records(config_path.parent / "run" / "shouted.jsonl")
    assert shouted and all(r["completion"] == r["completion"].upper() for r in shouted)
    assert outcomes[-1].verdict == "pass"
    again = Pipeline(config, get_registry(), show_progress=False, echo=lambda _: None).run(select_stages(None, "shout", catalogue))
    assert again[-1].skipped
