"""Win rate: interval arithmetic, tie handling, and the evaluator on tiny models with a scripted critic."""

from __future__ import annotations

import pytest

from eval_helpers import ScriptedCritic, verdict
from stage1kit.protocols import Critic, EvalContext
from stage1kit_eval.answers import GenerationSettings, cut_at_stops, generate_answers
from stage1kit_eval.win_rate import WinRateEvaluator, classify, summarise, wilson_interval

INSTRUCTIONS = [
    "Name three colours of the rainbow.",
    "Explain why the sky looks blue.",
    "Give a synonym for happy.",
    "Describe a cat in one sentence.",
    "List two uses of water.",
    "What is the capital of France?",
]


def test_wilson_interval_matches_published_values():
    # Reference values: statsmodels proportion_confint(8, 10, method="wilson").
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4901624, abs=1e-6)
    assert high == pytest.approx(0.9433178, abs=1e-6)
    assert wilson_interval(0, 5)[0] == 0.0 and 0.0 < wilson_interval(0, 5)[1] < 0.6
    assert wilson_interval(5, 5)[1] == 1.0 and 0.4 < wilson_interval(5, 5)[0] < 1.0


def test_wilson_interval_holds_its_proportion_at_the_ends():
    # rounding put 0/3 at [5.6e-17, ...] and 10/10 at [..., 0.9999999999999999]: a negative error
    # bar, which the accuracy plot refused
    for n in range(1, 200):
        for k in (0, n):
            low, high = wilson_interval(k, n)
            assert low <= k / n <= high
    assert wilson_interval(0, 0) is None


def test_low_confidence_and_order_flips_are_ties():
    assert classify(verdict(0.52), tie_confidence=0.1, orders_must_agree=True) == "tie"
    assert classify(verdict(0.9, orders_agree=False), tie_confidence=0.1, orders_must_agree=True) == "tie"
    assert classify(verdict(0.9, orders_agree=False), tie_confidence=0.1, orders_must_agree=False) == "win"
    assert classify(verdict(0.2), tie_confidence=0.1, orders_must_agree=True) == "loss"
    assert classify(verdict(0.5), tie_confidence=0.0, orders_must_agree=True) == "tie"


def test_ties_count_half_and_decisive_rate_leaves_them_out():
    summary = summarise(["win"] * 6 + ["loss"] * 2 + ["tie"] * 2)
    assert (summary["wins"], summary["losses"], summary["ties"]) == (6, 2, 2)
    assert summary["win_rate"] == pytest.approx(0.7)
    assert summary["ci95"] == pytest.approx(list(wilson_interval(7, 10)))
    assert summary["decisive_win_rate"] == pytest.approx(0.75)
    assert summary["decisive_ci95"] == pytest.approx(list(wilson_interval(6, 8)))
    assert summary["ci95"][0] < 0.7 < summary["ci95"][1]
    assert "Wilson" in summary["ci_method"]


def test_answers_stop_at_the_next_query():
    assert cut_at_stops("Blue, red.\nQuery: more", ["\nQuery:"]) == ("Blue, red.", True)
    assert cut_at_stops("no stop here", ["\nQuery:"]) == ("no stop here", False)


def test_batched_generation_equals_one_at_a_time(base_model):
    settings = GenerationSettings(max_new_tokens=10, batch_size=4)
    batched = generate_answers(base_model, INSTRUCTIONS, settings)
    single = [generate_answers(base_model, [i], settings)[0] for i in INSTRUCTIONS]
    assert [a.text for a in batched] == [a.text for a in single]
    assert all(a.num_tokens <= 10 for a in batched)


def test_seeded_sampling_repeats_with_the_same_seed(base_model):
    settings = GenerationSettings(max_new_tokens=8, batch_size=3, temperature=1.0)
    first = generate_answers(base_model, INSTRUCTIONS, settings, seed=3)
    again = generate_answers(base_model, INSTRUCTIONS, settings, seed=3)
    assert [a.text for a in first] == [a.text for a in again]


def _context(base, trained, critic, instructions=INSTRUCTIONS):
    return EvalContext(
        base=base, trained=trained, critic=critic, heldout_instructions=instructions, heldout_sft=[], run_dir=None
    )


def test_evaluator_judges_trained_against_base_with_the_critic(base_model, other_model):
    # Scripted verdicts by instruction: 3 confident wins, 1 loss, 1 weak (tie), 1 order flip (tie).
    probs = dict(zip(INSTRUCTIONS, [(0.9, True), (0.8, True), (0.7, True), (0.1, True), (0.53, True), (0.95, False)]))
    critic = ScriptedCritic(lambda q: verdict(probs[q.instruction][0], probs[q.instruction][1]))
    assert isinstance(critic, Critic)
    # Sampling: greedy decoding of an untrained tiny model repeats one token, whatever its weights.
    evaluator = WinRateEvaluator(
        max_new_tokens=8, batch_size=4, temperature=1.0, tie_confidence=0.1, examples_per_outcome=1
    )
    section = evaluator.evaluate(_context(base_model, other_model, critic))

    judged_with, queries = critic.calls[0]
    assert judged_with is base_model  # the critic judges with the base model
    by_instruction = {item["instruction"]: item for item in section["items"]}
    for query in queries:  # response A is the trained model's answer, B the base model's
        assert query.response_a == by_instruction[query.instruction]["trained"]
        assert query.response_b == by_instruction[query.instruction]["base"]
    assert section["identical_answers"] == 0 and len(queries) == len(INSTRUCTIONS)
    assert (section["wins"], section["losses"], section["ties"]) == (3, 1, 2)
    assert section["win_rate"] == pytest.approx(4 / 6)
    assert section["ci95"] == pytest.approx(list(wilson_interval(4, 6)))
    assert section["orders_disagree"] == 1
    assert {e["outcome"] for e in section["examples"]} <= {"win", "loss", "tie"}
    assert section["judge"]["critic"]["name"] == "scripted"
    assert set(section["answers"]) == {"trained", "base"}


def test_identical_models_tie_everywhere_without_asking_the_critic(base_model, base_twin):
    critic = ScriptedCritic()
    section = WinRateEvaluator(max_new_tokens=8).evaluate(_context(base_model, base_twin, critic))
    assert critic.calls == []
    assert (section["wins"], section["losses"], section["ties"]) == (0, 0, len(INSTRUCTIONS))
    assert section["win_rate"] == pytest.approx(0.5)
    assert section["decisive_win_rate"] is None


def test_no_heldout_instructions_is_reported_missing(base_model):
    section = WinRateEvaluator().evaluate(_context(base_model, base_model, ScriptedCritic(), instructions=[]))
    assert "no held-out instructions" in section["missing"]
