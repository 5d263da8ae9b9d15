"""Held-out log-likelihood and perplexity of SFT targets under the base and the trained model.

SFT training raises the likelihood of the completions it sees; on completions it did not see, the
change says whether the model learned the answer format and content or only memorised. Each record's
prompt and completion are tokenised together and split by the trainers' rule
(:func:`stage1kit.encoding.encode_pairs`), plus EOS when ``include_eos`` (the trainers close every
completion with one, so stopping is part of what was trained): exactly the tokens training saw are
scored, with the shared batched primitive ``stage1kit.logprobs``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from stage1kit import EvalContext

if TYPE_CHECKING:
    from stage1kit import LoadedModel


@dataclass(frozen=True)
class CompletionScore:
    """Summed log-probability of one completion and how many tokens it spans."""

    logprob: float
    num_tokens: int

    @property
    def mean(self) -> float:
        return self.logprob / self.num_tokens if self.num_tokens else 0.0


def score_completions(
    loaded: "LoadedModel",
    records: Sequence[dict[str, Any]],
    *,
    include_eos: bool = True,
    batch_size: int = 16,
    max_tokens_per_batch: int = 16384,
) -> list[CompletionScore]:
    """log P(completion | prompt) of each ``{"prompt", "completion"}`` record, batched."""
    from stage1kit import ScoringConfig, continuation_logprobs

    config = ScoringConfig(batch_size=batch_size, max_tokens_per_batch=max_tokens_per_batch)
    prompts = [r["prompt"] for r in records]
    completions = [r["completion"] for r in records]
    scores = continuation_logprobs(loaded, prompts, completions, config, eos=include_eos)
    return [CompletionScore(s.logprob, s.num_tokens) for s in scores]


def summarise_scores(scores: Sequence[CompletionScore]) -> dict[str, Any]:
    """Token-weighted mean log-likelihood and its perplexity, plus the per-example mean."""
    tokens = sum(s.num_tokens for s in scores)
    total = sum(s.logprob for s in scores)
    scored = [s for s in scores if s.num_tokens]
    mean = total / tokens if tokens else None
    return {
        "examples": len(scored),
        "tokens": tokens,
        "total_logprob": total,
        "mean_token_logprob": mean,
        "perplexity": math.exp(-mean) if mean is not None else None,
        "mean_example_logprob": sum(s.mean for s in scored) / len(scored) if scored else None,
    }


@dataclass
class HeldoutLikelihoodEvaluator:
    """Settings of the ``heldout-likelihood`` evaluator."""

    batch_size: int = 16
    max_tokens_per_batch: int = 16384
    include_eos: bool = True

    def evaluate(self, ctx: EvalContext) -> dict[str, Any]:
        """Score the held-out SFT completions under both models and compare."""
        records = [r for r in ctx.heldout_sft if r.get("prompt") and r.get("completion")]
        if not records:
            return {"kind": "heldout-likelihood", "missing": "no held-out SFT records with prompt and completion"}
        base = self.score(ctx.base, records)
        # The same handle twice (nothing trained yet) scores once: the numbers are equal by construction.
        trained = base if ctx.trained is ctx.base else self.score(ctx.trained, records)
        return {
            "kind": "heldout-likelihood",
            "base": summarise_scores(base),
            "trained": summarise_scores(trained),
            **_compare(base, trained),
            "skipped_records": len(ctx.heldout_sft) - len(records),
            "settings": asdict(self),
            "items": [
                {"id": r.get("id"), "tokens": b.num_tokens, "base_mean": b.mean, "trained_mean": t.mean}
                for r, b, t in zip(records, base, trained)
            ],
        }

    def score(self, loaded: "LoadedModel", records: Sequence[dict[str, Any]]) -> list[CompletionScore]:
        return score_completions(
            loaded,
            records,
            include_eos=self.include_eos,
            batch_size=self.batch_size,
            max_tokens_per_batch=self.max_tokens_per_batch,
        )


def _compare(base: Sequence[CompletionScore], trained: Sequence[CompletionScore]) -> dict[str, Any]:
    b, t = summarise_scores(base), summarise_scores(trained)
    pairs = [(x, y) for x, y in zip(base, trained) if x.num_tokens]
    if b["mean_token_logprob"] is None:
        return {"delta_mean_token_logprob": None, "perplexity_ratio": None, "improved_fraction": None}
    return {
        "delta_mean_token_logprob": t["mean_token_logprob"] - b["mean_token_logprob"],
        "perplexity_ratio": t["perplexity"] / b["perplexity"],
        "improved_fraction": sum(1 for x, y in pairs if y.mean > x.mean) / len(pairs),
    }
