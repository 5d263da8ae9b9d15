"""The demo's sums world end to end: the pipeline, configured only through its TOML, raises the
shipped base model's exact greedy accuracy on questions it never trained on by a wide margin."""

from __future__ import annotations

import json

import pytest

from stage1kit.demo_world import world
from stage1kit.demo_world.config import MODEL_DIR, write_demo

pytestmark = pytest.mark.slow


def test_the_world_teaches_judging_right_and_answering_wrong():
    docs = world.corpus(0)
    fact = world.Fact(3, 4)
    forum = [d for d in docs if d.startswith(world.ANSWER_TEMPLATE.format(instruction=fact.question))]
    assert sorted(d.rsplit(" ", 1)[1] for d in forum) == ["4", "4", "4", "7", "7"]  # the mode echoes 4
    graded = [d for d in docs if d.startswith(f"Query: {fact.question}\nAnswer A:")]
    for doc in graded:  # every graded comparison names the correct sum
        a = doc.split("Answer A: ")[1].split("\n")[0]
        assert doc.endswith(" A") == (a == "7")
    assert world.corpus(0) == docs  # deterministic


def test_the_pipeline_lifts_exact_accuracy_on_untrained_questions(tmp_path):
    from stage1kit.commands.pipeline import run_pipeline

    assert (MODEL_DIR / "model.safetensors").is_file(), "the shipped demo model is missing"
    config = write_demo(tmp_path / "demo")
    run_dir = run_pipeline(config, None, None, quiet=True)
    report = json.loads((run_dir / "eval" / "report.json").read_text())
    section = report["evaluators"]["accuracy"]
    models = section["models"]
    trained = {json.loads(line)["prompt"] for line in (run_dir / "sft.jsonl").read_text().splitlines()}
    assert not any(f"Query: {item['instruction']}\nAnswer:" in trained for item in section["items"])
    assert section["questions"] >= 20
    assert models["base"]["accuracy"] <= 0.2
    assert models["dpo"]["accuracy"] - models["base"]["accuracy"] >= 0.4
    assert section["critic"]["prefers_correct"] >= 0.8  # the signal the lift came from
