"""The gate requirements and LoRA knobs of ``stage1kit train sft|dpo``, and the trainers' defaults."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from stage1kit_trl.config import DPOSettings, SFTSettings
from training_helpers import sft_records, write_dataset

from stage1kit.commands.stages import train_group
from stage1kit.gate import check_gate
from stage1kit.rundir import manifest_path_for

FAST = ["--max-steps", "1", "--batch-size", "2", "--lora-r", "4", "--quiet"]


@pytest.fixture
def no_model_loads(monkeypatch):
    """Fail the test if anything loads a model: a refusal must come first."""
    from stage1kit.loader import CleanModelLoader

    def refuse(self, *args, **kwargs):
        raise AssertionError("a model was loaded before the gate refused")

    monkeypatch.setattr(CleanModelLoader, "load", refuse)


def train(kind: str, run_dir, model, *extra: str):
    args = [kind, "--run-dir", str(run_dir.root), "--model", str(model), *extra]
    return CliRunner().invoke(train_group, args)


# --------------------------------------------------------------------------- default requirements


def test_default_requirements_are_min_records_and_acceptance_rate():
    assert SFTSettings().gate_requirements() == {"min_records": 4.0, "min_acceptance_rate": 0.05}
    assert DPOSettings().gate_requirements() == {"min_records": 4.0, "min_acceptance_rate": 0.05}


def test_requirements_add_to_the_defaults_and_override_them_by_name():
    settings = DPOSettings(requirements={"min_order_agreement_rate": 0.6, "min_acceptance_rate": 0.3})
    assert settings.gate_requirements() == {"min_records": 4.0, "min_acceptance_rate": 0.3, "min_order_agreement_rate": 0.6}
    assert SFTSettings(min_acceptance_rate=None).gate_requirements() == {"min_records": 4.0}


def test_the_tiny_demos_datasets_meet_the_defaults(gated_run, base_model, base_provenance):
    """The demo's critic never agrees with itself across orders and its margins are ~0.006: the
    defaults must not refuse that, or `stage1kit demo` could not train."""
    demo_qc = {
        "records": 6,
        "acceptance_rate": 0.75,
        "order_agreement_rate": 0.0,
        "margin": {"mean": 0.006, "min": 0.0003},
    }
    path = write_dataset(gated_run, "sft", sft_records(str(base_model)), model=base_provenance, qc=demo_qc)
    for settings in (SFTSettings(), DPOSettings()):
        report = check_gate(path, requirements=settings.gate_requirements(), model_provenance=None)
        check = next(c for c in report.checks if c.name == "qc requirements")
        assert check.ok, check.detail


def test_a_dataset_that_kept_almost_nothing_is_refused_by_default(gated_run, base_model, base_provenance, no_model_loads, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    write_dataset(gated_run, "sft", sft_records(str(base_model)), model=base_provenance, qc={"records": 6, "acceptance_rate": 0.01})
    result = train("sft", gated_run, base_model, *FAST)
    assert result.exit_code == 1, result.output
    assert "FAILED qc requirements: acceptance_rate = 0.01, the trainer requires min 0.05" in result.output


# --------------------------------------------------------------------------- --require / --min-records


def test_an_unmeetable_require_refuses_before_any_model_loads(gated_run, base_model, no_model_loads, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    result = train("sft", gated_run, base_model, *FAST, "--require", "min_order_agreement_rate=0.95")
    assert result.exit_code == 1, result.output
    assert "no model was loaded" in result.output
    assert "FAILED qc requirements: order_agreement_rate = 0.9, the trainer requires min 0.95" in result.output
    assert not gated_run.train_dir("sft").exists()


def test_require_names_a_metric_the_manifest_lacks(gated_run, base_model, no_model_loads, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    result = train("sft", gated_run, base_model, *FAST, "--require", "min_margin.mean=0.2")
    assert result.exit_code == 1
    assert "margin.mean is not in the manifest's qc" in result.output


def test_min_records_raises_the_bar(gated_run, base_model, no_model_loads, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    result = train("sft", gated_run, base_model, *FAST, "--min-records", "100")
    assert result.exit_code == 1
    assert "records = 6, the trainer requires min 100" in result.output


@pytest.mark.parametrize(
    "value, says",
    [
        ("min_acceptance_rate", "is not KEY=VALUE"),
        ("acceptance_rate=0.5", "min_<metric> or max_<metric>"),
        ("min_records=lots", "the value 'lots' is not a number"),
    ],
)
def test_bad_require_syntax_says_what_to_write(gated_run, base_model, value, says):
    result = train("sft", gated_run, base_model, "--require", value)
    assert result.exit_code == 2
    assert "Invalid value for '--require'" in result.output and says in result.output
    assert "--require min_order_agreement_rate=0.6" in result.output


def test_bad_lora_settings_are_refused_before_the_gate(gated_run, base_model, no_model_loads, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    result = train("sft", gated_run, base_model, "--lora-dropout", "1.5")
    assert result.exit_code == 1
    assert "trainer 'trl-sft' rejected its settings: lora_dropout must be in [0, 1), got 1.5" in result.output
    empty = train("sft", gated_run, base_model, "--target-modules", " , ")
    assert empty.exit_code == 2 and "Invalid value for '--target-modules'" in empty.output


# --------------------------------------------------------------------------- LoRA knobs reach the trainer


@pytest.mark.slow
def test_lora_options_and_requirements_reach_the_training_manifest(gated_run, base_model, registry, monkeypatch):
    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
    result = train(
        "sft", gated_run, base_model, *FAST,
        "--lora-alpha", "8", "--lora-dropout", "0.0", "--target-modules", "q_proj, v_proj",
        "--require", "min_order_agreement_rate=0.5", "--min-records", "5",
    )
    assert result.exit_code == 0, result.output

    sft_dir = gated_run.train_dir("sft")
    manifest = json.loads(manifest_path_for(sft_dir).read_text(encoding="utf-8"))
    settings = manifest["plugins"]["trl-sft"]["settings"]
    assert settings["lora_alpha"] == 8 and settings["lora_dropout"] == 0.0
    assert settings["target_modules"] == ["q_proj", "v_proj"]
    assert settings["min_records"] == 5 and settings["requirements"] == {"min_order_agreement_rate": 0.5}
    gate = next(c for c in manifest["qc"]["gate"]["checks"] if c["name"] == "qc requirements")
    assert gate["detail"] == "meets min_acceptance_rate=0.05, min_order_agreement_rate=0.5, min_records=5"

    adapter = json.loads((sft_dir / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter["lora_alpha"] == 8 and sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]
