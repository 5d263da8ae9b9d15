"""``stage1kit instructions``, ``responses`` and ``judge``: one data stage each, on a run directory.

Each command audits the user's code and the plugins it will run, loads the model clean (only then),
runs the stage with a progress bar, and prints a summary table. Heavy imports stay inside the
command functions so ``stage1kit --help`` never imports torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click


def _parse_options(pairs: Sequence[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON where they parse (numbers, booleans, lists)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=flag)
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


def common_options(func: Callable) -> Callable:
    """Options every generation command takes."""
    decorators = [
        click.option("--run-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="The run directory."),
        click.option("--model", "model", required=True, help="Base model: a local checkpoint folder or a hub id."),
        click.option("--revision", default=None, help="Hub revision (commit, tag or branch) of --model."),
        click.option("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)."),
        click.option("--dtype", default=None, help="float32, bfloat16, float16 or auto."),
        click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed (recorded in provenance)."),
        click.option("--batch-size", type=int, default=None, help="Prompts per forward pass / generate call."),
        click.option(
            "--user-code", "user_code", multiple=True, type=click.Path(exists=True, path_type=Path),
            help="Your code that runs with this stage; audited before the model loads (repeatable).",
        ),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _registry() -> Any:
    from stage1kit.plugins import PluginError, get_registry

    try:
        return get_registry()
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc


def _audit(stage: str, registry: Any, kinds_and_names: Sequence[tuple[str, str]], user_code: Sequence[Path]) -> dict[str, Any]:
    """Resolve the plugins first (an unknown name is a clean error), then audit them and the user's code."""
    from stage1kit.audit_gate import AuditGateError, plugin_modules, run_audit_gate
    from stage1kit.plugins import PluginError

    try:
        registrations = [registry.get(kind, name) for kind, name in kinds_and_names]
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        return run_audit_gate(stage, user_paths=list(user_code), modules=plugin_modules(registrations))
    except AuditGateError as exc:
        raise click.ClickException(str(exc)) from exc


def _load(model: str, revision: str | None, device: str | None, dtype: str | None) -> Any:
    import torch

    from stage1kit.loader import CleanModelLoader, LoaderError

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return CleanModelLoader(model, revision=revision, device=device, dtype=dtype).load()
    except LoaderError as exc:
        raise click.ClickException(str(exc)) from exc


def _run(stage_call: Callable[[], Any]) -> Any:
    """Run a stage; user-facing failures become click errors, bugs keep their traceback."""
    from stage1kit.plugins import PluginError
    from stage1kit.manifest import ManifestError
    from stage1kit.stages.support import StageInputError

    try:
        return stage_call()
    except (StageInputError, PluginError, ManifestError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def _summary(outcome: Any, keys: Sequence[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"stage1kit {outcome.stage}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("records in", str(outcome.records_in))
    table.add_row("records out", str(outcome.records_out))
    for key in keys:
        if key in outcome.stats:
            value = outcome.stats[key]
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else json.dumps(value) if isinstance(value, dict) else str(value))
    table.add_row("verdict", outcome.verdict or "-")
    table.add_row("time", f"{outcome.seconds:.1f}s")
    console = Console()
    console.print(table)
    for note in outcome.stats.get("notes", []):
        console.print(f"note: {note}")
    for path in outcome.outputs:
        console.print(f"wrote {path}")


def _require(path: Path, producer: str) -> None:
    if not path.is_file():
        raise click.ClickException(f"{path} does not exist; run `stage1kit {producer}` first")


@click.command("instructions")
@common_options
@click.option("--target", type=int, default=None, help="Instructions to accept (default: the stage's).")
@click.option("--generator", default="self-instruct", show_default=True, help="Instruction generator plugin.")
@click.option("--critic", default="logprob", show_default=True, help="Critic plugin that scores quality.")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False), default=None, help="Your seed tasks (JSONL, one {\"instruction\": ...} per line).")
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE", help="A generator setting, e.g. --set max_rounds=10 (repeatable).")
def instructions_command(run_dir, model, revision, device, dtype, seed, batch_size, user_code, quiet, target, generator, critic, seed_file, options):
    """Generate instructions completion-style and keep those that pass every filter."""
    from stage1kit.rundir import RunDir
    from stage1kit.stages.instructions import InstructionsSettings, run_instructions_stage

    generator_settings = _parse_options(options, "--set")
    if seed_file:
        generator_settings["seed_file"] = str(seed_file)
    critic_settings: dict[str, Any] = {}
    if batch_size:
        generator_settings.setdefault("batch_size", batch_size)
        critic_settings["batch_size"] = batch_size
    settings = InstructionsSettings(generator=generator, critic=critic, seed=seed, generator_settings=generator_settings, critic_settings=critic_settings)
    if target is not None:
        settings.target = target
    registry = _registry()
    audit = _audit("instructions", registry, [("generators", generator), ("critics", critic)], user_code)
    loaded = _load(model, revision, device, dtype)
    outcome = _run(lambda: run_instructions_stage(RunDir.at(run_dir), settings, loaded=loaded, registry=registry, audit=audit, show_progress=not quiet))
    _summary(outcome, ("accepted", "target", "target_reached", "generated", "acceptance_rate", "rejected", "rounds", "mean_quality"))


