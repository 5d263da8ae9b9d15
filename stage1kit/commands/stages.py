"""The stand-alone stage commands: ``stage1kit instructions|responses|judge|pairs|train sft|train dpo``.

Each is made from its stage object: its options are generated from ``[model]``, ``[critic]`` (for
stages that judge), ``[prompt]``, ``[engine]`` (for stages that sample or score) and the stage's
settings dataclass, it builds the same config and context a
``stage1kit run`` would, and runs the same :class:`~stage1kit.pipeline.Pipeline` on that one stage.
So a stage run on its own writes exactly what ``run`` writes -- same outputs, same manifests, same
cache key -- and ``run`` afterwards skips it. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from stage1kit.settings import CriticSettings, EngineSettings, ModelSettings, PromptSettings, RunSettings, add_options, apply_options, click_options


def _settings_types(stage: Any) -> list[type]:
    """The dataclasses a stage's command takes options from: its settings, and for a train stage
    the settings class its default trainer registered (so no trainer knob is written twice)."""
    types_ = [stage.settings_type]
    if stage.name.startswith("train-"):
        from stage1kit.plugins import get_registry

        try:
            trainer = get_registry().get("trainers", stage.settings_type().trainer_name(stage.kind)).settings_class()
        except Exception:  # a broken or missing trainer plugin: the command still runs and says so
            trainer = None
        types_ += [trainer] if trainer is not None else []
    return types_


def _common_options(stage: Any) -> list[Callable[[Callable], Callable]]:
    options = [
        click.option("--run-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="The run directory."),
        *click_options(ModelSettings),
        click.option(
            "--user-code", "user_code", multiple=True, type=click.Path(exists=True, path_type=Path),
            help="Your code that runs with this stage; audited before the model loads (repeatable).",
        ),
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]
    if stage.name in ("instructions", "responses", "judge"):  # instructions: to say why it cannot be sharded
        options.append(
            click.option(
                "--shard", metavar="I/N", default=None,
                help="Compute only shard I of N (from 0) of the work list into a shard file; `stage1kit merge` joins them. "
                "responses and judge only.",
            )
        )
    if stage.uses_critic:
        options[2:2] = click_options(CriticSettings, prefix="critic_")
    if stage.uses_prompt:  # --prompt-template, --prompt-separator, --prompt-stop: the [prompt] table
        options[2:2] = click_options(PromptSettings, prefix="prompt_")
    if stage.uses_engine:  # --engine vllm --engine-set tensor_parallel_size=2: the [engine] table
        options[2:2] = click_options(EngineSettings, prefix="engine_")
    return options + [option for cls in _settings_types(stage) for option in click_options(cls, skip=("trainer_settings",))]


def build_config(stage: Any, params: dict[str, Any], **other_stages: Any) -> Any:
    """The config a stand-alone command stands for: its options, defaults for the rest."""
    from stage1kit.config import ConfigError, default_config
    from stage1kit.settings import SettingsError, build_settings

    model_table = apply_options(ModelSettings, params)
    if not model_table.get("id"):
        raise click.UsageError("Missing option '--model'.")
    try:
        tables = {
            "model": build_settings(ModelSettings, model_table, "--model options"),
            "critic": build_settings(CriticSettings, apply_options(CriticSettings, params, prefix="critic_"), "--critic options"),
            "prompt": build_settings(PromptSettings, apply_options(PromptSettings, params, prefix="prompt_"), "--prompt options"),
            "engine": build_settings(EngineSettings, apply_options(EngineSettings, params, prefix="engine_"), "--engine options"),
            stage.name: stage.settings_from_table({k: v for cls in _settings_types(stage) for k, v in apply_options(cls, params).items()}, "options"),
        }
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    run = RunSettings(dir=str(Path(params.pop("run_dir")).resolve()), user_code=[str(Path(p).resolve()) for p in params.pop("user_code")])
    return default_config(Path("command-line options"), run=run, **tables, **other_stages)


def run_one_stage(stage: Any, config: Any, quiet: bool, shard: Any = None) -> Any:
    """Run ``stage`` (or its ``shard``) through the pipeline and print its summary; a FAIL verdict exits 1."""
    from stage1kit.console import quiet_libraries
    from stage1kit.distributed import is_main_process, main_process_echo
    from stage1kit.pipeline import Pipeline
    from stage1kit.plugins import get_registry
    from stage1kit.rundir_lock import RunDirLock, ShardLock

    main = is_main_process()  # under `accelerate launch` every copy runs this; one speaks
    # one run per run directory; the shards of an array share it, each holding its own shard alone
    if shard is None:
        lock = RunDirLock(config.run_dir, across_processes=stage.runs_across_processes)
    else:
        lock = ShardLock(config.run_dir, f"{stage.name}.{shard.tag}")
    with quiet_libraries(quiet), lock:
        pipeline = Pipeline(config, get_registry(), show_progress=main and not quiet, echo=main_process_echo(click.echo), shard=shard)
        (outcome,) = pipeline.run([stage])
    if main:
        print_summary(stage, outcome)
    if main and shard is not None and any(shard.tag in Path(path).name for path in outcome.outputs):  # not when merged already
        click.echo(
            f"shard {shard} of {stage.name} written; once all {shard.count} are, join them with "
            f"`stage1kit merge {stage.name} --run-dir {config.run_dir}`"
        )
    fail_on_verdict(stage, outcome, config.run_dir)
    return outcome


def fail_on_verdict(stage: Any, outcome: Any, run_dir: Path) -> None:
    """A FAIL verdict ends the command with its failed checks (exit 1); the data stays."""
    from stage1kit.pipeline import VerdictFailed

    if outcome.verdict == "fail":
        raise VerdictFailed(
            f"{stage.name}: verdict FAIL; failed checks:\n" + "\n".join(f"  - {reason}" for reason in outcome.failures)
            + f"\nThe data and its manifest are in {run_dir}; `stage1kit manifest show` prints the manifest."
        )


def print_summary(stage: Any, outcome: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"stage1kit {stage.name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [("records in", outcome.records_in), ("records out", outcome.records_out)]
    stats = outcome.stats
    for key in stage.summary_keys:
        if key in stats:
            rows.append((key, stats[key]))
    for part in ("sft", "dpo"):
        if isinstance(stats.get(part), dict):
            for key in ("records", "acceptance_rate", "order_agreement_rate", "dropped"):
                if key in stats[part]:
                    rows.append((f"{part} {key.replace('_', ' ')}", stats[part][key]))
    rows += [("verdict", outcome.verdict or "-"), ("time", f"{outcome.seconds:.1f}s" + (" (skipped: up to date)" if outcome.skipped else ""))]
    for name, value in rows:
        text = f"{value:.3f}" if isinstance(value, float) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        table.add_row(name, escape(text))
    console = Console()
    console.print(table)
    for note in stats.get("notes", []) if isinstance(stats.get("notes"), list) else []:
        console.print(f"note: {escape(str(note))}")
    for warning in outcome.warnings:
        console.print(f"[bold yellow]warning[/]: {escape(warning)}", soft_wrap=True)
    state = "up to date, skipped" if outcome.skipped else f"{outcome.seconds:.1f}s"
    where = ", ".join(str(path) for path in outcome.outputs)
    console.print(f"{stage.name}: {outcome.records_in} records in, verdict {outcome.verdict or '-'} ({state}); outputs and manifests: {where}", soft_wrap=True)


def stage_command(stage: Any, name: str, help_text: str, extra: list[Callable[[Callable], Callable]] = ()) -> click.Command:
    """The click command of one stage, generated from its declarations."""

    def command(**params: Any) -> None:
        from stage1kit.errors import Stage1kitError, as_click_error

        quiet = params.pop("quiet")
        other = {"evaluate": _evaluate_for_heldout(params)} if "heldout" in params else {}
        try:
            shard = _shard(stage, params.pop("shard", None))
            run_one_stage(stage, build_config(stage, params, **other), quiet, shard)
        except Stage1kitError as exc:  # also when the command is invoked on its own, not through the group
            raise as_click_error(exc) from exc

    command.__doc__ = help_text
    return click.command(name, help=help_text)(add_options(command, _common_options(stage) + list(extra)))


def _shard(stage: Any, text: str | None) -> Any:
    """``--shard I/N``, checked before anything loads."""
    if text is None:
        return None
    from stage1kit.shards import ShardSpec, check_shardable

    check_shardable(stage)
    return ShardSpec.parse(text)


def _evaluate_for_heldout(params: dict[str, Any]) -> Any:
    """``stage1kit pairs --heldout N``: the pairs stage sets [evaluate] heldout instructions aside."""
    from stage1kit.stages.evaluate import EvaluateSettings

    heldout = params.pop("heldout")
    return EvaluateSettings() if heldout is None else EvaluateSettings(heldout=heldout)


def _stage(name: str) -> Any:
    from stage1kit.stages.catalogue import find_stage

    return find_stage(name)


instructions_command = stage_command(_stage("instructions"), "instructions", "Generate instructions completion-style and keep those that pass every filter.")
responses_command = stage_command(_stage("responses"), "responses", "Sample k candidate answers per instruction (Best-of-N).")
judge_command = stage_command(_stage("judge"), "judge", "Rank each instruction's candidates with the critic (both orders per pair).")
pairs_command = stage_command(
    _stage("pairs"),
    "pairs",
    "Build SFT data (best candidates) and DPO pairs (strategy + hard negatives) from judgements.",
    [click.option("--heldout", type=int, default=None, help="Judged instructions set aside for evaluation ([evaluate] heldout).")],
)


@click.group("train")
def train_group() -> None:
    """Train on gated data: the dataset's manifest must pass every check first."""


