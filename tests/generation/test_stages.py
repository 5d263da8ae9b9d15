"""The three data stages on a run directory: records, manifests, resume after a crash."""

from __future__ import annotations

import json

import pytest

from stage1kit.records import RecordWriter, read_records
from stage1kit.rundir import RunDir
from stage1kit.stages.catalogue import run_stage
from stage1kit.stages.instructions import InstructionsSettings
from stage1kit.stages.judge import JudgeSettings
from stage1kit.stages.responses import ResponsesSettings
from stage1kit.stages.base import StageInputError, staging_path

from gen_helpers import FAST_INSTRUCTIONS, FAST_RESPONSES

AUDIT = {"clean": True, "findings": 0, "files_checked": 0, "paths": [], "modules": []}


def _instructions(run, model, registry, target=3):
    settings = InstructionsSettings(target=target, generator_settings=dict(FAST_INSTRUCTIONS))
    return run_stage("instructions", settings, run_dir=run, loaded=model, registry=registry, audit=AUDIT)


def _responses(run, model, registry, k=2):
    settings = ResponsesSettings(k=k, generator_settings=dict(FAST_RESPONSES))
    return run_stage("responses", settings, run_dir=run, loaded=model, registry=registry, audit=AUDIT)


def test_instructions_responses_judge_in_a_run_directory(tmp_path, talking_model, registry):
    run = RunDir.at(tmp_path)
    outcomes = [
        _instructions(run, talking_model, registry),
        _responses(run, talking_model, registry, k=3),
        run_stage("judge", JudgeSettings(), run_dir=run, loaded=talking_model, registry=registry, audit=AUDIT),
    ]
    assert [o.verdict for o in outcomes] == ["pass", "pass", "pass"]
    assert outcomes[0].stats["accepted"] == 3 and outcomes[0].stats["target_reached"]
    assert outcomes[1].stats["candidates"] == 9
    assert outcomes[2].stats["comparisons"] == 9  # 3 pairs per instruction, each judged in both orders
    for stage in ("instructions", "responses", "judgements"):
        manifest = json.loads(run.manifest(stage).read_text())
        assert manifest["verdict"]["status"] == "pass" and manifest["audit"] == AUDIT
    [judgement, *_] = read_records(run.dataset("judgements"))
    assert judgement["scheme"] == "round-robin" and 0 <= judgement["best_index"] < 3
    assert all(0.0 <= s <= 1.0 for s in judgement["scores"])
    assert {"a", "b", "margin", "prob_a", "confidence", "orders_agree"} == set(judgement["comparisons"][0])
    assert judgement["provenance"]["plugin"] == "logprob"


