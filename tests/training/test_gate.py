"""The training gate refuses every kind of bad input, naming the failed check and its fix."""

from __future__ import annotations

import json

import pytest

from stage1kit.gate import GateRefused, check_gate, require_gate
from stage1kit.records import read_records, write_records_atomic
from stage1kit.rundir import RunDir

from training_helpers import dpo_records, sft_records, write_dataset

REQUIREMENTS = {"min_records": 4}
TRAINER_MODULES = ["stage1kit_trl"]


def gate(run_dir: RunDir, base_model, kind: str = "sft", **overrides):
    kwargs = {
        "requirements": REQUIREMENTS,
        "model_provenance": {"model_id": str(base_model), "revision": None},
        "audit_modules": TRAINER_MODULES,
    } | overrides
    return check_gate(run_dir.dataset(kind), **kwargs)


def refusal(run_dir: RunDir, base_model, kind: str = "sft", **overrides) -> tuple[list[str], str]:
    """(names of the failed checks, the message a user sees)."""
    with pytest.raises(GateRefused) as info:
        require_gate(
            run_dir.dataset(kind),
            **{
                "requirements": REQUIREMENTS,
                "model_provenance": {"model_id": str(base_model), "revision": None},
                "audit_modules": TRAINER_MODULES,
            }
            | overrides,
        )
    return [check.name for check in info.value.report.failures], str(info.value)


def test_passing_datasets_pass_every_check(gated_run, base_model):
    for kind in ("sft", "dpo"):
        report = gate(gated_run, base_model, kind)
        assert report.passed, report.refusal_message()
        assert report.records == 6
        assert report.audit["clean"] is True
        names = {check.name for check in report.checks}
        assert {"manifest valid", "verdict pass", "data matches manifest", "qc requirements", "recorded audit clean",
                "audit passes now", "plain text records", "no chat markers", "model matches"} <= names


def test_missing_manifest(gated_run, base_model):
    gated_run.manifest("sft").unlink()
    failed, message = refusal(gated_run, base_model)
    assert failed == ["manifest exists"]
    assert "no manifest at" in message and "stage1kit pairs" in message


def test_failed_verdict(gated_run, base_model, base_provenance):
    write_dataset(
        gated_run, "sft", sft_records(str(base_model)), model=base_provenance,
        qc={"records": 6, "acceptance_rate": 0.1}, thresholds={"min_acceptance_rate": 0.5},
    )
    failed, message = refusal(gated_run, base_model)
    assert "verdict pass" in failed
    assert "verdict is 'fail'" in message


def test_tampered_file(gated_run, base_model):
    path = gated_run.dataset("sft")
    records = read_records(path)
    records[0]["completion"] = " An answer edited by hand after QC."
    write_records_atomic(path, records)
    failed, message = refusal(gated_run, base_model)
    assert failed == ["data matches manifest"]
    assert "sha256" in message and "rebuild it with its stage" in message


def test_dropped_record_changes_the_count(gated_run, base_model):
    path = gated_run.dataset("sft")
    write_records_atomic(path, read_records(path)[:-1])
    failed, message = refusal(gated_run, base_model)
    assert failed == ["data matches manifest"]
    assert "5 records, the manifest says 6" in message


def test_thresholds_unmet(gated_run, base_model):
    failed, message = refusal(
        gated_run, base_model, requirements={"min_records": 100, "min_acceptance_rate": 0.9, "min_mean_margin": 1.0}
    )
    assert failed == ["qc requirements"]
    assert "records = 6, the trainer requires min 100" in message
    assert "acceptance_rate = 0.75, the trainer requires min 0.9" in message
    assert "mean_margin is not in the manifest's qc" in message


def test_dirty_recorded_audit(gated_run, base_model, base_provenance):
    dirty = {"clean": False, "findings": 2, "files_checked": 3, "paths": ["gen.py"], "modules": []}
    write_dataset(gated_run, "sft", sft_records(str(base_model)), model=base_provenance, audit=dirty)
    failed, message = refusal(gated_run, base_model)
    assert "recorded audit clean" in failed
    assert "had findings (2)" in message


def test_audit_fails_now_on_user_code(gated_run, base_model, tmp_path):
    script = tmp_path / "my_training.py"
    script.write_text(
        "from transformers import AutoTokenizer\n\ntok = AutoTokenizer.from_pretrained('gpt2')\n", encoding="utf-8"
    )
    failed, message = refusal(gated_run, base_model, audit_paths=[script])
    assert failed == ["audit passes now"]
    assert "my_training.py:3" in message


def test_conversational_record(gated_run, base_model, base_provenance):
    records = sft_records(str(base_model))
    conversational = [{"role": "user", "content": "Say what a cat eats."}]  # stage1kit: allow[SK200] reason: the bad record the gate must refuse
    records[2]["prompt"] = conversational
    write_dataset(gated_run, "sft", records, model=base_provenance)
    failed, message = refusal(gated_run, base_model)
    assert "plain text records" in failed
    assert "sft.jsonl:3 (id sft-2): field 'prompt' is a list, not a string" in message


def test_chat_marker(gated_run, base_model, base_provenance):
    records = dpo_records(str(base_model))
    records[4]["chosen"] = " <|im_start|>assistant\nThe sun is a star."
    write_dataset(gated_run, "dpo", records, model=base_provenance)
    failed, message = refusal(gated_run, base_model, "dpo")
    assert "no chat markers" in failed
    assert "dpo.jsonl:5 (id dpo-4): field 'chosen' contains <|im_start|>" in message


def test_model_mismatch_refused_then_overridden_and_recorded(gated_run, base_model, tmp_path):
    other = {"model_id": str(tmp_path / "another-model"), "revision": None}
    failed, message = refusal(gated_run, base_model, model_provenance=other)
    assert failed == ["model matches"]
    assert "--allow-model-mismatch" in message and "another-model" in message

    report = gate(gated_run, base_model, model_provenance=other, allow_model_mismatch=True)
    assert report.passed
    assert report.override["allow_model_mismatch"] is True
    assert report.to_dict()["model_override"]["trained_model"][0].endswith("another-model")


def test_every_failed_check_is_listed(gated_run, base_model, tmp_path):
    path = gated_run.dataset("sft")
    records = read_records(path)
    records[0]["completion"] = " <|eot_id|>"
    write_records_atomic(path, records)
    failed, message = refusal(
        gated_run, base_model, requirements={"min_records": 50},
        model_provenance={"model_id": "someone/else", "revision": "main"},
    )
    assert set(failed) == {"data matches manifest", "qc requirements", "no chat markers", "model matches"}
    assert message.count("FAILED") == 4 and message.count("fix:") == 4
    assert "There is no --force" in message


def test_gate_report_is_json_for_the_training_manifest(gated_run, base_model):
    report = gate(gated_run, base_model)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is True and data["records"] == 6


def test_duplicated_record_ids_are_refused_naming_file_and_ids(gated_run, base_model, base_provenance):
    records = sft_records(str(base_model))
    write_dataset(gated_run, "sft", records + records[:2], model=base_provenance)  # two runs into one directory
    failed, message = refusal(gated_run, base_model)
    assert "unique record ids" in failed
    assert f"{gated_run.dataset('sft')}: 2 record id(s) occur more than once" in message
    assert f"{records[0]['id']!r} x2, {records[1]['id']!r} x2" in message
    assert "fix: two runs wrote into this run directory at once" in message
