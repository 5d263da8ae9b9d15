"""Pure selection logic of the pairs stage: which candidate is trained on, which pairs are kept.

No model, no files: every function takes scores, margins and texts and returns decisions, so each
rule is tested on crafted numbers. :mod:`stage1kit.stages.pairs` feeds it judgements and critic
verdicts and writes the results.

DPO strategies pick the rejected candidates of a judged instruction:

- ``all``: the best against each of the other k-1 candidates;
- ``worst``: the best against the lowest-scored one (Self-Rewarding Language Models);
- ``mu-2sigma``: the best against the candidate whose score is nearest ``mean - 2 * std`` of the k
  scores, the best of the pairings compared by Xiao et al. (2025): clearly worse than the chosen,
  but not the freak outlier that ``worst`` tends to pick.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STRATEGIES = ("all", "worst", "mu-2sigma")

#: Why a pair or an SFT record was dropped; the stage counts each in its manifest.
BELOW_MARGIN = "below-margin"
ORDERS_DISAGREE = "orders-disagree"
REJECTED_PREFERRED = "rejected-preferred"
NEGATIVE_BEAT_CHOSEN = "negative-beat-chosen"
DUPLICATE = "duplicate"
IDENTICAL = "identical-texts"
BELOW_QUALITY_BAR = "below-quality-bar"
QUALITY_UNDECIDED = "quality-undecided"
BEST_TRUNCATED = "best-truncated"
EMPTY = "empty"
OVER_TYPE_CAP = "over-type-cap"
OVER_INSTRUCTION_CAP = "over-instruction-cap"


@dataclass(frozen=True)
class Preference:
    """How strongly the chosen text beats the rejected one (oriented: ``margin > 0`` favours chosen)."""

    margin: float
    prob_chosen: float
    confidence: float
    orders_agree: bool


@dataclass(frozen=True)
class PairFilter:
    """A pair survives when the chosen is preferred by at least ``min_margin`` (and orders agree)."""

    min_margin: float = 0.0
    require_order_agreement: bool = True

    def reject_reason(self, preference: Preference, *, negative: bool) -> str | None:
        """None to keep the pair, else why it is dropped."""
        if preference.margin <= 0:
            return NEGATIVE_BEAT_CHOSEN if negative else REJECTED_PREFERRED
        if self.require_order_agreement and not preference.orders_agree:
            return ORDERS_DISAGREE
        if preference.margin < self.min_margin:
            return BELOW_MARGIN
        return None


# --------------------------------------------------------------------------- SFT


def sft_reject_reason(text: str, truncated: bool) -> str | None:
    """None when the best candidate can be trained on at all (the quality bar comes after), else why not."""
    if not text.strip():
        return EMPTY
    if truncated:
        return BEST_TRUNCATED
    return None


#: what the SFT quality bar decides about one answer
PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"


@dataclass(frozen=True)
class QualityBar:
    """The SFT quality bar: the critic must prefer the answer over a content-free reference.

    A bar that cannot decide does not decide: when the critic's verdict flips with presentation
    order, or its confidence ``|2p - 1|`` is below ``min_confidence`` (a critic that cannot judge
    the reference answer at all scores about 0.5), the answer is *undecided* -- not dropped by a
    coin flip around ``min_quality``.
    """

    min_quality: float = 0.5
    min_confidence: float = 0.05

    def decide(self, quality: float, confidence: float, orders_agree: bool) -> str:
        """PASS, FAIL or UNDECIDED for an answer whose quality (P(answer beats reference)) is ``quality``."""
        if not orders_agree or confidence < self.min_confidence:
            return UNDECIDED
        return FAIL if quality < self.min_quality else PASS


def below_quality_bar(quality: float, min_quality: float) -> bool:
    """``quality``: the critic's probability that the best answer beats a content-free reference."""
    return quality < min_quality


# --------------------------------------------------------------------------- strategies