train_group.add_command(stage_command(_stage("train-sft"), "sft", "Supervised fine-tuning on RUN_DIR/sft.jsonl (completion-only loss), into RUN_DIR/train-sft/."))
train_group.add_command(stage_command(_stage("train-dpo"), "dpo", "DPO on RUN_DIR/dpo.jsonl starting from RUN_DIR/train-sft/, into RUN_DIR/train-dpo/."))


@click.command("merge")
@click.argument("stage_name", metavar="STAGE", type=click.Choice(["responses", "judge"]))
@click.option("--run-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path), help="The run directory.")
@click.option("--shards", type=click.IntRange(min=1), default=None, help="How many shards (default: the one count found).")
def merge_command(stage_name: str, run_dir: Path, shards: int | None) -> None:
    """Join the shard files of STAGE (written by `--shard I/N` runs) into its dataset and manifest.

    Checks that every shard is there and finished, and that all were made with one config from the
    same inputs; the result is what a single-process run writes, so `stage1kit run` then skips the
    stage. Shard files are removed only after the dataset and its manifest are written.
    """
    from stage1kit.errors import Stage1kitError, as_click_error
    from stage1kit.rundir import RunDir
    from stage1kit.rundir_lock import RunDirLock
    from stage1kit.shards import merge_shards

    stage = _stage(stage_name)
    try:
        with RunDirLock(run_dir):
            outcome = merge_shards(stage, RunDir.at(run_dir), shards)
        print_summary(stage, outcome)
        fail_on_verdict(stage, outcome, run_dir)
    except Stage1kitError as exc:
        raise as_click_error(exc) from exc