@click.command("responses")
@common_options
@click.option("-k", "k", type=int, default=None, help="Candidates per instruction (default: the stage's).")
@click.option("--generator", default="best-of-n", show_default=True, help="Response generator plugin.")
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE", help="A generator setting, e.g. --set temperature=0.7 (repeatable).")
def responses_command(run_dir, model, revision, device, dtype, seed, batch_size, user_code, quiet, k, generator, options):
    """Sample k candidate answers per instruction (Best-of-N)."""
    from stage1kit.rundir import RunDir
    from stage1kit.stages.responses import ResponsesSettings, run_responses_stage

    run = RunDir.at(run_dir)
    _require(run.dataset("instructions"), "instructions")
    generator_settings = _parse_options(options, "--set")
    if batch_size:
        generator_settings.setdefault("batch_size", batch_size)
    settings = ResponsesSettings(generator=generator, seed=seed, generator_settings=generator_settings)
    if k is not None:
        settings.k = k
    registry = _registry()
    audit = _audit("responses", registry, [("generators", generator)], user_code)
    loaded = _load(model, revision, device, dtype)
    outcome = _run(lambda: run_responses_stage(run, settings, loaded=loaded, registry=registry, audit=audit, show_progress=not quiet))
    _summary(outcome, ("instructions", "candidates", "empty", "duplicates", "truncated"))


@click.command("judge")
@common_options
@click.option("--critic", default="logprob", show_default=True, help="Critic plugin that compares candidates.")
@click.option("--round-robin-max-k", type=int, default=None, help="Largest k ranked by full round-robin; above it the pivot scheme.")
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE", help="A critic setting, e.g. --set max_response_chars=1000 (repeatable).")
def judge_command(run_dir, model, revision, device, dtype, seed, batch_size, user_code, quiet, critic, round_robin_max_k, options):
    """Rank each instruction's candidates with the log-prob critic (both orders per pair)."""
    from stage1kit.rundir import RunDir
    from stage1kit.stages.judge import JudgeSettings, run_judge_stage

    run = RunDir.at(run_dir)
    _require(run.dataset("responses"), "responses")
    critic_settings = _parse_options(options, "--set")
    if batch_size:
        critic_settings.setdefault("batch_size", batch_size)
    settings = JudgeSettings(critic=critic, critic_settings=critic_settings)
    if round_robin_max_k is not None:
        settings.round_robin_max_k = round_robin_max_k
    registry = _registry()
    audit = _audit("judge", registry, [("critics", critic)], user_code)
    loaded = _load(model, revision, device, dtype)
    outcome = _run(lambda: run_judge_stage(run, settings, loaded=loaded, registry=registry, audit=audit, show_progress=not quiet))
    _summary(outcome, ("judgements", "comparisons", "order_agreement_rate", "mean_abs_margin", "mean_confidence"))
