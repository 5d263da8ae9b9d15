"""Registers the built-in evaluators. Imported whenever plugins are listed, so it stays light:
the evaluator modules import only the stage1kit core, and torch/matplotlib load when they run."""

from __future__ import annotations

from stage1kit import Register, hookimpl


@hookimpl
def register_evaluators(register: Register) -> None:
    """``win-rate``: trained vs base on held-out instructions; ``heldout-likelihood``: SFT targets;
    ``accuracy``: exact accuracy of base, SFT and DPO models under the configured verifier."""
    from stage1kit_eval.accuracy import AccuracyEvaluator
    from stage1kit_eval.likelihood import HeldoutLikelihoodEvaluator
    from stage1kit_eval.win_rate import WinRateEvaluator

    register("win-rate", WinRateEvaluator)
    register("heldout-likelihood", HeldoutLikelihoodEvaluator)
    register("accuracy", AccuracyEvaluator)
