"""Rank k candidate answers per instruction with the critic's pairwise judgements.

Small k: a full round-robin (every pair, each in both orders, which the critic does itself).
Larger k: a pivot scheme -- every candidate against one pivot, then a round-robin among the few
best -- so the cost grows linearly in k instead of quadratically. Candidates equal up to whitespace
are one answer: only distinct answers are compared (a string is never compared with itself, nor
counted as an order disagreement), and every copy gets its first copy's score (``duplicate_of``). Every pair of every instruction in
a call goes to the critic in ONE ``compare`` call per phase, so its forward passes batch across
instructions. ``scores[i]`` is candidate i's mean preference probability over its comparisons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stage1kit.protocols import Critic, PairQuery, PairVerdict
from stage1kit.selection import text_key

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel


@dataclass(frozen=True)
class RankingConfig:
    """``round_robin_max_k``: largest k judged by full round-robin; above it, the pivot scheme
    compares each candidate with candidate ``pivot`` and then round-robins the top ``finalists``."""

    round_robin_max_k: int = 5
    finalists: int = 3
    pivot: int = 0

    def __post_init__(self) -> None:
        if self.round_robin_max_k < 2:
            raise ValueError(f"round_robin_max_k must be at least 2, got {self.round_robin_max_k}")
        if self.finalists < 2:
            raise ValueError(f"finalists must be at least 2, got {self.finalists}")


@dataclass
class Ranking:
    """The critic's ranking of one instruction's candidates (the judgement record's fields)."""

    scores: list[float]
    best_index: int
    scheme: str
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    #: for each candidate, the index of its first copy (itself when it is distinct)
    duplicate_of: list[int] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        """Candidates that repeat an earlier one (up to whitespace): judged once, through their first copy."""
        return sum(first != index for index, first in enumerate(self.duplicate_of))


@dataclass
class _Group:
    instruction: str
    candidates: Sequence[str]
    verdicts: dict[tuple[int, int], PairVerdict] = field(default_factory=dict)


def first_copies(candidates: Sequence[str]) -> list[int]:
    """For each candidate, the index of the first candidate equal to it up to whitespace."""
    first: dict[str, int] = {}
    return [first.setdefault(text_key(text), index) for index, text in enumerate(candidates)]


def round_robin_pairs(k: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(k) for j in range(i + 1, k)]


def pivot_pairs(k: int, pivot: int) -> list[tuple[int, int]]:
    pivot = pivot % k
    return [(pivot, j) for j in range(k) if j != pivot]


def _compare_all(critic: Critic, model: "LoadedModel", groups: list[_Group], wanted: list[list[tuple[int, int]]]) -> None:
    """One ``compare`` call for the pairs of every group; verdicts land in each group."""
    queries, owners = [], []
    for g, (group, pairs) in enumerate(zip(groups, wanted)):
        for a, b in pairs:
            queries.append(PairQuery(group.instruction, group.candidates[a], group.candidates[b]))
            owners.append((g, a, b))
    if not queries:
        return
    verdicts = critic.compare(model, queries)
    if len(verdicts) != len(queries):
        raise RuntimeError(f"critic returned {len(verdicts)} verdicts for {len(queries)} pairs")
    for (g, a, b), verdict in zip(owners, verdicts):
        groups[g].verdicts[(a, b)] = verdict


def _scores(group: _Group) -> list[float]:
    k = len(group.candidates)
    total, count = [0.0] * k, [0] * k
    for (a, b), v in group.verdicts.items():
        total[a] += v.prob_a
        total[b] += 1.0 - v.prob_a
        count[a] += 1
        count[b] += 1
    # a candidate that met no other (k = 1) is neither preferred nor dispreferred
    return [t / c if c else 0.5 for t, c in zip(total, count)]


def _best(scores: list[float], group: _Group) -> int:
    """Highest score; ties broken by summed margin, then by the lower index."""
    margin = [0.0] * len(scores)
    for (a, b), v in group.verdicts.items():
        margin[a] += v.margin
        margin[b] -= v.margin
    return max(range(len(scores)), key=lambda i: (scores[i], margin[i], -i))


def _finish(group: _Group, scheme: str, duplicate_of: list[int]) -> Ranking:
    """The ranking of the distinct candidates the group holds, spread back over every candidate."""
    distinct = sorted(set(duplicate_of))  # group slot -> candidate index
    slot = {index: n for n, index in enumerate(distinct)}
    unique_scores = _scores(group)
    comparisons = [
        {"a": distinct[a], "b": distinct[b], "margin": v.margin, "prob_a": v.prob_a, "confidence": v.confidence, "orders_agree": v.orders_agree}
        for (a, b), v in group.verdicts.items()
    ]
    return Ranking(
        scores=[unique_scores[slot[first]] for first in duplicate_of],
        best_index=distinct[_best(unique_scores, group)],
        scheme=scheme,
        comparisons=comparisons,
        duplicate_of=duplicate_of,
    )


def rank_candidates(
    critic: Critic,
    model: "LoadedModel",
    items: Sequence[tuple[str, Sequence[str]]],
    config: RankingConfig | None = None,
) -> list[Ranking]:
    """Rank the candidates of each ``(instruction, candidates)`` item; one Ranking per item."""
    config = config or RankingConfig()
    for index, (instruction, candidates) in enumerate(items):
        if len(candidates) < 1:
            raise ValueError(f"item {index} ({instruction[:60]!r}) has no candidates to rank")
    firsts = [first_copies(candidates) for _, candidates in items]
    # each group holds only the distinct candidates, in order; _finish maps them back
    groups = [_Group(instruction, [candidates[i] for i in sorted(set(first))]) for (instruction, candidates), first in zip(items, firsts)]
    small = [len(g.candidates) <= config.round_robin_max_k for g in groups]
    opening = [round_robin_pairs(len(g.candidates)) if s else pivot_pairs(len(g.candidates), config.pivot) for g, s in zip(groups, small)]
    _compare_all(critic, model, groups, opening)
    second = []
    for group, is_small in zip(groups, small):
        if is_small:
            second.append([])
            continue
        scores = _scores(group)
        top = sorted(sorted(range(len(scores)), key=lambda i: -scores[i])[: config.finalists])
        second.append([p for p in round_robin_pairs(len(top)) if (top[p[0]], top[p[1]]) not in group.verdicts and (top[p[1]], top[p[0]]) not in group.verdicts])
        second[-1] = [(top[i], top[j]) for i, j in second[-1]]
    _compare_all(critic, model, groups, second)
    return [_finish(g, "round-robin" if s else "pivot", first) for g, s, first in zip(groups, small, firsts)]