def rejected_indices(scores: Sequence[float], best: int, strategy: str) -> list[int]:
    """Indices of the candidates to pair against ``best`` under ``strategy``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy '{strategy}'; strategies are {', '.join(STRATEGIES)}")
    others = [i for i in range(len(scores)) if i != best]
    if not others:
        return []
    if strategy == "all":
        return others
    if strategy == "worst":
        return [min(others, key=lambda i: (scores[i], i))]
    target = mu_minus_two_sigma(scores)
    return [min(others, key=lambda i: (abs(scores[i] - target), scores[i], i))]


def mu_minus_two_sigma(scores: Sequence[float]) -> float:
    """``mean - 2 * std`` (population std) of all k scores."""
    return statistics.fmean(scores) - 2.0 * statistics.pstdev(scores)


def recorded_preference(
    comparisons: Iterable[Mapping[str, Any]], chosen: int, rejected: int, duplicate_of: Sequence[int] | None = None
) -> Preference | None:
    """The judgement's own comparison of the two candidates, oriented chosen-over-rejected.

    ``duplicate_of`` (from the judgement) maps a repeated candidate to its first copy, the one the
    critic compared.
    """
    if duplicate_of:
        chosen, rejected = duplicate_of[chosen], duplicate_of[rejected]
    for c in comparisons:
        if {c.get("a"), c.get("b")} != {chosen, rejected} or chosen == rejected:
            continue
        margin, prob_a = float(c["margin"]), float(c.get("prob_a", 0.5))
        if c["a"] != chosen:
            margin, prob_a = -margin, 1.0 - prob_a
        confidence = float(c.get("confidence", abs(2.0 * prob_a - 1.0)))
        return Preference(margin, prob_a, confidence, bool(c.get("orders_agree", False)))
    return None


# --------------------------------------------------------------------------- negatives mix


@dataclass(frozen=True)
class MixCap:
    """At most ``per_instruction`` negatives per instruction, ``per_type`` of any one type, drawn by ``weights``.

    A type's weight is shared by its negatives, so a miner that returns many negatives is not
    favoured over one that returns one; weight 0 switches a type off.
    """

    per_instruction: int = 3
    per_type: int = 1
    weights: Mapping[str, float] = field(default_factory=dict)

    def select(self, types: Sequence[str], rng: random.Random) -> tuple[list[int], dict[str, int]]:
        """(indices kept, in input order; {reason: dropped}) for negatives of the given types."""
        per_type_total = {t: types.count(t) for t in set(types)}
        keyed = []
        for index, kind in enumerate(types):
            weight = float(self.weights.get(kind, 1.0)) / per_type_total[kind]
            draw = rng.random()
            # Efraimidis-Spirakis: weighted sampling without replacement by the largest u ** (1 / w).
            key = math.log(draw) / weight if weight > 0 and draw > 0 else -math.inf
            keyed.append((key, index))
        kept: list[int] = []
        dropped: dict[str, int] = {}
        taken: dict[str, int] = {}
        for key, index in sorted(keyed, key=lambda item: (-item[0], item[1])):
            kind = types[index]
            if key == -math.inf or taken.get(kind, 0) >= self.per_type:
                reason = OVER_TYPE_CAP
            elif len(kept) >= self.per_instruction:
                reason = OVER_INSTRUCTION_CAP
            else:
                kept.append(index)
                taken[kind] = taken.get(kind, 0) + 1
                continue
            dropped[reason] = dropped.get(reason, 0) + 1
        return sorted(kept), dropped


# --------------------------------------------------------------------------- duplicates and statistics


def text_key(text: str) -> str:
    """Whitespace-insensitive; case is kept (an answer in the wrong case is a different answer)."""
    return " ".join(text.split())


class Deduplicator:
    """Remembers (prompt, chosen, rejected) triples; whitespace alone does not make a pair new."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, ...]] = set()

    def is_new(self, *texts: str) -> bool:
        key = tuple(text_key(t) for t in texts)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def distribution(values: Sequence[float]) -> dict[str, float]:
    """count, mean, min, max and the 10/25/50/75/90th percentiles (zeros for no values)."""
    if not values:
        return {"count": 0, "mean": 0.0, "min": 0.0, "max": 0.0, "p10": 0.0, "p25": 0.0, "p50": 0.0, "p75": 0.0, "p90": 0.0}
    ordered = sorted(float(v) for v in values)
    return {
        "count": len(ordered),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        **{f"p{q}": _quantile(ordered, q / 100) for q in (10, 25, 50, 75, 90)},
    }


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of sorted values."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
