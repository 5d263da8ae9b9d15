"""Held-out log-likelihood: batched numbers equal a per-example reference; equal models score equal."""

from __future__ import annotations

import math

import pytest
import torch

from eval_helpers import ScriptedCritic
from stage1kit.prompting import training_completion, training_prompt
from stage1kit.protocols import EvalContext
from stage1kit_eval.likelihood import HeldoutLikelihoodEvaluator, score_completions

PAIRS = [
    ("Name a colour.", "Blue."),
    (
        "Explain why the sky looks blue during the day.",
        "Sunlight scatters off air molecules, and blue light scatters most.",
    ),
    ("Give a synonym for happy.", "Glad"),
    ("Describe a cat.", "A small furry animal that purrs, sleeps a lot and chases mice at night."),
    ("Count to three.", "One, two, three."),
]
RECORDS = [
    {"id": f"h{i}", "prompt": training_prompt(q), "completion": training_completion(a)}
    for i, (q, a) in enumerate(PAIRS)
]


def reference_logprob(loaded, prompt: str, completion: str) -> tuple[float, int]:
    """One unpadded forward per example: sum of log P(completion token | everything before), EOS included."""
    tok = loaded.tokenizer
    prompt_ids = tok(prompt)["input_ids"]
    completion_ids = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logp = torch.log_softmax(loaded.model(input_ids=ids).logits[0].double(), dim=-1)
    start = len(prompt_ids)
    total = sum(logp[start + j - 1, t].item() for j, t in enumerate(completion_ids))
    return total, len(completion_ids)


def _ctx(base, trained, records=RECORDS):
    return EvalContext(
        base=base, trained=trained, critic=ScriptedCritic(), heldout_instructions=[], heldout_sft=records, run_dir=None
    )


def test_batched_scores_match_a_per_example_reference(base_model):
    scores = score_completions(base_model, RECORDS, batch_size=2)
    for record, score in zip(RECORDS, scores):
        total, tokens = reference_logprob(base_model, record["prompt"], record["completion"])
        assert score.num_tokens == tokens
        assert score.logprob == pytest.approx(total, abs=1e-5 * tokens)
        assert score.mean == pytest.approx(total / tokens, abs=1e-5)


def test_summary_is_token_weighted_with_its_perplexity(base_model, other_model):
    section = HeldoutLikelihoodEvaluator(batch_size=3).evaluate(_ctx(base_model, other_model))
    refs = [reference_logprob(base_model, r["prompt"], r["completion"]) for r in RECORDS]
    mean = sum(t for t, _ in refs) / sum(n for _, n in refs)
    assert section["base"]["tokens"] == sum(n for _, n in refs)
    assert section["base"]["mean_token_logprob"] == pytest.approx(mean, abs=1e-5)
    assert section["base"]["perplexity"] == pytest.approx(math.exp(-mean), rel=1e-5)
    # Different weights, different numbers; the comparison is trained minus base.
    assert section["trained"]["mean_token_logprob"] != pytest.approx(mean, abs=1e-4)
    delta = section["trained"]["mean_token_logprob"] - section["base"]["mean_token_logprob"]
    assert section["delta_mean_token_logprob"] == pytest.approx(delta)
    assert len(section["items"]) == len(RECORDS)


def test_a_trained_model_identical_to_the_base_scores_the_same(base_model, base_twin):
    section = HeldoutLikelihoodEvaluator().evaluate(_ctx(base_model, base_twin))
    assert section["trained"]["mean_token_logprob"] == pytest.approx(section["base"]["mean_token_logprob"], abs=1e-6)
    assert section["delta_mean_token_logprob"] == pytest.approx(0.0, abs=1e-6)
    assert section["perplexity_ratio"] == pytest.approx(1.0, abs=1e-6)
    for item in section["items"]:
        assert item["trained_mean"] == pytest.approx(item["base_mean"], abs=1e-6)


def test_eos_can_be_left_out(base_model):
    with_eos = score_completions(base_model, RECORDS)
    without = score_completions(base_model, RECORDS, include_eos=False)
    assert [a.num_tokens - 1 for a in with_eos] == [b.num_tokens for b in without]


def test_no_sft_records_is_reported_missing(base_model):
    section = HeldoutLikelihoodEvaluator().evaluate(_ctx(base_model, base_model, records=[{"id": "x", "prompt": "p"}]))
    assert "no held-out SFT records" in section["missing"]
