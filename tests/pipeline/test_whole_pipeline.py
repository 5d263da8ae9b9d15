"""The whole pipeline on the tiny model, and runs killed mid-stage that resume to the same data."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from stage1kit.cli import cli
from stage1kit.manifest import verify_manifest
from stage1kit.records import read_records


@pytest.mark.slow
def test_whole_pipeline_runs_and_a_rerun_skips_everything(config_path):
    result = CliRunner().invoke(cli, ["run", str(config_path), "--quiet"])
    assert result.exit_code == 0, result.output
    run = config_path.parent / "run"
    for stage in ("instructions", "responses", "judgements", "sft", "dpo"):
        assert verify_manifest(run / f"{stage}.manifest.json") == [], stage
    assert verify_manifest(run / "train-sft" / "manifest.json") == []
    assert (run / "train-dpo" / "adapter_config.json").exists()
    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["heldout"]["instructions"] == 6  # held out by the pipeline, never trained on
    assert set(report["evaluators"]) == {"accuracy", "win-rate", "heldout-likelihood"}
    assert "no verifier configured" in report["evaluators"]["accuracy"]["missing"]  # the starter sets none
    # The trainers leave trainer_state.json behind, so the loss curve (logged every step) is plotted.
    assert [len(report["qc"]["training"][kind]["loss"]) for kind in ("sft", "dpo")] == [8, 8]
    assert {"funnel", "margins", "negative_mix", "training_loss"} <= set(report["plots"])
    heldout_ids = {r["instruction_id"] for r in read_records(run / "heldout.jsonl")}
    assert heldout_ids.isdisjoint(r["instruction_id"] for r in read_records(run / "sft.jsonl"))
    assert read_records(run / "sft.jsonl") and read_records(run / "dpo.jsonl")
    # provenance carries the instruction's generation round all the way to the training records
    assert all(isinstance(r["provenance"]["round"], int) for name in ("sft", "dpo") for r in read_records(run / f"{name}.jsonl"))

    assert verify_manifest(run / "eval" / "manifest.json") == []
    [evaluate_row] = [line for line in result.output.splitlines() if line.startswith("│ evaluate ")]
    assert "eval/" in evaluate_row and "pass" in evaluate_row  # the report's manifest gives a verdict
    again = CliRunner().invoke(cli, ["run", str(config_path), "--quiet"])
    assert again.exit_code == 0, again.output
    assert again.output.count("up to date (manifest matches inputs and config); skipped") == 7
    # the summary still shows each skipped stage's QC figures, read back from its manifest
    assert "acceptance_rate=" in again.output and "sft:" in again.output and "train_loss=" in again.output


def _run(config_path, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "stage1kit.cli", "run", str(config_path), "--quiet", "--until", "pairs", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _lines(path):
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _small_batches(config_path):
    """Records are written batch by batch; small batches let a kill land inside a stage."""
    text = config_path.read_text()
    for old, new in (
        ("max_new_tokens = 128 }\ngenerator_settings = {  }", "max_new_tokens = 128 }\ngenerator_settings = { batch_size = 1 }"),
        ("instructions_per_batch = 16", "instructions_per_batch = 2"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    config_path.write_text(text)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, demo_model_dir):
    """The uninterrupted run every killed run is compared with."""
    from stage1kit.starter import write_starter_config

    config = tmp_path_factory.mktemp("reference") / "stage1kit.toml"
    write_starter_config(config, model=str(demo_model_dir))
    _small_batches(config)
    process = _run(config)
    assert process.wait(timeout=600) == 0, process.stdout.read().decode()
    return config.parent / "run"


def _strip_provenance(records):
    return [{k: v for k, v in r.items() if k != "provenance"} for r in records]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["instructions", "responses", "judgements"])
def test_sigkill_mid_stage_then_rerun_gives_the_same_datasets(stage, config_path, reference_run):
    _small_batches(config_path)
    run = config_path.parent / "run"
    manifest = run / f"{stage}.manifest.json"
    data = run / f"{stage}.partial.jsonl"  # where a stage writes until it is complete
    victim = _run(config_path)
    deadline = time.monotonic() + 300
    while not (_lines(data) >= 1 and not manifest.exists()):
        assert victim.poll() is None and time.monotonic() < deadline, "stage finished before it could be killed"
        time.sleep(0.002)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not manifest.exists(), "the kill landed after the stage finished"
    killed_at = _lines(data)
    assert killed_at < len(read_records(reference_run / f"{stage}.jsonl")), "the stage had no work left at the kill"

    resumed = _run(config_path)
    output = resumed.stdout.read().decode()
    assert resumed.wait(timeout=600) == 0, output
    for name in ("instructions", "responses", "judgements", "sft", "dpo"):
        got = read_records(run / f"{name}.jsonl")
        ids = [r["id"] for r in got]
        assert len(ids) == len(set(ids)), f"duplicate records in {name}"
        assert verify_manifest(run / f"{name}.manifest.json") == [], name
        assert _strip_provenance(got) == _strip_provenance(read_records(reference_run / f"{name}.jsonl")), (
            f"{name} differs from the uninterrupted run ({stage} killed after {killed_at} records)"
        )
