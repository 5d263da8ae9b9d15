"""The evaluate stage on a crafted run directory: held-out selection, evaluators, report, failures."""

from __future__ import annotations

import json

import pytest

from eval_helpers import ScriptedCritic, make_registry, verdict
from stage1kit.prompting import training_completion, training_prompt
from stage1kit.records import write_records_atomic
from stage1kit.rundir import RunDir
from stage1kit.settings import CriticSettings
from stage1kit.stages.catalogue import run_stage
from stage1kit.stages.evaluate import EvaluateError, EvaluateSettings

QUESTIONS = [
    f"Question number {i}: name a thing that is {c}."
    for i, c in enumerate(["red", "blue", "cold", "hot", "big", "small"])
]


@pytest.fixture
def run(tmp_path) -> RunDir:
    run = RunDir.at(tmp_path / "run")
    write_records_atomic(
        run.dataset("instructions"), [{"id": f"i{i}", "instruction": q} for i, q in enumerate(QUESTIONS)]
    )
    write_records_atomic(
        run.dataset("sft"),
        [
            {
                "id": f"s{i}",
                "instruction_id": f"i{i}",
                "prompt": training_prompt(QUESTIONS[i]),
                "completion": " A thing.",
            }
            for i in (0, 1)
        ],
    )
    write_records_atomic(
        run.dataset("judgements"),
        [
            {
                "id": f"j{i}",
                "instruction_id": f"i{i}",
                "instruction": QUESTIONS[i],
                "candidates": ["bad", f"answer {i}"],
                "best_index": 1,
            }
            for i in range(2, 6)
        ],
    )
    return run


def _settings(**overrides) -> EvaluateSettings:
    values = {
        "heldout": 3,
        "max_new_tokens": 6,
        "evaluator_settings": {"win-rate": {"temperature": 1.0}},
    }
    return EvaluateSettings(**{**values, **overrides})


def test_stage_falls_back_to_unused_instructions_and_writes_the_report(run, base_model, other_model):
    critic = ScriptedCritic(lambda q: verdict(0.8))
    outcome = run_stage(
        "evaluate", _settings(), run_dir=run, loaded=base_model, trained=other_model,
        registry=make_registry(critic), audit={"clean": True}, critic=CriticSettings("scripted"),
    )
    report = json.loads((run.eval_dir / "report.json").read_text())
    # The last 3 instructions no SFT record uses; their targets are the judge's best candidates.
    assert [q.instruction for q in critic.calls[0][1]] == QUESTIONS[3:]
    assert report["heldout"]["source"] == "instructions.jsonl (fallback)"
    assert any("heldout.jsonl not found" in note for note in report["heldout"]["notes"])
    assert [item["id"] for item in report["evaluators"]["heldout-likelihood"]["items"]] == ["i3", "i4", "i5"]
    assert report["evaluators"]["win-rate"]["wins"] == 3
    assert report["evaluators"]["win-rate"]["settings"]["max_new_tokens"] == 6  # the shared setting reached it
    assert report["audit"] == {"clean": True}
    assert "heldout.jsonl not found" in (run.eval_dir / "report.md").read_text()
    assert outcome.stage == "evaluate" and outcome.records_in == 3 and outcome.records_out == 3
    # No verifier configured: exact accuracy is listed as missing, with what to set.
    assert "accuracy" in report["evaluators"] and "[evaluate] verifier" in report["evaluators"]["accuracy"]["missing"]
    assert outcome.stats["win-rate"]["win_rate"] == 1.0
    assert all(path.exists() for path in outcome.outputs)


def test_heldout_rows_that_sft_trains_on_are_dropped(run, base_model, base_twin):
    rows = [
        {"id": "i1", "instruction": QUESTIONS[1]},  # in sft.jsonl: must not be evaluated
        {
            "id": "h9",
            "instruction": "Name a fruit.",
            "prompt": training_prompt("Name a fruit."),
            "completion": training_completion("An apple."),
        },
    ]
    write_records_atomic(run.heldout, rows)
    run_stage(
        "evaluate", _settings(), run_dir=run, loaded=base_model, trained=base_twin,
        registry=make_registry(ScriptedCritic()), audit=None, critic=CriticSettings("scripted"),
    )
    report = json.loads((run.eval_dir / "report.json").read_text())
    assert report["heldout"]["instructions"] == 1 and report["heldout"]["source"] == "heldout.jsonl"
    assert any("dropped 1 held-out instructions that sft.jsonl trains on" in n for n in report["heldout"]["notes"])
    likelihood = report["evaluators"]["heldout-likelihood"]
    assert [i["id"] for i in likelihood["items"]] == ["h9"]
    assert likelihood["delta_mean_token_logprob"] == pytest.approx(0.0, abs=1e-6)


def test_a_failing_evaluator_stops_the_stage_after_writing_the_others(run, base_model):
    settings = _settings(evaluator_settings={"heldout-likelihood": {"batch_size": 0}})
    with pytest.raises(EvaluateError, match="heldout-likelihood.*batch_size"):
        run_stage(
            "evaluate", settings, run_dir=run, loaded=base_model, trained=base_model,
            registry=make_registry(ScriptedCritic()), audit=None, critic=CriticSettings("scripted"),
        )
    report = json.loads((run.eval_dir / "report.json").read_text())
    assert "batch_size" in report["evaluators"]["heldout-likelihood"]["error"]
    assert report["evaluators"]["win-rate"]["n"] == 3
