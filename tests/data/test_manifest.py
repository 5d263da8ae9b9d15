"""QC manifests: every written manifest validates, hashes verify, tampering and contamination fail."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from stage1kit.commands.manifest import manifest_group
from stage1kit.manifest import (
    ManifestError,
    config_hash,
    is_up_to_date,
    load_manifest,
    schema_problems,
    verify_manifest,
    write_manifest,
)
from stage1kit.records import write_records_atomic
from stage1kit.rundir import manifest_path_for

CLEAN = {"clean": True, "findings": 0, "files_checked": 2, "paths": [], "modules": ["stage1kit_negatives"]}
# stage1kit: allow[SK200] reason: provenance records the template state, it sets nothing
MODEL = {"model_id": "tiny", "revision": None, "chat_template": {"state": "disabled"}, "bos": {"id": 0}, "eos": {"id": 1}}


def sft_file(tmp_path, completion=" A plain answer."):
    path = tmp_path / "sft.jsonl"
    write_records_atomic(path, [
        {"id": "s0", "prompt": "Query: Say hi.\nAnswer:", "completion": " Hi."},
        {"id": "s1", "prompt": "Query: Say more.\nAnswer:", "completion": completion},
    ])
    return path


def write(path, **overrides):
    kwargs = dict(config={"stage": "pairs", "seed": 0}, model=MODEL, plugins={"truncated": "0.1.0"},
                  qc={"acceptance_rate": 0.8}, thresholds={"min_records": 2}, audit=CLEAN, text_fields=("prompt", "completion"))
    return write_manifest("sft", path, **(kwargs | overrides))


def test_a_written_manifest_validates_and_verifies(tmp_path):
    path = sft_file(tmp_path)
    manifest = write(path, inputs=[sft_file(tmp_path / "up")])
    assert schema_problems(manifest) == []
    assert load_manifest(manifest_path_for(path)) == manifest
    assert verify_manifest(manifest_path_for(path)) == []
    assert manifest["verdict"] == {"status": "pass", "thresholds": {"min_records": 2}, "reasons": []}
    assert manifest["outputs"][0]["path"] == "sft.jsonl" and manifest["outputs"][0]["records"] == 2
    assert manifest["inputs"][0]["path"] == "up/sft.jsonl"
    assert manifest["config_hash"] == config_hash({"seed": 0, "stage": "pairs"})


def test_one_changed_byte_fails_verify(tmp_path):
    path = sft_file(tmp_path)
    write(path)
    data = bytearray(path.read_bytes())
    data[data.index(b"Hi")] = ord("h")
    path.write_bytes(bytes(data))
    problems = verify_manifest(manifest_path_for(path))
    assert len(problems) == 1 and "sft.jsonl" in problems[0] and "sha256" in problems[0]


def test_a_changed_input_fails_verify_and_is_not_up_to_date(tmp_path):
    source = sft_file(tmp_path / "in")
    path = sft_file(tmp_path)
    write(path, inputs=[source])
    assert is_up_to_date(path, inputs=[source], config={"stage": "pairs", "seed": 0})
    assert not is_up_to_date(path, inputs=[source], config={"stage": "pairs", "seed": 1})
    assert not is_up_to_date(path, inputs=[], config={"stage": "pairs", "seed": 0})
    source.write_text(source.read_text() + '{"id": "s2", "prompt": "p", "completion": "c"}\n')
    assert not is_up_to_date(path, inputs=[source], config={"stage": "pairs", "seed": 0})
    assert any("input in/sft.jsonl" in p for p in verify_manifest(manifest_path_for(path)))


@pytest.mark.parametrize("completion", [" <|im_start|>assistant Hi", " [INST] do it [/INST]"])
def test_a_planted_chat_marker_fails_the_verdict(tmp_path, completion):
    manifest = write(sft_file(tmp_path, completion))
    assert manifest["verdict"]["status"] == "fail"
    assert not manifest["contamination"]["clean"] and manifest["contamination"]["contaminated_records"] == 1
    assert "sft.jsonl:2 (id 's1') field 'completion'" in manifest["verdict"]["reasons"][0]
    assert schema_problems(manifest) == []


def test_role_content_structures_anywhere_fail_the_verdict(tmp_path):
    path = tmp_path / "sft.jsonl"
    # stage1kit: allow[SK200] reason: a planted role/content record the contamination scan must catch
    write_records_atomic(path, [{"id": "c", "prompt": "p", "completion": "c", "meta": {"history": [{"role": "user", "content": "hi"}]}}])
    manifest = write(path)
    assert manifest["verdict"]["status"] == "fail"
    assert manifest["contamination"]["role_content"] == 1
    assert "meta.history[0]" in manifest["contamination"]["examples"][0]


def test_a_text_field_that_is_not_text_fails(tmp_path):
    path = tmp_path / "sft.jsonl"
    write_records_atomic(path, [{"id": "c", "prompt": "p", "completion": ["a", {"x": 1}]}])
    assert write(path)["contamination"]["non_text"] == 1


def test_missed_thresholds_and_a_dirty_audit_fail_with_reasons(tmp_path):
    manifest = write(sft_file(tmp_path), thresholds={"min_acceptance_rate": 0.9, "max_records": 1, "min_missing": 1},
                     audit={"clean": False, "findings": 3})
    reasons = " | ".join(manifest["verdict"]["reasons"])
    assert manifest["verdict"]["status"] == "fail"
    assert "acceptance_rate = 0.8 is below min_acceptance_rate = 0.9" in reasons
    assert "records = 2 is above max_records = 1" in reasons
    assert "no numeric metric 'missing'" in reasons
    assert "audit had 3 finding(s)" in reasons


def test_directory_outputs_hash_every_file_but_their_own_manifest(tmp_path):
    data = sft_file(tmp_path)
    out = tmp_path / "train-sft"
    (out / "sub").mkdir(parents=True)
    (out / "adapter.bin").write_bytes(b"\x00\x01")
    (out / "sub" / "state.json").write_text("{}")
    manifest = write_manifest("train-sft", out, inputs=[data], config={"k": 1}, qc={"loss": 1.0}, audit=CLEAN)
    assert manifest_path_for(out) == out / "manifest.json"
    assert set(manifest["outputs"][0]["files"]) == {"adapter.bin", "sub/state.json"}
    assert manifest["inputs"][0]["path"] == "../sft.jsonl"
    assert verify_manifest(out / "manifest.json") == []
    assert is_up_to_date(out, inputs=[data], config={"k": 1})
    (out / "adapter.bin").write_bytes(b"\x00\x02")
    assert verify_manifest(out / "manifest.json") == ["output .: file adapter.bin changed (sha256 differs)"]
    assert not is_up_to_date(out, inputs=[data], config={"k": 1})


def test_edited_manifests_are_caught(tmp_path):
    path = sft_file(tmp_path)
    write(path, thresholds={"min_acceptance_rate": 0.9})
    mpath = manifest_path_for(path)
    manifest = json.loads(mpath.read_text())
    manifest["verdict"] = {"status": "pass", "thresholds": manifest["verdict"]["thresholds"], "reasons": []}
    manifest["config"]["seed"] = 7
    mpath.write_text(json.dumps(manifest))
    problems = " | ".join(verify_manifest(mpath))
    assert "'config_hash' does not match" in problems
    assert "'verdict.status' says pass, but the recorded QC gives fail" in problems


def test_schema_errors_name_file_and_field(tmp_path):
    path = sft_file(tmp_path)
    write(path)
    mpath = manifest_path_for(path)
    manifest = json.loads(mpath.read_text())
    manifest["outputs"][0]["sha256"] = "nope"
    mpath.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"sft\.manifest\.json.*outputs\[0\]\.sha256"):
        load_manifest(mpath)
    mpath.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(mpath)


@pytest.mark.parametrize("drop", ["model_id", "chat_template", "bos", "eos"])
def test_model_provenance_must_be_complete(tmp_path, drop):
    path = sft_file(tmp_path)
    write(path)
    manifest = load_manifest(manifest_path_for(path))
    del manifest["model"][drop]
    assert any(drop in problem for problem in schema_problems(manifest))


def test_a_manifest_saying_the_template_was_on_is_invalid(tmp_path):
    path = sft_file(tmp_path)
    write(path)
    manifest = load_manifest(manifest_path_for(path))
    manifest["model"]["chat_template"]["state"] = "enabled"
    assert any("chat_template" in problem for problem in schema_problems(manifest))


def test_bad_input_leaves_the_previous_manifest_in_place(tmp_path):
    path = sft_file(tmp_path)
    write(path)
    before = manifest_path_for(path).read_bytes()
    with pytest.raises(ManifestError, match="refusing to write an invalid manifest"):
        write(path, thresholds={"at_least_records": 1})
    with pytest.raises(ManifestError, match="does not exist"):
        write_manifest("sft", tmp_path / "gone.jsonl")
    assert manifest_path_for(path).read_bytes() == before


def test_show_and_verify_commands(tmp_path):
    path = sft_file(tmp_path)
    write(path)
    runner = CliRunner()
    shown = runner.invoke(manifest_group, ["show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "PASS" in shown.output and "sft.jsonl" in shown.output and "acceptance_rate" in shown.output
    assert runner.invoke(manifest_group, ["verify", str(manifest_path_for(path))]).exit_code == 0
    path.write_text(path.read_text().replace("Hi.", "Yo."))
    failed = runner.invoke(manifest_group, ["verify", str(path)])
    assert failed.exit_code == 1 and "sha256 differs" in failed.output


def test_verify_command_fails_on_a_failing_verdict(tmp_path):
    path = sft_file(tmp_path, " <|eot_id|>")
    write(path)
    result = CliRunner().invoke(manifest_group, ["verify", str(path)])
    assert result.exit_code == 1 and "verdict is fail: contamination" in result.output


def _twice_written(path):
    """What two runs appending to one file leave: every record of a second pass again, ids and all."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    write_records_atomic(path, records + records[:1] + [{"id": "s9", "prompt": "p", "completion": " c"}] + records)
    return path


