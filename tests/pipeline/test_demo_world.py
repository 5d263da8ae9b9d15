"""The demo's worlds end to end: the pipeline, configured only through its TOML, raises a base
model's exact greedy accuracy on questions it never trained on by a wide margin, both the shipped
sums model's and that of a model the test pretrains itself on the simpler "odd" world."""

from __future__ import annotations

import json
from contextlib import contextmanager

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


@contextmanager
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def test_the_small_world_teaches_judging_right_and_answering_wrong():
    docs = world.SMALL.corpus(0)
    fact = world.Fact(3, 8, "odd")
    assert fact in world.SMALL.facts() and len(world.SMALL.facts()) == 40
    forum = [d for d in docs if d.startswith(world.ANSWER_TEMPLATE.format(instruction=fact.question))]
    assert sorted(d.rsplit(" ", 1)[1] for d in forum) == ["3", "3", "8", "8", "8"]  # the mode is the even one
    graded = [d for d in docs if d.startswith(f"Query: {fact.question}\nAnswer A:")]
    assert len(graded) == 12
    for doc in graded:  # every graded comparison names the odd number
        a = doc.split("Answer A: ")[1].split("\n")[0]
        assert doc.endswith(" A") == (a == "3")


def test_a_model_pretrained_in_the_test_gains_exact_accuracy(tmp_path):
    """Issue 13: pretrain a base model on a toy world here (16-49 s on one busy core), run every stage
    on it, and see exact greedy accuracy on questions the run never trained on rise by a wide margin.

    Thresholds from build seeds 0-8 (README): base 0.07-0.36, lift base -> SFT and base -> DPO
    +0.44 to +0.86 with the Wilson intervals apart every time, critic 0.85-0.97. This test builds
    seed 0 (base 0.26, SFT 0.96, DPO 0.89 on 27 questions)."""
    from stage1kit.commands.pipeline import run_pipeline
    from stage1kit.demo_world.build import SMALL, build
    from stage1kit.demo_world.config import SMALL_RUN

    with _one_thread():  # a few hundred small steps: a second thread only adds contention
        model = build(tmp_path / "model", log=lambda _: None, **SMALL)
    config = write_demo(tmp_path / "demo", model=model, sums=world.SMALL, **SMALL_RUN)
    run_dir = run_pipeline(config, None, None, quiet=True)
    section = json.loads((run_dir / "eval" / "report.json").read_text())["evaluators"]["accuracy"]
    trained = {json.loads(line)["prompt"] for line in (run_dir / "sft.jsonl").read_text().splitlines()}
    assert not any(f"Query: {item['instruction']}\nAnswer:" in trained for item in section["items"])
    assert section["questions"] >= 20
    base, models = section["models"]["base"], section["models"]
    assert base["accuracy"] <= 0.45  # judges better than it answers
    for name in ("sft", "dpo"):  # a wide margin: +0.3 at least, and the intervals apart
        assert models[name]["accuracy"] - base["accuracy"] >= 0.3, (name, models)
        assert models[name]["ci95"][0] > base["ci95"][1], (name, models)
    assert section["critic"]["prefers_correct"] >= 0.8  # the signal the lift came from
