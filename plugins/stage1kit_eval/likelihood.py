"""Held-out log-likelihood and perplexity of SFT targets under the base and the trained model.

SFT training raises the likelihood of the completions it sees; on completions it did not see, the
change says whether the model learned the answer format and content or only memorised. Each record's
prompt is encoded with the tokenizer's special tokens (BOS), its completion without, plus EOS when
``include_eos`` (TRL appends EOS to every completion, so stopping is part of what was trained).
Only completion tokens are scored, with the shared batched primitive ``stage1kit.logprobs``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from stage1kit.protocols import EvalContext

if TYPE_CHECKING:
    from stage1kit.loader import LoadedModel


@dataclass(frozen=True)
class CompletionScore:
    """Summed log-probability of one completion and how many tokens it spans."""

    logprob: float
    num_tokens: int

    @property
    def mean(self) -> float:
        return self.logprob / self.num_tokens if self.num_tokens else 0.0


def completion_token_ids(
    tokenizer: Any, prompts: Sequence[str], completions: Sequence[str], include_eos: bool
) -> tuple[list[list[int]], list[list[int]]]:
    """Prompt ids (with special tokens) and completion ids (without, plus EOS if asked)."""
    prompt_ids = [list(x) for x in tokenizer(list(prompts), add_special_tokens=True)["input_ids"]]
    completion_ids = [list(x) for x in tokenizer(list(completions), add_special_tokens=False)["input_ids"]]
    if include_eos and tokenizer.eos_token_id is not None:
        completion_ids = [c + [tokenizer.eos_token_id] for c in completion_ids]
    return prompt_ids, completion_ids


def score_completions(
    loaded: "LoadedModel",
    records: Sequence[dict[str, Any]],
    *,
    include_eos: bool = True,
    batch_size: int = 16,
    max_tokens_per_batch: int = 16384,
) -> list[CompletionScore]:
    """log P(completion | prompt) of each ``{"prompt", "completion"}`` record, batched."""
    from stage1kit.logprobs import ScoringConfig, score_rows

    prompts = [r["prompt"] for r in records]
    completions = [r["completion"] for r in records]
    prompt_ids, completion_ids = completion_token_ids(loaded.tokenizer, prompts, completions, include_eos)
    rows, targets, owners = [], [], []
    for index, (p, c) in enumerate(zip(prompt_ids, completion_ids)):
        if c:
            rows.append(p + c[:-1])
            targets.append([[t] for t in c])
            owners.append(index)
    config = ScoringConfig(batch_size=batch_size, max_tokens_per_batch=max_tokens_per_batch)
    scores = [CompletionScore(0.0, 0)] * len(records)
    for index, values in zip(owners, score_rows(loaded, rows, targets, config)):
        scores[index] = CompletionScore(float(sum(v[0] for v in values)), len(values))
    return scores


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
