"""Exact accuracy: the statistics with hand-computed numbers, the critic-vs-verifier figures, and
the evaluate stage measuring base, SFT and DPO on reference questions nobody trained on."""

from __future__ import annotations

import json

import pytest

from eval_helpers import ScriptedCritic, make_registry, verdict
from stage1kit.plugins import UnknownPluginError
from stage1kit.prompting import training_prompt
from stage1kit.protocols import Verification
from stage1kit.records import write_records_atomic
from stage1kit.rundir import RunDir
from stage1kit.settings import CriticSettings
from stage1kit.stages.catalogue import run_stage
from stage1kit.stages.evaluate import EvaluateSettings
from stage1kit_eval.accuracy import accuracy_summary, critic_agreement, mcnemar_exact, paired_comparison


def test_exact_mcnemar_matches_the_binomial_tail():
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


def test_accuracy_and_paired_comparison_count_the_same_items():
    base = [False, False, True, True, False]
    dpo = [True, True, True, False, False]
    assert accuracy_summary(base)["accuracy"] == pytest.approx(0.4)
    low, high = accuracy_summary(dpo)["ci95"]
    assert 0 < low < 0.6 < high < 1
    paired = paired_comparison("base", "dpo", base, dpo)
    assert (paired["gained"], paired["lost"], paired["delta"]) == (2, 1, pytest.approx(0.2))
    assert paired["p_value"] == pytest.approx(1.0)


class TableVerifier:
    """Correct when the answer equals the table's entry; knows its questions."""

    def __init__(self, table: dict[str, str]):
        self.table = table

    def verify(self, instruction: str, answer: str) -> Verification:
        expected = self.table.get(instruction)
        if expected is None:
            return Verification(False, 0.0, known=False)
        return Verification(answer.strip() == expected, float(answer.strip() == expected), expected)

    def questions(self) -> list[str]:
        return list(self.table)

    def describe(self) -> dict:
        return {"name": "table"}


def test_critic_agreement_counts_pairs_with_one_correct_answer():
    verifier = TableVerifier({"q1": "a", "q2": "b"})
    judgements = [
        # q1: the critic prefers the correct candidate 0 over 1; 1 vs 2 are both wrong (not counted)
        {"instruction": "q1", "candidates": ["a", "x", "y"], "best_index": 0,
         "comparisons": [{"a": 0, "b": 1, "margin": 1.2}, {"a": 1, "b": 2, "margin": 0.3}, {"a": 2, "b": 0, "margin": -0.5}]},
        # q2: it prefers the wrong one and picks it
        {"instruction": "q2", "candidates": ["b", "z"], "best_index": 1, "comparisons": [{"a": 0, "b": 1, "margin": -0.4}]},
        {"instruction": "unknown", "candidates": ["?"], "best_index": 0, "comparisons": []},
    ]
    c = critic_agreement(judgements, verifier)
    assert (c["judged_instructions"], c["mixed_pairs"]) == (2, 3)
    assert c["prefers_correct"] == pytest.approx(2 / 3)
    assert c["best_pick_accuracy"] == pytest.approx(0.5)
    assert c["candidate_accuracy"] == pytest.approx(2 / 5)


QUESTIONS = [f"What is item {i}?" for i in range(8)]


@pytest.fixture
def run(tmp_path) -> RunDir:
    run = RunDir.at(tmp_path / "run")
    # Questions 0 and 1 are trained on (one by SFT, one by DPO): they must not be evaluated.
    write_records_atomic(run.dataset("sft"), [{"id": "s0", "instruction_id": "i0", "prompt": training_prompt(QUESTIONS[0]), "completion": " x"}])
    write_records_atomic(run.dataset("dpo"), [{"id": "d1", "prompt": training_prompt(QUESTIONS[1]), "chosen": " x", "rejected": " y"}])
    write_records_atomic(run.dataset("instructions"), [{"id": f"i{i}", "instruction": q} for i, q in enumerate(QUESTIONS)])
    return run


def test_stage_measures_every_model_on_untrained_reference_questions(run, base_model, other_model):
    answers = {}

    class Recording(TableVerifier):
        def verify(self, instruction, answer):
            answers.setdefault(instruction, []).append(answer)
            return Verification(len(answer) % 2 == 0, 0.0, "even length")

    registry = make_registry(ScriptedCritic(lambda q: verdict(0.7)), {"table": lambda: Recording({q: "" for q in QUESTIONS})})
    settings = EvaluateSettings(
        evaluators=["accuracy"], verifier="table", accuracy_heldout=5, max_new_tokens=4, seed=3,
    )
    outcome = run_stage(
        "evaluate", settings, run_dir=run, loaded=base_model, trained=other_model,
        registry=registry, audit={"clean": True}, critic=CriticSettings("scripted"),
    )
    report = json.loads((run.eval_dir / "report.json").read_text())
    section = report["evaluators"]["accuracy"]
    asked = {item["instruction"] for item in section["items"]}
    assert len(asked) == 5 and not asked & {QUESTIONS[0], QUESTIONS[1]}
    assert section["decoding"] == "greedy" and section["source"].startswith("the verifier's reference questions")
    assert list(section["models"]) == ["base", "dpo"]  # no train-sft/ in this run
    assert [(p["from"], p["to"]) for p in section["paired"]] == [("base", "dpo")]
    for model in ("base", "dpo"):
        expected = sum(1 for item in section["items"] if len(item["answers"][model]) % 2 == 0)
        assert section["models"][model]["correct"] == expected
    markdown = (run.eval_dir / "report.md").read_text()
    assert "## Exact accuracy" in markdown and "exact McNemar" in markdown and "accuracy.png" in markdown
    assert (run.eval_dir / "accuracy.png").is_file()
    assert outcome.stats["accuracy"]["accuracy"].keys() == {"base", "dpo"}
    assert outcome.stats["exact_accuracy"].startswith("base ")


def test_an_unknown_verifier_fails_before_any_model_answers(run, base_model):
    registry = make_registry(ScriptedCritic())
    with pytest.raises(UnknownPluginError, match="no verifier named 'nope'"):
        run_stage(
            "evaluate", EvaluateSettings(evaluators=["accuracy"], verifier="nope"), run_dir=run, loaded=base_model,
            registry=registry, audit={"clean": True}, critic=CriticSettings("scripted"),
        )


def test_config_check_reads_a_relative_reference_from_beside_the_config(tmp_path):
    from stage1kit.config import config_problems, load_config
    from stage1kit_verifiers.exact import ExactMatchVerifier

    (tmp_path / "stage1kit.toml").write_text(
        '[model]\nid = "some/model"\n[evaluate]\nverifier = "exact-match"\nverifier_settings = { reference = "answers.jsonl" }\n',
        encoding="utf-8",
    )
    registry = make_registry(ScriptedCritic(), {"exact-match": ExactMatchVerifier})
    config = load_config(tmp_path / "stage1kit.toml")
    problems = [p for p in config_problems(config, registry) if "verifier" in p]
    assert len(problems) == 1 and "[evaluate] verifier_settings" in problems[0] and str(tmp_path / "answers.jsonl") in problems[0]
    (tmp_path / "answers.jsonl").write_text('{"instruction": "q", "answer": "a"}\n', encoding="utf-8")
    assert not [p for p in config_problems(config, registry) if "verifier" in p]
