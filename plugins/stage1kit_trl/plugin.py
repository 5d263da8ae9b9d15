"""Registers the ``trl-sft`` and ``trl-dpo`` trainers.

Imported whenever plugins are listed, so it imports nothing heavy: the factories import the
trainer modules (torch, TRL, PEFT) only when the engine builds a trainer.
"""

from __future__ import annotations

from typing import Any

from stage1kit import hookimpl


def make_sft_trainer(**settings: Any) -> Any:
    """``trl-sft``: keyword arguments are :class:`stage1kit_trl.config.SFTSettings` fields."""
    from stage1kit_trl.config import SFTSettings
    from stage1kit_trl.sft import TrlSFTTrainer

    return TrlSFTTrainer(SFTSettings(**settings))


def make_dpo_trainer(**settings: Any) -> Any:
    """``trl-dpo``: keyword arguments are :class:`stage1kit_trl.config.DPOSettings` fields."""
    from stage1kit_trl.config import DPOSettings
    from stage1kit_trl.dpo import TrlDPOTrainer

    return TrlDPOTrainer(DPOSettings(**settings))


@hookimpl
def register_trainers(register: Any) -> None:
    """The TRL + PEFT trainers; the engine gates their data before calling them."""
    register("trl-sft", make_sft_trainer, settings="stage1kit_trl.config:SFTSettings")
    register("trl-dpo", make_dpo_trainer, settings="stage1kit_trl.config:DPOSettings")