def test_instructions_resume_after_a_torn_write(tmp_path, talking_model, registry):
    run = RunDir.at(tmp_path)
    _instructions(run, talking_model, registry, target=3)
    path = run.dataset("instructions")
    lines = path.read_text().splitlines(keepends=True)
    # a run killed half-way through record 2: its records are still in the staging file
    staging_path(path).write_text(lines[0] + lines[1][: len(lines[1]) // 2])
    path.unlink()
    run.manifest("instructions").unlink()
    outcome = _instructions(run, talking_model, registry, target=3)
    records = read_records(path)
    assert len(records) == 3 and len({r["id"] for r in records}) == 3
    assert records[0] == json.loads(lines[0])
    assert outcome.stats["resumed_records"] == 1


class PowerCut(RecordWriter):
    """Writes two records, then the machine goes down."""

    def write(self, record):
        if self.written == 2:
            raise KeyboardInterrupt("power cut")
        super().write(record)


def test_responses_resume_after_a_crash(tmp_path, talking_model, registry, monkeypatch):
    run = RunDir.at(tmp_path)
    _instructions(run, talking_model, registry, target=4)
    monkeypatch.setattr("stage1kit.records.RecordWriter", PowerCut)
    with pytest.raises(KeyboardInterrupt):
        _responses(run, talking_model, registry)
    before = read_records(staging_path(run.dataset("responses")))
    assert len(before) == 2 and not run.dataset("responses").exists() and not run.manifest("responses").exists()
    monkeypatch.undo()
    outcome = _responses(run, talking_model, registry)
    after = read_records(run.dataset("responses"))
    assert after[:2] == before
    assert sorted(r["instruction_id"] for r in after) == sorted(r["id"] for r in read_records(run.dataset("instructions")))
    assert outcome.records_out == 4 and outcome.stats["instructions"] == 4


def test_a_missing_input_names_the_command_to_run(tmp_path, talking_model, registry):
    with pytest.raises(StageInputError, match="run `stage1kit instructions` first"):
        _responses(RunDir.at(tmp_path), talking_model, registry)


def test_a_response_generator_is_no_instruction_generator(tmp_path, talking_model, registry):
    """The two generator kinds are registered apart, so naming the wrong one is an unknown name."""
    from stage1kit.plugins import UnknownPluginError

    settings = InstructionsSettings(generator="best-of-n", target=1)
    with pytest.raises(UnknownPluginError, match="no instruction generator named 'best-of-n'; available: self-instruct"):
        run_stage("instructions", settings, run_dir=RunDir.at(tmp_path), loaded=talking_model, registry=registry, audit=AUDIT)


def test_one_prompt_format_from_sampling_to_training_and_evaluation(tmp_path, talking_model, registry, monkeypatch):
    """A custom [prompt]: the prompt the answers were sampled under ends in exactly the string the
    judge records, the SFT/DPO records and heldout.jsonl train and hold, and evaluators ask."""
    import stage1kit_hf.best_of_n as best_of_n

    from stage1kit.prompting import PromptFormat
    from stage1kit.settings import PromptSettings
    from stage1kit.stages.evaluate import EvaluateSettings
    from stage1kit.stages.pairs import PairsSettings

    assert PromptFormat.from_settings(PromptSettings(template="### Task\n{instruction}\n### Response:")).stop == ("\n### Task",)
    # answers of the barely-trained model end at a space (not at the token limit), so some are trained on
    prompt = PromptSettings(template="### Task\n{instruction}\n### Response:", separator="\n", stop=["\n### Task", " "])
    fmt = PromptFormat.from_settings(prompt)
    sampled = []

    def recording_sample(model, prompts, sampling, **kwargs):
        sampled.extend((p, sampling.stop) for p in prompts)
        return real_sample(model, prompts, sampling, **kwargs)

    real_sample = best_of_n.sample
    monkeypatch.setattr(best_of_n, "sample", recording_sample)
    run = RunDir.at(tmp_path)
    common = {"run_dir": run, "loaded": talking_model, "registry": registry, "audit": AUDIT, "prompt": prompt}
    _instructions(run, talking_model, registry, target=4)
    run_stage("responses", ResponsesSettings(k=3, generator_settings=dict(FAST_RESPONSES)), **common)
    run_stage("judge", JudgeSettings(), **common)
    pairs = run_stage("pairs", PairsSettings(miners=[], min_sft_score=0.0), evaluate=EvaluateSettings(heldout=1), **common)

    judged = {j["instruction"]: j for j in read_records(run.dataset("judgements"))}
    by_prompt = {fmt.prompt(i): j for i, j in judged.items()}
    for text, stop in sampled:
        assert stop == fmt.stop and any(text.endswith(p) for p in by_prompt)
    assert all(j["prompt"] == fmt.prompt(i) for i, j in judged.items())
    sft, dpo, heldout = (read_records(p) for p in (run.dataset("sft"), run.dataset("dpo"), run.heldout))
    assert sft and heldout, pairs.stats["sft"]["dropped"]
    for row in sft + heldout:
        judgement = by_prompt[row["prompt"]]  # what the judge ranked is what is trained and held out
        assert row["completion"] == fmt.completion(judgement["candidates"][judgement["best_index"]])
        assert row["completion"].startswith("\n") and not row["prompt"].startswith("Query:")
    assert all(r["prompt"] in by_prompt and r["chosen"].startswith("\n") for r in dpo)
    # the evaluate stage and its evaluators ask what ctx.prompt_format() gives: the same strings
    from pathlib import Path

    from stage1kit.config import default_config
    from stage1kit.protocols import EvalContext
    from stage1kit.stages.base import StageContext

    ctx = StageContext(default_config(Path("stage1kit.toml"), prompt=prompt), registry, models=None)
    asked = EvalContext(None, None, None, [], [], run.root, prompt_format=ctx.prompt_format())
    assert {asked.prompt_format.prompt(i) for i in judged} == set(by_prompt) >= {r["prompt"] for r in sft + heldout}
    assert asked.prompt_format.stop == fmt.stop


def test_a_changed_prompt_format_reruns_the_stages_that_use_it(tmp_path, talking_model, registry):
    from stage1kit.settings import PromptSettings

    run = RunDir.at(tmp_path)
    _instructions(run, talking_model, registry, target=2)
    settings = ResponsesSettings(k=2, generator_settings=dict(FAST_RESPONSES))
    common = {"run_dir": run, "loaded": talking_model, "registry": registry, "audit": AUDIT}
    assert not run_stage("responses", settings, **common).skipped
    assert run_stage("responses", settings, **common).skipped
    assert not run_stage("responses", settings, prompt=PromptSettings(template="Q: {instruction}\nA:"), **common).skipped
    assert read_records(run.dataset("responses"))[0]["prompt"].startswith("Q: ")


def test_an_unreachable_target_is_a_warning_in_the_manifest_and_the_run_summary(tmp_path, talking_model, registry, capsys):
    from stage1kit.commands.pipeline import _print_summary

    run = RunDir.at(tmp_path)
    settings = InstructionsSettings(target=40, generator_settings=dict(FAST_INSTRUCTIONS, max_rounds=1))
    outcome = run_stage("instructions", settings, run_dir=run, loaded=talking_model, registry=registry, audit=AUDIT)
    assert outcome.verdict == "pass" and not outcome.stats["target_reached"] and outcome.stats["target_fraction"] < 1
    [warning] = outcome.warnings
    assert warning.startswith(f"target not reached: {outcome.stats['accepted']} of 40 instructions accepted")
    assert json.loads(run.manifest("instructions").read_text())["warnings"] == [warning]
    _print_summary([outcome], run.root, 1.0)
    assert "warning (instructions): target not reached" in " ".join(capsys.readouterr().out.split())
    # a skipped (up-to-date) stage says it again, from its manifest
    again = run_stage("instructions", settings, run_dir=run, loaded=talking_model, registry=registry, audit=AUDIT)
    assert again.skipped and again.warnings == [warning]
    # and a run that must reach its target says so in its thresholds
    strict = InstructionsSettings(target=40, generator_settings=dict(FAST_INSTRUCTIONS, max_rounds=1), thresholds={"min_target_fraction": 1.0})
    failed = run_stage("instructions", strict, run_dir=RunDir.at(tmp_path / "strict"), loaded=talking_model, registry=registry, audit=AUDIT)
    assert failed.verdict == "fail" and "target_fraction" in failed.failures[0]
