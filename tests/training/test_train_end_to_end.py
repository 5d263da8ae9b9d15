"""SFT then DPO on the tiny model through the CLI, from gated data to adapters that load back clean."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from stage1kit.commands.stages import train_group
from stage1kit.loader import CleanModelLoader
from stage1kit.rundir import manifest_path_for

pytestmark = pytest.mark.slow

FAST = ["--max-steps", "2", "--batch-size", "2", "--lora-r", "4", "--quiet"]


def train(kind: str, run_dir, model, *extra: str):
    args = [kind, "--run-dir", str(run_dir.root), "--model", str(model), *FAST, *extra]
    return CliRunner().invoke(train_group, args, catch_exceptions=False)


def test_sft_then_dpo_train_adapters_that_load_back(gated_run, base_model, registry, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    result = train("sft", gated_run, base_model)
    assert result.exit_code == 0, result.output
    assert "train-sft: 6 records in, verdict pass" in result.output and "outputs and manifests:" in result.output

    sft_dir = gated_run.train_dir("sft")
    manifest = json.loads(manifest_path_for(sft_dir).read_text(encoding="utf-8"))
    assert manifest["stage"] == "train-sft"
    assert manifest["qc"]["global_step"] == 2 and manifest["qc"]["records"] == 6
    assert manifest["qc"]["gate"]["passed"] is True
    assert {"trl", "peft", "transformers"} <= set(manifest["plugins"]["trl-sft"]["versions"])
    assert manifest["audit"]["clean"] is True
    assert manifest["model"]["chat_template"]["state"] == "disabled"
    input_names = {entry["path"].rsplit("/", 1)[-1] for entry in manifest["inputs"]}
    assert {"sft.jsonl", "sft.manifest.json"} <= input_names

    sft = CleanModelLoader(base_model, adapter=sft_dir).load()
    assert type(sft.model).__name__.startswith("PeftModel")
    assert not (sft_dir / "chat_template.jinja").exists()

    result = train("dpo", gated_run, base_model, "--beta", "0.2")
    assert result.exit_code == 0, result.output
    dpo_dir = gated_run.train_dir("dpo")
    dpo_manifest = json.loads(manifest_path_for(dpo_dir).read_text(encoding="utf-8"))
    assert dpo_manifest["stage"] == "train-dpo"
    assert "last_rewards/margins" in dpo_manifest["qc"]
    # the chosen/rejected likelihood over training, and a warning exactly when the chosen one fell
    from stage1kit.dpo_likelihood import likelihood_warnings

    trend = dpo_manifest["qc"]["likelihood"]
    assert trend["points"] >= 1 and len(trend["logps_chosen"]) == trend["points"]
    assert dpo_manifest["warnings"] == likelihood_warnings(trend)
    assert dpo_manifest["plugins"]["trl-dpo"]["settings"]["beta"] == 0.2
    assert not (dpo_dir / "ref").exists(), "the frozen reference adapter must not be saved"

    dpo = CleanModelLoader(base_model, adapter=dpo_dir).load()
    import torch

    ids = dpo.tokenizer("Query: Name a colour of the sky.\nAnswer:", return_tensors="pt")
    with torch.no_grad():
        trained_logits = dpo.model(**ids).logits
        with dpo.model.disable_adapter():
            base_logits = dpo.model(**ids).logits
    assert not torch.allclose(trained_logits, base_logits), "the DPO adapter must change the model"

    again = train("sft", gated_run, base_model)
    assert again.exit_code == 0 and "up to date" in again.output

    merged = train("dpo", gated_run, base_model, "--merge-sft")
    assert merged.exit_code == 0, merged.output
    assert "train-dpo: " in merged.output and "verdict pass" in merged.output
    assert json.loads(manifest_path_for(dpo_dir).read_text(encoding="utf-8"))["qc"]["adapter"] is False
    whole = CleanModelLoader(dpo_dir).load()  # a merged checkpoint loads on its own, still template-free
    assert whole.tokenizer.chat_template is None
    saved = json.loads((dpo_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert saved.get("chat_template") is None and not (dpo_dir / "chat_template.jinja").exists()


def test_gate_refusal_prints_every_failed_check_and_exits_1(gated_run, base_model, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    gated_run.manifest("sft").unlink()
    result = CliRunner().invoke(
        train_group, ["sft", "--run-dir", str(gated_run.root), "--model", str(base_model), "--quiet"]
    )
    assert result.exit_code == 1
    assert "training gate refused" in result.output and "FAILED manifest exists" in result.output
    assert "Traceback" not in result.output
    assert not gated_run.train_dir("sft").exists()


def test_dpo_needs_the_sft_output_first(gated_run, base_model, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    result = train("dpo", gated_run, base_model)
    assert result.exit_code == 1
    assert "run `stage1kit train sft` first" in result.output


def test_gate_runs_before_any_model_is_loaded(gated_run, registry, tmp_path):
    from stage1kit.gate import GateRefused
    from stage1kit.settings import ModelSettings
    from stage1kit.stages.catalogue import run_stage
    from stage1kit.stages.train import TrainSettings

    gated_run.manifest("sft").unlink()
    missing_model = tmp_path / "no-such-model"  # loading it would raise LoaderError, not GateRefused
    with pytest.raises(GateRefused):
        run_stage(
            "train-sft", TrainSettings(trainer_settings={"max_steps": 1}), run_dir=gated_run, loaded=None, registry=registry,
            model=ModelSettings(id=str(missing_model)),
        )


def test_pipeline_loader_settings_reach_training(gated_run, base_model, registry, monkeypatch):
    """[model] dtype (and the remote-code settings) load the model for training as for the data stages."""
    from stage1kit.settings import ModelSettings
    from stage1kit.stages.catalogue import run_stage
    from stage1kit.stages.train import TrainSettings

    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    settings = TrainSettings(trainer_settings={"max_steps": 1, "batch_size": 2, "lora_r": 4})
    run_stage(
        "train-sft", settings, run_dir=gated_run, loaded=None, registry=registry,
        model=ModelSettings(id=str(base_model), dtype="bfloat16"),
    )
    manifest = json.loads(manifest_path_for(gated_run.train_dir("sft")).read_text(encoding="utf-8"))
    assert manifest["model"]["dtype"] == "bfloat16"
