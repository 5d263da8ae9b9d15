"""Selection rules on crafted scores: strategies, margins, filters, the mix cap, duplicates."""

from __future__ import annotations

import random

import pytest

from stage1kit.selection import (
    BELOW_MARGIN,
    Deduplicator,
    MixCap,
    NEGATIVE_BEAT_CHOSEN,
    ORDERS_DISAGREE,
    PairFilter,
    Preference,
    QualityBar,
    REJECTED_PREFERRED,
    distribution,
    mu_minus_two_sigma,
    recorded_preference,
    rejected_indices,
    sft_reject_reason,
)


def test_all_pairs_the_best_with_every_other_candidate():
    assert rejected_indices([0.2, 0.9, 0.5, 0.1], best=1, strategy="all") == [0, 2, 3]


def test_worst_picks_the_lowest_score_and_breaks_ties_by_index():
    assert rejected_indices([0.2, 0.9, 0.5, 0.1], best=1, strategy="worst") == [3]
    assert rejected_indices([0.1, 0.9, 0.1], best=1, strategy="worst") == [0]


def test_mu_minus_two_sigma_picks_the_candidate_nearest_the_target_not_the_outlier():
    scores = [0.9] + [0.7] * 12 + [0.5, 0.3, 0.0]
    assert mu_minus_two_sigma(scores) == pytest.approx(0.2268, abs=1e-3)
    assert rejected_indices(scores, best=0, strategy="mu-2sigma") == [14]  # 0.3: nearest 0.227
    assert rejected_indices(scores, best=0, strategy="worst") == [15]  # the 0.0 outlier


def test_mu_minus_two_sigma_never_picks_the_best():
    assert rejected_indices([0.1, 0.1], best=0, strategy="mu-2sigma") == [1]


def test_one_candidate_gives_no_pairs_and_unknown_strategies_are_refused():
    assert rejected_indices([0.7], best=0, strategy="all") == []
    with pytest.raises(ValueError, match="unknown strategy 'best'"):
        rejected_indices([0.7, 0.1], best=0, strategy="best")


def test_recorded_preference_is_oriented_chosen_over_rejected():
    comparisons = [{"a": 2, "b": 0, "margin": -1.5, "prob_a": 0.2, "confidence": 0.6, "orders_agree": True}]
    pref = recorded_preference(comparisons, chosen=0, rejected=2)
    assert pref == Preference(1.5, pytest.approx(0.8), 0.6, True)
    assert recorded_preference(comparisons, chosen=0, rejected=1) is None


def test_recorded_preference_reads_a_repeated_candidate_through_its_first_copy():
    # candidates 1 and 3 are the same answer: the judge compared only 1, and 3 shares its verdict
    comparisons = [{"a": 0, "b": 1, "margin": 2.0, "prob_a": 0.9, "confidence": 0.8, "orders_agree": True}]
    assert recorded_preference(comparisons, chosen=0, rejected=3) is None
    assert recorded_preference(comparisons, chosen=0, rejected=3, duplicate_of=[0, 1, 2, 1]) == Preference(2.0, 0.9, 0.8, True)


@pytest.mark.parametrize(
    "quality, confidence, orders_agree, expected",
    [
        (0.9, 0.8, True, "pass"),
        (0.2, 0.6, True, "fail"),
        (0.50002, 0.00004, True, "undecided"),  # the critic cannot judge the reference at all
        (0.49998, 0.00004, True, "undecided"),  # ... on either side of the bar: no coin flip
        (0.8, 0.6, False, "undecided"),  # the verdict flips with the presentation order
        (0.47, 0.06, True, "fail"),  # sure enough, and below the bar
    ],
)
def test_the_quality_bar_does_not_decide_what_the_critic_cannot(quality, confidence, orders_agree, expected):
    assert QualityBar(min_quality=0.5, min_confidence=0.05).decide(quality, confidence, orders_agree) == expected


@pytest.mark.parametrize(
    "pref, negative, expected",
    [
        (Preference(2.0, 0.9, 0.8, True), False, None),
        (Preference(-0.1, 0.45, 0.1, True), False, REJECTED_PREFERRED),
        (Preference(-0.1, 0.45, 0.1, True), True, NEGATIVE_BEAT_CHOSEN),
        (Preference(2.0, 0.9, 0.8, False), False, ORDERS_DISAGREE),
        (Preference(0.3, 0.6, 0.2, True), False, BELOW_MARGIN),
    ],
)
def test_pair_filter_reasons(pref, negative, expected):
    assert PairFilter(min_margin=0.5).reject_reason(pref, negative=negative) == expected


def test_order_disagreement_can_be_allowed():
    assert PairFilter(require_order_agreement=False).reject_reason(Preference(1.0, 0.7, 0.4, False), negative=False) is None


def test_sft_quality_bar():
    assert sft_reject_reason("Good answer.", False) is None
    assert sft_reject_reason("Cut off answ", True) == "best-truncated"
    assert sft_reject_reason("  ", False) == "empty"


def test_mix_cap_limits_per_type_and_per_instruction_deterministically():
    types = ["truncated", "truncated", "off-topic", "generic-reply", "shuffled"]
    cap = MixCap(per_instruction=3, per_type=1)
    kept, dropped = cap.select(types, random.Random(3))
    assert len(kept) == 3 and len({types[i] for i in kept}) == 3
    assert sum(dropped.values()) == 2
    assert cap.select(types, random.Random(3)) == (kept, dropped)


def test_mix_cap_weights_steer_the_draw_and_zero_switches_a_type_off():
    types = ["a", "b"]
    cap = MixCap(per_instruction=1, per_type=1, weights={"a": 20.0, "b": 1.0})
    picks = [types[cap.select(types, random.Random(seed))[0][0]] for seed in range(200)]
    assert picks.count("a") > 170
    off = MixCap(per_instruction=2, per_type=1, weights={"b": 0})
    assert all(off.select(types, random.Random(s))[0] == [0] for s in range(20))


def test_duplicates_ignore_whitespace_but_not_case():
    seen = Deduplicator()
    assert seen.is_new("Q", "Good answer.", "Bad.")
    assert not seen.is_new("Q ", "Good  answer.", "Bad.\n")
    assert seen.is_new("Q", "Good answer.", "BAD.")
    assert seen.is_new("Q", "Good answer.", "Worse.")


def test_distribution_quantiles():
    stats = distribution([1.0, 2.0, 3.0, 4.0, 5.0])
    assert stats["mean"] == 3.0 and stats["min"] == 1.0 and stats["p50"] == 3.0 and stats["p25"] == 2.0
    assert stats["p90"] == pytest.approx(4.6)
    assert distribution([])["count"] == 0
