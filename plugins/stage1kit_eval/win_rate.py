"""Win rate of the trained model against the base model on held-out instructions.

Both models answer each held-out instruction with the plain training prompt; the shared critic,
run on the *base* model (the judge every data stage used), compares trained-vs-base in both orders.
A verdict counts as a tie when its confidence is below ``tie_confidence`` or (by default) when the
two presentation orders disagree, since then position bias outweighs the preference. The win rate
counts a tie as half a win; its 95% interval is the Wilson score interval, which stays inside [0, 1]
and keeps sensible coverage at the small held-out sizes a Stage-1 run has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from stage1kit import EvalContext, PairQuery, PairVerdict

from stage1kit_eval.answers import Answer, GenerationSettings, generate_answers

Z_95 = 1.959963984540054
CI_METHOD = "Wilson score interval (95%); ties count as half a win"
OUTCOMES = ("win", "loss", "tie")


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; ``None`` when there is nothing to estimate."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval holds p exactly: at 0/n and n/n rounding would leave it a hair outside
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def classify(verdict: PairVerdict, *, tie_confidence: float, orders_must_agree: bool) -> str:
    """``win`` / ``loss`` / ``tie`` for response A (the trained model's answer)."""
    if verdict.confidence < tie_confidence or verdict.prob_a == 0.5:
        return "tie"
    if orders_must_agree and not verdict.orders_agree:
        return "tie"
    return "win" if verdict.prob_a > 0.5 else "loss"


def summarise(outcomes: Sequence[str]) -> dict[str, Any]:
    """Counts, win rate (ties as half) and decisive win rate (ties left out), each with its interval."""
    counts = {o: sum(1 for x in outcomes if x == o) for o in OUTCOMES}
    n = len(outcomes)
    decisive = counts["win"] + counts["loss"]
    score = counts["win"] + 0.5 * counts["tie"]
    return {
        "n": n,
        "wins": counts["win"],
        "losses": counts["loss"],
        "ties": counts["tie"],
        "win_rate": score / n if n else None,
        "ci95": listed(wilson_interval(score, n)),
        "decisive_win_rate": counts["win"] / decisive if decisive else None,
        "decisive_ci95": listed(wilson_interval(counts["win"], decisive)),
        "ci_method": CI_METHOD,
    }


def listed(interval: tuple[float, float] | None) -> list[float] | None:
    """An interval as a JSON list (None stays None), for the report."""
    return list(interval) if interval is not None else None


@dataclass
class WinRateEvaluator:
    """Settings of the ``win-rate`` evaluator (each a config key under ``[evaluate.evaluator_settings.win-rate]``)."""

    max_new_tokens: int = 64
    batch_size: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    tie_confidence: float = 0.1
    orders_must_agree: bool = True
    examples_per_outcome: int = 2

    def evaluate(self, ctx: EvalContext) -> dict[str, Any]:
        """Generate, judge and summarise; a section of the evaluation report."""
        instructions = list(ctx.heldout_instructions)
        if not instructions:
            return {"kind": "win-rate", "missing": "no held-out instructions to answer"}
        gen = GenerationSettings(self.max_new_tokens, self.batch_size, self.temperature, self.top_p)
        trained = generate_answers(ctx.trained, instructions, gen, seed=ctx.seed, prompt_format=ctx.prompt_format)
        base = generate_answers(ctx.base, instructions, gen, seed=ctx.seed, prompt_format=ctx.prompt_format)
        items = self.judge(ctx, instructions, trained, base)
        outcomes = [item["outcome"] for item in items]
        judged = [item for item in items if item["prob_trained"] is not None]
        return {
            "kind": "win-rate",
            **summarise(outcomes),
            "identical_answers": sum(1 for i in items if i["identical"]),
            "orders_disagree": sum(1 for i in judged if not i["orders_agree"]),
            "mean_prob_trained": _mean([i["prob_trained"] for i in judged]),
            "mean_margin": _mean([i["margin"] for i in judged]),
            "answers": {"trained": _answer_stats(trained), "base": _answer_stats(base)},
            "settings": asdict(self),
            "judge": {"critic": _describe(ctx.critic), "model": ctx.base.model_id, "orders": "both, averaged"},
            "examples": self.examples(items),
            "items": items,
        }

    def judge(
        self, ctx: EvalContext, instructions: list[str], trained: list[Answer], base: list[Answer]
    ) -> list[dict[str, Any]]:
        """One item per instruction; identical answers are ties without asking the critic."""
        to_judge = [i for i, (t, b) in enumerate(zip(trained, base)) if t.text != b.text]
        queries = [PairQuery(instructions[i], trained[i].text, base[i].text) for i in to_judge]
        verdicts = dict(zip(to_judge, ctx.critic.compare(ctx.base, queries))) if queries else {}
        items = []
        for i, instruction in enumerate(instructions):
            verdict = verdicts.get(i)
            outcome = (
                "tie"
                if verdict is None
                else classify(verdict, tie_confidence=self.tie_confidence, orders_must_agree=self.orders_must_agree)
            )
            items.append(
                {
                    "instruction": instruction,
                    "trained": trained[i].text,
                    "base": base[i].text,
                    "outcome": outcome,
                    "identical": verdict is None,
                    "prob_trained": verdict.prob_a if verdict else None,
                    "margin": verdict.margin if verdict else None,
                    "confidence": verdict.confidence if verdict else None,
                    "orders_agree": verdict.orders_agree if verdict else None,
                }
            )
        return items

    def examples(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The most confident wins, losses and ties, for a reader to check the numbers against."""
        chosen = []
        for outcome in OUTCOMES:
            matching = [i for i in items if i["outcome"] == outcome]
            matching.sort(key=lambda i: -(i["confidence"] or 0.0))
            chosen += matching[: self.examples_per_outcome]
        return chosen


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _answer_stats(answers: Sequence[Answer]) -> dict[str, Any]:
    return {
        "mean_tokens": _mean([a.num_tokens for a in answers]),
        "hit_token_limit": sum(1 for a in answers if a.hit_limit),
        "empty": sum(1 for a in answers if not a.text),
    }


def _describe(critic: Any) -> dict[str, Any]:
    try:
        return dict(critic.describe())
    except Exception as exc:  # provenance is best effort; the verdicts are what matter
        return {"error": f"describe() failed: {type(exc).__name__}: {exc}"}
