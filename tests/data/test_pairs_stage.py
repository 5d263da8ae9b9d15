"""The pairs stage end to end on crafted judgements: records, counts, manifests, resume, the command,
and that the outputs load with ``datasets`` and train in TRL as they are."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from stage1kit.manifest import load_manifest, schema_problems, verify_manifest
from stage1kit.prompting import training_prompt
from stage1kit.records import read_records
from stage1kit.settings import CriticSettings
from stage1kit.stages.base import StageInputError
from stage1kit.stages.catalogue import run_stage
from stage1kit.stages.evaluate import EvaluateSettings
from stage1kit.stages.pairs import PairsSettings
from tests.data.crafted import TOPICS, judged_run

CLEAN = {"clean": True, "findings": 0, "files_checked": 1, "paths": [], "modules": ["stage1kit_negatives"]}


def run(run_dir, registry, loaded, **settings):
    return run_stage(
        "pairs", PairsSettings(**settings), run_dir=run_dir, loaded=loaded, registry=registry, audit=CLEAN,
        critic=CriticSettings("wordcount"), evaluate=EvaluateSettings(heldout=0),
    )


def critic_calls():
    # stage1kit: allow[SK300] reason: reads a counter from the test critic module installed as a temporary distribution
    return sys.modules["wordcount_critic"].CALLS


def test_pairs_stage_writes_sft_and_dpo_with_passing_manifests(tmp_path, registry, loaded):
    run_dir = judged_run(tmp_path / "run", pivot=True)
    critic_calls().clear()
    outcome = run(run_dir, registry, loaded, sft_reference_answer=DECISIVE_REFERENCE)
    assert outcome.verdict == "pass"
    sft, dpo = read_records(run_dir.dataset("sft")), read_records(run_dir.dataset("dpo"))
    # The quality bar is absolute: the word-count critic prefers the five-word reference to the
    # one-word "HELLO" (in both orders), so that instruction gets no SFT record.
    assert [r["instruction_id"] for r in sft] == [f"ins{i}" for i in range(len(TOPICS)) if i != 4]
    assert outcome.stats["sft"]["dropped"] == {"below-quality-bar": 1}
    assert all(r["quality"] > 0.5 and r["quality_margin"] > 0 for r in sft)
    assert sft[0]["prompt"] == training_prompt(TOPICS[0][0]) and sft[0]["completion"] == " " + TOPICS[0][1][0]
    # pivot judgements hold no best-vs-other comparison: strategy pairs and negatives go to the critic together
    assert len(critic_calls()) == 1 and critic_calls()[0] == outcome.stats["dpo"]["critic_queries"] + len(TOPICS)
    assert outcome.stats["sft"]["quality_undecided"] == 0
    sources = {r["source"] for r in dpo}
    assert sources == {"strategy", "negative"}
    for record in dpo:
        assert set(record) >= {"id", "prompt", "chosen", "rejected", "margin", "confidence", "orders_agree", "negative_type", "strategy", "provenance"}
        assert record["margin"] > 0 and record["orders_agree"] is True
        assert (record["negative_type"] is None) == (record["source"] == "strategy")
    assert len({r["id"] for r in dpo}) == len(dpo)
    for kind in ("sft", "dpo"):
        manifest = load_manifest(run_dir.manifest(kind))
        assert schema_problems(manifest) == [] and verify_manifest(run_dir.manifest(kind)) == []
        assert manifest["verdict"]["status"] == "pass" and manifest["contamination"]["clean"]
        assert manifest["inputs"][0]["path"] == "judgements.jsonl"
        assert manifest["model"]["chat_template"]["state"] == "disabled"
        assert {"critic", "truncated", "off-topic"} <= set(manifest["plugins"])


#: a reference the word-count critic decides against for every best answer (it calls lengths within
#: two words order-dependent): five words
DECISIVE_REFERENCE = "I really do not know."


def test_a_quality_bar_that_cannot_decide_does_not_decide(tmp_path, registry, loaded):
    # "HELLO" against the default reference "I don't know.": lengths within two words, so the
    # critic's verdict flips with the order -- undecided, kept (and counted), not dropped by a coin flip
    run_dir = judged_run(tmp_path / "run")
    qc = run(run_dir, registry, loaded, miners=[]).stats["sft"]
    sft = read_records(run_dir.dataset("sft"))
    assert [r["instruction_id"] for r in sft] == [f"ins{i}" for i in range(len(TOPICS))]
    assert qc["dropped"] == {} and qc["quality_undecided"] == qc["quality_undecided_kept"] == 1
    assert [r["instruction_id"] for r in sft if not r["quality_decided"]] == ["ins4"]
    dropping = judged_run(tmp_path / "drop")
    qc = run(dropping, registry, loaded, miners=[], sft_undecided="drop").stats["sft"]
    assert qc["dropped"] == {"quality-undecided": 1} and qc["quality_undecided"] == 1 and qc["quality_undecided_kept"] == 0


def test_every_drop_is_counted(tmp_path, registry, loaded):
    run_dir = judged_run(tmp_path / "run", pivot=True)
    qc = run(run_dir, registry, loaded, max_negatives_per_instruction=7).stats["dpo"]
    assert qc["pairs_considered"] == qc["records"] + sum(v for k, v in qc["dropped"].items() if not k.startswith("over-"))
    # the word-count critic prefers longer answers: a repetition loop beats the chosen answer
    assert qc["negatives"]["beat_chosen"].get("repetition", 0) > 0
    assert qc["dropped"]["negative-beat-chosen"] == sum(qc["negatives"]["beat_chosen"].values())
    assert qc["dropped"]["orders-disagree"] > 0
    assert sum(qc["negative_type_histogram"].values()) == qc["records"]
    assert qc["margin"]["min"] > 0 and qc["margin"]["min"] <= qc["margin"]["p50"] <= qc["margin"]["max"]
    assert 0 < qc["order_agreement_rate"] < 1


def test_recorded_comparisons_are_reused_and_margins_filter(tmp_path, registry, loaded):
    run_dir = judged_run(tmp_path / "run")  # full round-robin: every strategy pair is already judged
    critic_calls().clear()
    qc = run(run_dir, registry, loaded, miners=[], strategy="all", min_margin=2.0).stats["dpo"]
    # one call, holding only the SFT quality-bar checks (one per instruction): no DPO pair was re-asked
    assert critic_calls() == [len(TOPICS)] and qc["critic_queries"] == 0
    dpo = read_records(run_dir.dataset("dpo"))
    assert {r["strategy"] for r in dpo} == {"all"} and all(r["margin"] >= 2.0 for r in dpo)
    assert all(r["provenance"]["preference_from"] == "judgement" for r in dpo)
    # margins 4*(0.9-0.6)=1.2 fall below 2.0: (0.9 vs 0.35)=2.2 and (0.9 vs 0.15)=3.0 stay
    assert qc["records"] == 2 * len(TOPICS) and qc["dropped"] == {"below-margin": len(TOPICS)}


@pytest.mark.parametrize("strategy, rejected", [("worst", 3), ("mu-2sigma", 3), ("all", None)])
def test_strategies_pick_the_rejected_candidates(tmp_path, registry, loaded, strategy, rejected):
    run_dir = judged_run(tmp_path / "run", count=2)
    run(run_dir, registry, loaded, miners=[], strategy=strategy)
    dpo = read_records(run_dir.dataset("dpo"))
    if rejected is None:
        assert len(dpo) == 2 * 3
    else:
        assert [r["rejected"] for r in dpo] == [" " + TOPICS[i][1][rejected] for i in range(2)]


def test_quality_bar_truncation_and_duplicates(tmp_path, registry, loaded):
    from stage1kit.records import write_records_atomic
    from tests.data.crafted import judgement

    run_dir = judged_run(tmp_path / "run")
    records = [judgement(0), judgement(0) | {"id": "dup", "instruction_id": "dup"}, judgement(1, truncated_best=True), judgement(4)]
    write_records_atomic(run_dir.dataset("judgements"), records)
    outcome = run(
        run_dir, registry, loaded, miners=["truncated"], sft_thresholds={"min_acceptance_rate": 0.5}, sft_reference_answer=DECISIVE_REFERENCE
    )
    sft_qc, dpo_qc = outcome.stats["sft"], outcome.stats["dpo"]
    assert sft_qc["records"] == 1 and sft_qc["dropped"] == {"below-quality-bar": 1, "best-truncated": 1, "duplicate": 1}
    assert dpo_qc["dropped"]["duplicate"] >= 3 and dpo_qc["dropped"]["best-truncated"] == 1
    assert outcome.verdict == "fail" and outcome.stats["verdicts"]["sft"] == "fail"
    assert "acceptance_rate = 0.25 is below" in load_manifest(run_dir.manifest("sft"))["verdict"]["reasons"][0]


def test_same_seed_same_output_and_up_to_date_runs_are_skipped(tmp_path, registry, loaded):
    first = judged_run(tmp_path / "a", pivot=True)
    second = judged_run(tmp_path / "b", pivot=True)
    run(first, registry, loaded, seed=3)
    run(second, registry, loaded, seed=3)
    assert first.dataset("dpo").read_bytes() == second.dataset("dpo").read_bytes()
    again = run(first, registry, loaded, seed=3)
    assert again.skipped and again.verdict == "pass"
    assert not run(first, registry, loaded, seed=4).skipped


def test_bad_judgements_name_the_record_and_keep_earlier_output(tmp_path, registry, loaded):
    run_dir = judged_run(tmp_path / "run")
    run(run_dir, registry, loaded)
    before = run_dir.dataset("dpo").read_bytes()
    lines = run_dir.dataset("judgements").read_text().splitlines()
    bad = json.loads(lines[3]) | {"best_index": 9}
    run_dir.dataset("judgements").write_text("\n".join(lines[:3] + [json.dumps(bad)] + lines[4:]) + "\n")
    with pytest.raises(StageInputError, match=r"record 4 \(id 'jud_ins3'\): field 'best_index' = 9"):
        run(run_dir, registry, loaded)
    assert run_dir.dataset("dpo").read_bytes() == before


def test_unknown_miner_is_a_clear_error(tmp_path, registry, loaded):
    from stage1kit.plugins import UnknownPluginError

    with pytest.raises(UnknownPluginError, match="no negative miner named 'nope'; available: .*truncated"):
        run(judged_run(tmp_path / "run"), registry, loaded, miners=["nope"])


def test_pairs_command_audits_loads_and_summarises(tmp_path, tiny_model, critic_dist, monkeypatch):
    from stage1kit.commands.stages import pairs_command
    from stage1kit.plugins import reset_registry

    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", f"stage1kit,{critic_dist}")
    reset_registry()
    run_dir = judged_run(tmp_path / "run", pivot=True)
    user_code = tmp_path / "mine.py"
    user_code.write_text("x = 1\n")
    args = ["--run-dir", str(run_dir.root), "--model", str(tiny_model), "--critic", "wordcount", "--strategy", "worst",
            "--miners", "truncated,off-topic", "--min-margin", "0.5", "--seed", "1", "--user-code", str(user_code), "--quiet"]
    result = CliRunner().invoke(pairs_command, args)
    reset_registry()
    assert result.exit_code == 0, result.output
    assert "stage1kit pairs" in result.output and "order agreement" in result.output
    manifest = load_manifest(run_dir.manifest("dpo"))
    assert manifest["audit"]["clean"] and str(user_code) in manifest["audit"]["paths"]
    assert {"stage1kit_negatives", "wordcount_critic"} <= set(manifest["audit"]["modules"])
    assert set(manifest["qc"]["negatives"]["mined"]) == {"truncated", "off-topic"}
    assert manifest["config"]["settings"]["strategy"] == "worst"


def test_pairs_command_refuses_code_that_fails_the_audit_before_loading(tmp_path, critic_dist, monkeypatch):
    from stage1kit.commands.stages import pairs_command
    from stage1kit.plugins import reset_registry

    monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", f"stage1kit,{critic_dist}")
    reset_registry()
    bad = tmp_path / "bad.py"
    bad.write_text("from transformers import AutoTokenizer\ntok = AutoTokenizer.from_pretrained('gpt2')\n")
    run_dir = judged_run(tmp_path / "run")
    result = CliRunner().invoke(pairs_command, ["--run-dir", str(run_dir.root), "--model", str(tmp_path / "absent"),
                                                "--critic", "wordcount", "--user-code", str(bad)])
    reset_registry()
    assert result.exit_code == 1 and "audit gate before stage 'pairs'" in result.output
    assert not run_dir.dataset("dpo").exists()


@pytest.mark.slow
def test_outputs_load_with_datasets_and_train_one_step_in_trl(tmp_path, registry, loaded, tiny_model):
    import datasets
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    from stage1kit.loader import CleanModelLoader

    run_dir = judged_run(tmp_path / "run", pivot=True)
    run(run_dir, registry, loaded)
    sft = datasets.load_dataset("json", data_files=str(run_dir.dataset("sft")), split="train")
    dpo = datasets.load_dataset("json", data_files=str(run_dir.dataset("dpo")), split="train")
    assert {"prompt", "completion"} <= set(sft.column_names) and {"prompt", "chosen", "rejected"} <= set(dpo.column_names)
    common = {"max_steps": 1, "report_to": [], "per_device_train_batch_size": 2, "use_cpu": True, "bf16": False,
              "save_strategy": "no", "disable_tqdm": True, "max_length": 256}
    fresh = CleanModelLoader(tiny_model, trainable=True).load()
    SFTTrainer(model=fresh.model, args=SFTConfig(output_dir=str(tmp_path / "sft"), **common), train_dataset=sft,
               processing_class=fresh.tokenizer).train()
    fresh = CleanModelLoader(tiny_model, trainable=True).load()
    result = DPOTrainer(model=fresh.model, args=DPOConfig(output_dir=str(tmp_path / "dpo"), **common), train_dataset=dpo,
                        processing_class=fresh.tokenizer).train()
    assert result.global_step == 1
