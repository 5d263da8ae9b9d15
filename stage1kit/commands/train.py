"""``stage1kit train sft`` and ``stage1kit train dpo``: gated training on a run directory.

Heavy imports stay inside the commands, so ``stage1kit train --help`` starts without torch. A gate
refusal prints every failed check and exits 1, with no traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

REQUIRE_EXAMPLE = "--require min_order_agreement_rate=0.6 (or min_margin.mean=0.2, max_<metric>=...)"


def _parse_requirements(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    """``--require KEY=VALUE`` (repeatable) as the gate's ``{min_<metric>|max_<metric>: float}``."""
    requirements: dict[str, float] = {}
    for text in values:
        key, sep, number = (part.strip() for part in text.partition("="))
        kind, _, metric = key.partition("_")
        if not sep or kind not in ("min", "max") or not metric:
            raise click.BadParameter(f"'{text}' is not KEY=VALUE with KEY min_<metric> or max_<metric>; write e.g. {REQUIRE_EXAMPLE}", ctx, param)
        try:
            requirements[key] = float(number)
        except ValueError:
            raise click.BadParameter(f"'{text}': the value '{number}' is not a number; write e.g. {REQUIRE_EXAMPLE}", ctx, param) from None
    return requirements


def _parse_modules(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """``--target-modules q_proj,v_proj`` as a list (``all-linear`` stays PEFT's shorthand)."""
    if value is None:
        return None
    modules = [name.strip() for name in value.split(",") if name.strip()]
    if not modules:
        raise click.BadParameter("names no module; write e.g. --target-modules q_proj,v_proj or --target-modules all-linear", ctx, param)
    return modules


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
        click.option("--lora-alpha", type=int, default=None, help="LoRA alpha (scale = alpha / rank)."),
        click.option("--lora-dropout", type=float, default=None, help="Dropout on the LoRA branch, in [0, 1)."),
        click.option("--target-modules", default=None, callback=_parse_modules, help="Modules LoRA adapts, comma separated (e.g. q_proj,v_proj), or all-linear (the default)."),
        click.option("--full", is_flag=True, default=None, help="Full fine-tuning instead of LoRA."),
        click.option("--report-to", default=None, help="Tracker passed to TRL: none, tensorboard, wandb..."),
        click.option("--min-records", type=int, default=None, help="Gate: refuse datasets with fewer records (trainer default: 4)."),
        click.option("--require", "requirements", multiple=True, callback=_parse_requirements, metavar="KEY=VALUE", help="Gate: a QC requirement on the dataset manifest, e.g. min_order_agreement_rate=0.6 or min_margin.mean=0.2 (repeatable; overrides the trainer's default of the same name)."),
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
        lora_alpha=params["lora_alpha"],
        lora_dropout=params["lora_dropout"],
        target_modules=params["target_modules"],
        min_records=params["min_records"],
        requirements=params["requirements"],
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
