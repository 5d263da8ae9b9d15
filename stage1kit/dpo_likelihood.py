"""What DPO did to the likelihood of the chosen and rejected answers, read from the trainer's logs.

DPO only asks that the chosen answer gain on the rejected one; it can satisfy that by lowering both,
and a model that lowers its chosen answers' likelihood drifts into junk while its preference
accuracy looks fine. TRL logs, every ``logging_steps``, the policy's mean log-likelihood of the
chosen and rejected answers (``logps/chosen``, ``logps/rejected``) and the implicit rewards
``rewards/chosen = beta * (log pi(chosen) - log pi_ref(chosen))``, the reference being the model
DPO started from. This module turns that log history into one record the training manifest keeps
and the report reads, and says when the chosen answers' likelihood fell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: TRL's log keys -> the names the record uses
SERIES = {
    "logps/chosen": "logps_chosen",
    "logps/rejected": "logps_rejected",
    "rewards/chosen": "rewards_chosen",
    "rewards/rejected": "rewards_rejected",
}


def likelihood_trend(log_history: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The chosen/rejected log-likelihood series over training and whether the chosen one fell.

    ``chosen_likelihood_fell`` is true when the last logged ``rewards/chosen`` is below 0 (the
    trained policy gives the chosen answers less likelihood than the model DPO started from), or,
    without rewards in the logs, when ``logps/chosen`` ended lower than it was first logged.
    """
    rows = [entry for entry in log_history if isinstance(entry, Mapping) and any(_number(entry.get(k)) for k in SERIES)]
    trend: dict[str, Any] = {"points": len(rows), "steps": [entry.get("step") for entry in rows]}
    for key, name in SERIES.items():
        values = [float(entry[key]) for entry in rows if _number(entry.get(key))]
        trend[name] = values
        if values:
            trend[f"{name}_first"], trend[f"{name}_last"] = values[0], values[-1]
    for name in ("logps_chosen", "logps_rejected"):
        if trend[name]:
            trend[f"{name}_change"] = trend[name][-1] - trend[name][0]
    if trend["rewards_chosen"]:
        trend["chosen_likelihood_fell"] = trend["rewards_chosen"][-1] < 0
    elif len(trend["logps_chosen"]) > 1:
        trend["chosen_likelihood_fell"] = trend["logps_chosen_change"] < 0
    else:
        trend["chosen_likelihood_fell"] = None  # nothing logged to tell
    return trend


def likelihood_warnings(trend: Mapping[str, Any] | None) -> list[str]:
    """A warning for a DPO run that lowered its chosen answers' likelihood; none otherwise."""
    if not trend or not trend.get("chosen_likelihood_fell"):
        return []
    figures = []
    if "rewards_chosen_last" in trend:
        figures.append(f"rewards/chosen ended at {trend['rewards_chosen_last']:+.3f} (below 0: less likely than before DPO)")
    if "logps_chosen_change" in trend:
        figures.append(f"logps/chosen changed by {trend['logps_chosen_change']:+.3f} over training")
    if "logps_rejected_change" in trend:
        figures.append(f"logps/rejected by {trend['logps_rejected_change']:+.3f}")
    return [
        "DPO lowered the likelihood of the chosen answers (" + "; ".join(figures) + "): the trained model may drift "
        "into junk although it prefers chosen to rejected. Remedies: a lower learning_rate, a higher beta, "
        "warmup_ratio, or an SFT term on the chosen answers (options = { loss_type = [\"sigmoid\", \"sft\"], "
        "loss_weights = [1.0, 1.0] })"
    ]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
