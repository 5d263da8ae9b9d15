"""``stage1kit train sft`` and ``stage1kit train dpo``: gated training on a run directory.

Heavy imports stay inside the commands, so ``stage1kit train --help`` starts without torch. A gate
refusal prints every failed check and exits 1, with no traceback.
"""

from __future__ import annotations

from pathlib import Path

import click


def _training_options(command):
    """The options both subcommands share (applied bottom-up, so listed in reverse)."""
    options = [
        click.option("--run-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="The run directory holding sft.jsonl / dpo.jsonl and their manifests."),
        click.option("--model", required=True, help="The base model (local checkpoint or hub id) the data was generated with."),
        click.option("--revision", default=None, help="Model revision (hub models)."),
        click.option("--trainer", default=None, help="Trainer plugin name (default: trl-sft / trl-dpo)."),
        click.option("--max-steps", type=int, default=None, help="Stop after this many optimiser steps."),
        click.option("--epochs", type=float, default=None, help="Passes over the data (when --max-steps is unset)."),
        click.option("--learning-rate", type=float, default=None, help="Peak learning rate."),
        click.option("--batch-size", type=int, default=None, help="Examples (DPO: pairs) per device per step."),
        click.option("--lora-r", type=int, default=None, help="LoRA rank."),
        click.option("--full", is_flag=True, default=None, help="Full fine-tuning instead of LoRA."),
        click.option("--report-to", default=None, help="Tracker passed to TRL: none, tensorboard, wandb..."),
        click.option("--user-code", "user_code", multiple=True, type=click.Path(exists=True, path_type=Path), help="Your code the audit checks before training (repeatable)."),
        click.option("--allow-model-mismatch", is_flag=True, help="Train a model other than the one that generated the data (recorded in the training manifest)."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run(kind: str, params: dict, extra: dict) -> None:
    from stage1kit.audit_gate import AuditGateError
    from stage1kit.gate import GateRefused, TrainingDataError
    from stage1kit.loader import LoaderError
    from stage1kit.plugins import PluginError, get_registry
    from stage1kit.rundir import RunDir
    from stage1kit.stages.train import TrainSettings, TrainStageError, run_train_stage

    settings = TrainSettings(
        trainer=params["trainer"],
        max_steps=params["max_steps"],
        epochs=params["epochs"],
        learning_rate=params["learning_rate"],
        batch_size=params["batch_size"],
        lora_r=params["lora_r"],
        full=params["full"] or None,
        report_to=params["report_to"],
        **extra,
    )
    if not params["run_dir"].is_dir():
        raise click.ClickException(f"no run directory at {params['run_dir']}; build one with `stage1kit run CONFIG --until pairs`")
    try:
        outcome = run_train_stage(
            RunDir.at(params["run_dir"]),
            kind,
            settings,
            registry=get_registry(),
            model=params["model"],
            revision=params["revision"],
            audit_user_paths=list(params["user_code"]),
            allow_model_mismatch=params["allow_model_mismatch"],
            show_progress=not params["quiet"],
        )
    except (GateRefused, TrainingDataError, TrainStageError, AuditGateError, PluginError, LoaderError) as exc:
        raise click.ClickException(str(exc)) from exc
    output = outcome.outputs[0]
    if outcome.skipped:
        click.echo(f"train {kind}: {output} is up to date (its manifest matches the data and settings); skipped")
        return
    loss = outcome.stats.get("train_loss")
    loss_text = f", train_loss {loss:.4f}" if isinstance(loss, float) else ""
    what = "adapter" if outcome.stats.get("adapter") else "checkpoint"
    click.echo(f"train {kind}: {outcome.records_in} records, {outcome.seconds:.1f}s{loss_text}; {what} and manifest in {output}")
    if outcome.stats.get("model_override"):
        click.echo("note: trained across models (--allow-model-mismatch); recorded in the training manifest")


@click.group("train")
def train_group() -> None:
    """Train on gated data: the dataset's manifest must pass every check first."""


@train_group.command("sft")
@_training_options
def sft_command(**params) -> None:
    """Supervised fine-tuning on RUN_DIR/sft.jsonl (completion-only loss), into RUN_DIR/train-sft/."""
    _run("sft", params, {})


@train_group.command("dpo")
@_training_options
@click.option("--beta", type=float, default=None, help="DPO beta.")
@click.option("--merge-sft", is_flag=True, default=None, help="Merge the SFT adapter and train a fresh one (saves a whole checkpoint).")
def dpo_command(beta: float | None, merge_sft: bool | None, **params) -> None:
    """DPO on RUN_DIR/dpo.jsonl starting from RUN_DIR/train-sft/, into RUN_DIR/train-dpo/."""
    _run("dpo", params, {"beta": beta, "merge_sft": merge_sft or None})