def test_duplicated_record_ids_fail_the_verdict_with_count_and_ids(tmp_path):
    manifest = write(_twice_written(sft_file(tmp_path)))
    assert manifest["verdict"]["status"] == "fail"
    [reason] = manifest["verdict"]["reasons"]
    assert reason.startswith("2 record id(s) occur more than once (3 extra records; first: 's0', 's1')")
    assert manifest["qc"]["duplicate_record_ids"] == {"ids": 2, "extra_records": 3, "first": ["s0", "s1"]}
    assert verify_manifest(manifest_path_for(tmp_path / "sft.jsonl")) == []  # the manifest is honest about it
    result = CliRunner().invoke(manifest_group, ["verify", str(tmp_path / "sft.jsonl")])
    assert result.exit_code == 1 and "occur more than once" in result.output


def test_verify_catches_duplicated_ids_a_manifest_does_not_record(tmp_path):
    """A manifest written over duplicated data without the id check (as before) must not verify."""
    path = _twice_written(sft_file(tmp_path))
    manifest = write(path)
    del manifest["qc"]["duplicate_record_ids"]
    manifest["verdict"] = {"status": "pass", "thresholds": manifest["verdict"]["thresholds"], "reasons": []}
    manifest_path_for(path).write_text(json.dumps(manifest))
    [problem] = verify_manifest(manifest_path_for(path))
    assert "output sft.jsonl: 2 record id(s) occur more than once (3 extra records): 's0' x3, 's1' x2" in problem
    assert "which the manifest does not record" in problem


def test_verify_a_whole_run_directory(tmp_path):
    run = tmp_path / "run"
    write(sft_file(run))
    adapter = run / "train-sft"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    write_manifest("train-sft", adapter, inputs=[run / "sft.jsonl"], config={"stage": "train-sft"}, model=MODEL, audit=CLEAN)
    runner = CliRunner()
    ok = runner.invoke(manifest_group, ["verify", str(run)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines() == [
        f"{run / 'sft.manifest.json'}: ok (hashes match, verdict pass)",
        f"{run / 'train-sft' / 'manifest.json'}: ok (hashes match, verdict pass)",
        "2 manifests: 2 ok, 0 with problems",
    ]
    (adapter / "adapter_model.safetensors").write_bytes(b"other weights")
    failed = runner.invoke(manifest_group, ["verify", str(run)])
    assert failed.exit_code == 1
    assert f"{run / 'sft.manifest.json'}: ok" in failed.output  # every manifest is still checked and reported
    assert f"{run / 'train-sft' / 'manifest.json'}: 1 problem(s)" in failed.output
    assert "file adapter_model.safetensors changed" in failed.output
    assert "2 manifests: 1 ok, 1 with problems" in failed.output
