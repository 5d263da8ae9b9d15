"""Registers the built-in log-prob critic ("logprob").

This module stays light (no torch import): the plugin manager imports it whenever the CLI starts.
The critic itself lives in :mod:`stage1kit_hf.logprob_critic` and is imported by the factory.
"""

from __future__ import annotations

from typing import Any

from stage1kit import hookimpl


def make_logprob_critic(**settings: Any) -> Any:
    """Factory: ``LogprobCritic`` built from the user's settings (see ``CriticSettings``)."""
    from stage1kit_hf.logprob_critic import CriticSettings, LogprobCritic

    return LogprobCritic(CriticSettings(**settings))


@hookimpl
def register_critics(register) -> None:
    register("logprob", make_logprob_critic, settings="stage1kit_hf.logprob_critic:CriticSettings")
