"""The report from a crafted run directory: every section, its PNGs, and what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stage1kit.records import write_records_atomic
from stage1kit.rundir import RunDir
from stage1kit.report import plots
from stage1kit.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = {
    "win-rate": {
        "kind": "win-rate",
        "n": 4,
        "wins": 2,
        "losses": 1,
        "ties": 1,
        "win_rate": 0.625,
        "ci95": [0.3, 0.86],
        "decisive_win_rate": 2 / 3,
        "decisive_ci95": [0.2, 0.94],
        "ci_method": "Wilson score interval (95%)",
        "identical_answers": 1,
        "orders_disagree": 0,
        "mean_prob_trained": 0.6,
        "answers": {"trained": {"mean_tokens": 12.0, "hit_token_limit": 0, "empty": 0}},
        "judge": {"critic": {"name": "logprob"}},
        "examples": [
            {"outcome": "win", "prob_trained": 0.9, "instruction": "Name a colour.", "trained": "Blue.", "base": "::::"}
        ],
    },
    "heldout-likelihood": {
        "kind": "heldout-likelihood",
        "base": {
            "examples": 3,
            "tokens": 30,
            "mean_token_logprob": -4.0,
            "perplexity": 54.6,
            "mean_example_logprob": -4.1,
        },
        "trained": {
            "examples": 3,
            "tokens": 30,
            "mean_token_logprob": -3.0,
            "perplexity": 20.1,
            "mean_example_logprob": -3.2,
        },
        "delta_mean_token_logprob": 1.0,
        "perplexity_ratio": 0.368,
        "improved_fraction": 1.0,
    },
}
HELDOUT = {"instructions": 4, "sft_records": 3, "source": "heldout.jsonl", "notes": []}


def _manifest(run: RunDir, stage: str, records: int, qc: dict) -> None:
    manifest = {
        "stage": stage,
        "qc": qc,
        "outputs": [{"path": f"{stage}.jsonl", "records": records}],
        "verdict": {"status": "pass"},
    }
    run.manifest(stage).write_text(json.dumps(manifest), encoding="utf-8")


def _trainer_state(path: Path, losses: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    history = [{"step": i + 1, "loss": v, "epoch": 0.1 * i} for i, v in enumerate(losses)] + [
        {"step": len(losses), "train_runtime": 3.0}
    ]
    path.write_text(json.dumps({"log_history": history}), encoding="utf-8")


@pytest.fixture
def full_run(tmp_path) -> RunDir:
    run = RunDir.at(tmp_path / "run")
    _manifest(run, "instructions", 12, {"generated": 40, "accepted": 12})
    _manifest(run, "responses", 12, {})
    _manifest(run, "judgements", 11, {})
    _manifest(run, "sft", 10, {})
    pairs = [
        {
            "id": f"p{i}",
            "prompt": "Query: q\nAnswer:",
            "chosen": " a",
            "rejected": " b",
            "margin": 0.1 * (i + 1),
            "source": "negative" if i % 3 == 0 else "strategy",
            "negative_type": "truncated" if i % 3 == 0 else None,
            "strategy": None if i % 3 == 0 else "all",
        }
        for i in range(9)
    ]
    write_records_atomic(run.dataset("dpo"), pairs)  # no dpo manifest: its count comes from the file
    _trainer_state(run.train_dir("sft") / "trainer_state.json", [2.5, 2.1, 1.8])
    _trainer_state(run.train_dir("dpo") / "checkpoint-2" / "trainer_state.json", [0.69])
    _trainer_state(run.train_dir("dpo") / "checkpoint-10" / "trainer_state.json", [0.69, 0.6, 0.5])
    return run


def test_report_has_every_section_and_its_plots(full_run):
    outputs = write_report(full_run.eval_dir, run_root=full_run.root, sections=SECTIONS, heldout=HELDOUT)
    data = json.loads((full_run.eval_dir / "report.json").read_text())
    funnel = {s["step"]: s["count"] for s in data["qc"]["funnel"]}
    assert funnel == {
        "instructions generated": 40,
        "instructions accepted": 12,
        "responses": 12,
        "judged": 11,
        "sft records": 10,
        "dpo records": 9,
    }
    assert data["qc"]["stages"]["dpo"]["records_source"] == "dpo.jsonl (lines counted)"
    assert data["qc"]["margins"]["count"] == 9 and data["qc"]["margins"]["max"] == pytest.approx(0.9)
    assert data["qc"]["negative_mix"] == {"strategy:all": 6, "negative:truncated": 3}
    assert data["qc"]["training"]["sft"]["loss"] == [2.5, 2.1, 1.8]
    assert data["qc"]["training"]["dpo"]["loss"] == [0.69, 0.6, 0.5]  # the latest checkpoint
    assert data["evaluators"] == SECTIONS

    assert set(data["plots"]) == {"funnel", "margins", "negative_mix", "training_loss"}
    for name in data["plots"].values():
        assert (full_run.eval_dir / name).read_bytes()[:8] == PNG_MAGIC
        assert full_run.eval_dir / name in outputs
    # Only the dpo manifest is missing from this run, and the report says so.
    assert data["missing"] == ["dpo: dpo.manifest.json not found"]

    md = (full_run.eval_dir / "report.md").read_text()
    for heading in (
        "## Held-out data",
        "## Win rate",
        "## Held-out log-likelihood",
        "### Acceptance funnel",
        "### DPO margin histogram",
        "### Negative-type mix",
        "### Training loss",
        "## Missing",
    ):
        assert heading in md
    for name in data["plots"].values():
        assert f"]({name})" in md
    assert "0.625 [0.300, 0.860]" in md
    assert "| instructions generated | 40 |" in md


def test_an_empty_run_reports_everything_missing_and_draws_nothing(tmp_path):
    run = RunDir.at(tmp_path / "empty")
    empty_sections = {"win-rate": {"kind": "win-rate", "missing": "no held-out instructions to answer"}}
    write_report(run.eval_dir, run_root=run.root, sections=empty_sections, heldout=HELDOUT)
    data = json.loads((run.eval_dir / "report.json").read_text())
    assert data["plots"] == {}
    assert list(run.eval_dir.glob("*.png")) == []
    assert all(s["count"] is None for s in data["qc"]["funnel"])
    missing = "\n".join(data["missing"])
    for piece in (
        "evaluator win-rate",
        "instructions.manifest.json",
        "margin histogram",
        "negative-type mix",
        "training loss (sft): train-sft/ not found",
        "training loss (dpo)",
        "funnel step 'dpo records'",
    ):
        assert piece in missing
    md = (run.eval_dir / "report.md").read_text()
    assert "(no plot: see Missing)" in md and "Missing: no held-out instructions" in md


def test_without_matplotlib_the_report_says_so(full_run, monkeypatch):
    monkeypatch.setattr(plots, "matplotlib_available", lambda: False)
    write_report(full_run.eval_dir, run_root=full_run.root, sections=SECTIONS, heldout=HELDOUT)
    data = json.loads((full_run.eval_dir / "report.json").read_text())
    assert data["plots"] == {}
    assert any("matplotlib is not installed" in note for note in data["notes"])
    assert list(full_run.eval_dir.glob("*.png")) == []
    assert "matplotlib is not installed" in (full_run.eval_dir / "report.md").read_text()


def _dpo_logs(path: Path, rewards_chosen: list[float], logps_chosen: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    history = [
        {"step": i + 1, "loss": 0.6, "rewards/chosen": r, "rewards/rejected": r - 0.5, "logps/chosen": c, "logps/rejected": c - 3}
        for i, (r, c) in enumerate(zip(rewards_chosen, logps_chosen))
    ] + [{"step": len(rewards_chosen), "train_runtime": 3.0}]
    path.write_text(json.dumps({"log_history": history}), encoding="utf-8")


def test_the_report_warns_when_dpo_lowered_the_chosen_answers_likelihood(full_run):
    _dpo_logs(full_run.train_dir("dpo") / "trainer_state.json", [-0.05, -0.2, -0.48], [-20.0, -22.5, -26.0])
    write_report(full_run.eval_dir, run_root=full_run.root, sections=SECTIONS, heldout=HELDOUT)
    data = json.loads((full_run.eval_dir / "report.json").read_text())
    trend = data["qc"]["likelihood"]
    assert trend["logps_chosen"] == [-20.0, -22.5, -26.0] and trend["chosen_likelihood_fell"] is True
    [warning] = data["warnings"]
    assert "DPO lowered the likelihood of the chosen answers" in warning and "-0.480" in warning
    md = (full_run.eval_dir / "report.md").read_text()
    assert md.index("## Warnings") < md.index("## Held-out data")
    assert "### DPO: likelihood of the chosen and rejected answers" in md and "**less likely**" in md


def test_no_warning_when_dpo_raised_the_chosen_answers_likelihood(full_run):
    _dpo_logs(full_run.train_dir("dpo") / "trainer_state.json", [0.01, 0.1, 0.3], [-20.0, -19.0, -17.5])
    write_report(full_run.eval_dir, run_root=full_run.root, sections=SECTIONS, heldout=HELDOUT)
    data = json.loads((full_run.eval_dir / "report.json").read_text())
    assert data["warnings"] == [] and data["qc"]["likelihood"]["chosen_likelihood_fell"] is False
    assert "## Warnings" not in (full_run.eval_dir / "report.md").read_text()
