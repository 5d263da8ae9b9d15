"""Ranking logic, with a transparent critic that prefers longer answers."""

from __future__ import annotations

import math

import pytest

from stage1kit.protocols import PairVerdict
from stage1kit.ranking import RankingConfig, rank_candidates


class LengthCritic:
    """Prefers the longer answer; counts its calls so batching across instructions is visible."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def compare(self, model, queries):
        self.calls.append(len(queries))
        out = []
        for q in queries:
            margin = (len(q.response_a) - len(q.response_b)) / 10
            prob = 1 / (1 + math.exp(-margin))
            out.append(PairVerdict(margin, prob, abs(2 * prob - 1), True))
        return out

    def score_instructions(self, model, instructions):
        return [0.5] * len(instructions)

    def describe(self):
        return {"name": "length"}


ITEMS = [("Say something.", ["a", "abcd", "ab"]), ("Say more.", ["abc", "a", "abcdefg", "ab", "abcdef", "abcd"])]


def test_round_robin_for_small_k_and_pivot_above_the_threshold():
    critic = LengthCritic()
    small, large = rank_candidates(critic, None, ITEMS, RankingConfig(round_robin_max_k=4, finalists=3))
    assert small.scheme == "round-robin" and len(small.comparisons) == 3 and small.best_index == 1
    assert large.scheme == "pivot" and large.best_index == 2
    # pivot phase: 5 comparisons with candidate 0; final phase: the top 3 meet (pairs not yet judged)
    pairs = {(c["a"], c["b"]) for c in large.comparisons}
    assert {(0, j) for j in range(1, 6)} <= pairs and (2, 4) in pairs
    assert len(large.comparisons) < 15  # fewer than a full round-robin


def test_every_instructions_pairs_go_to_the_critic_together():
    critic = LengthCritic()
    rank_candidates(critic, None, [ITEMS[0]] * 5, RankingConfig())
    assert critic.calls == [15]  # 5 instructions x 3 pairs in one call (the pivot phase has nothing to do)


def test_scores_are_mean_preference_probabilities():
    [ranking] = rank_candidates(LengthCritic(), None, [("q", ["aa", "a"])])
    [comparison] = ranking.comparisons
    assert ranking.scores == pytest.approx([comparison["prob_a"], 1 - comparison["prob_a"]])
    assert set(comparison) == {"a", "b", "margin", "prob_a", "confidence", "orders_agree"}


def test_a_single_candidate_wins_unopposed():
    [ranking] = rank_candidates(LengthCritic(), None, [("q", ["only"])])
    assert ranking.best_index == 0 and ranking.scores == [0.5] and ranking.comparisons == []


class PositionBiasedCritic(LengthCritic):
    """Like a real critic with position bias: between equal answers it picks whichever comes first,
    so its two presentation orders disagree."""

    def compare(self, model, queries):
        self.queries = list(queries)
        verdicts = super().compare(model, queries)
        return [PairVerdict(0.0, 0.5, 0.0, False) if q.response_a == q.response_b else v for q, v in zip(queries, verdicts)]


def test_identical_candidates_are_judged_once_and_share_one_score():
    from stage1kit.stages.judge import judgement_qc, judgement_record

    critic = PositionBiasedCritic()
    candidates = ["Paris.", "Lyon is the capital.", " Paris. ", "Paris.", "Lyon  is the capital."]
    [ranking] = rank_candidates(critic, None, [("Capital of France?", candidates)])
    # only the two distinct answers meet: one comparison, none between a string and itself
    assert critic.calls == [1] and len(ranking.comparisons) == 1
    assert all(q.response_a.split() != q.response_b.split() for q in critic.queries)
    assert ranking.duplicate_of == [0, 1, 0, 0, 1] and ranking.duplicates == 3
    assert ranking.scores[0] == ranking.scores[2] == ranking.scores[3] and ranking.scores[1] == ranking.scores[4]
    assert ranking.best_index == 1  # the first copy of the longer answer
    response = {"id": "res_1", "instruction_id": "ins_1", "instruction": "Capital of France?", "candidates": candidates}
    record = judgement_record(response, ranking, {"name": "biased"}, None, "Query: Capital of France?\nAnswer:")
    qc = judgement_qc([record])
    assert qc["comparisons"] == 1 and qc["order_agreement_rate"] == 1.0
    assert qc["duplicate_candidates"] == 3 and qc["candidates"] == 5


def test_a_record_of_identical_candidates_needs_no_critic():
    critic = PositionBiasedCritic()
    [ranking] = rank_candidates(critic, None, [("q", ["same", "same ", "same"])])
    assert critic.calls == [] and ranking.comparisons == [] and ranking.scores == [0.5] * 3 and ranking.best_index == 0
