"""``stage1kit pairs``: judgements in, SFT records and DPO pairs (with manifests) out.

The audit gate runs over the user's code and the critic and miner plugins before the model loads;
heavy imports stay inside the command so ``stage1kit --help`` never imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _miner_names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names and value.strip():
        raise click.BadParameter("give miner names separated by commas, e.g. truncated,off-topic", param_hint="--miners")
    return names


@click.command("pairs")
@click.option("--run-dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="The run directory (holds judgements.jsonl).")
@click.option("--model", required=True, help="Base model that judged the candidates: a checkpoint folder or a hub id.")
@click.option("--revision", default=None, help="Hub revision of --model.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available).")
@click.option("--strategy", type=click.Choice(["all", "worst", "mu-2sigma"]), default="all", show_default=True, help="Which candidates become rejected responses.")
@click.option("--miners", default=None, help="Negative miners to run, comma-separated ('' for none; default: all built-in).")
@click.option("--min-margin", type=float, default=0.0, show_default=True, help="Drop pairs whose critic margin is below this.")
@click.option("--require-order-agreement/--allow-order-disagreement", default=True, show_default=True, help="Drop pairs whose verdict flips with presentation order.")
@click.option("--min-sft-score", type=float, default=None, help="Quality bar of SFT records (default: the stage's).")
@click.option("--critic", default="logprob", show_default=True, help="Critic plugin that checks pairs and negatives.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the miners and of the negative mix.")
@click.option("--user-code", "user_code", multiple=True, type=click.Path(exists=True, path_type=Path), help="Your code that runs with this stage; audited before the model loads (repeatable).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def pairs_command(run_dir, model, revision, device, strategy, miners, min_margin, require_order_agreement, min_sft_score, critic, seed, user_code, quiet) -> None:
    """Build SFT data (best candidates) and DPO pairs (strategy + hard negatives) from judgements."""
    from stage1kit.audit_gate import AuditGateError, plugin_modules, run_audit_gate
    from stage1kit.plugins import PluginError, get_registry
    from stage1kit.rundir import RunDir
    from stage1kit.stages.pairs import PairsSettings, run_pairs_stage
    from stage1kit.stages.support import StageInputError

    run = RunDir.at(run_dir)
    if not run.dataset("judgements").is_file():
        raise click.ClickException(f"{run.dataset('judgements')} does not exist; run `stage1kit judge` first")
    try:
        settings = PairsSettings(critic=critic, strategy=strategy, min_margin=min_margin, require_order_agreement=require_order_agreement, seed=seed)
        names = _miner_names(miners)
        if names is not None:
            settings.miners = names
        if min_sft_score is not None:
            settings.min_sft_score = min_sft_score
        registry = get_registry()
        registrations = [registry.get("critics", settings.critic)] + [registry.get("negative_miners", n) for n in settings.miners]
        audit = run_audit_gate("pairs", user_paths=list(user_code), modules=plugin_modules(registrations))
    except (ValueError, PluginError, AuditGateError) as exc:
        raise click.ClickException(str(exc)) from exc
    loaded = _load(model, revision, device)
    try:
        outcome = run_pairs_stage(run, settings, loaded=loaded, registry=registry, audit=audit, show_progress=not quiet)
    except (StageInputError, PluginError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _summary(outcome)
    if outcome.verdict != "pass":
        raise SystemExit(1)


def _load(model: str, revision: str | None, device: str | None) -> Any:
    import torch

    from stage1kit.loader import CleanModelLoader, LoaderError

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return CleanModelLoader(model, revision=revision, device=device).load()
    except LoaderError as exc:
        raise click.ClickException(str(exc)) from exc


def _summary(outcome: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if outcome.skipped:
        console.print(f"pairs: up to date (manifests match judgements and settings); verdict {outcome.verdict}")
        return
    sft, dpo = outcome.stats["sft"], outcome.stats["dpo"]
    table = Table(title="stage1kit pairs")
    for column in ("", "sft", "dpo"):
        table.add_column(column)
    margin = dpo["margin"]
    rows = [
        ("instructions", sft["instructions"], dpo["instructions"]),
        ("records", sft["records"], dpo["records"]),
        ("acceptance rate", f"{sft['acceptance_rate']:.3f}", f"{dpo['acceptance_rate']:.3f}"),
        ("dropped", json.dumps(sft["dropped"]), json.dumps(dpo["dropped"])),
        ("negative types", "-", json.dumps(dpo["negative_type_histogram"])),
        ("margin mean / min / p50", "-", f"{margin['mean']:.3f} / {margin['min']:.3f} / {margin['p50']:.3f}"),
        ("order agreement", "-", f"{dpo['order_agreement_rate']:.3f}"),
        ("critic queries (calls)", "-", f"{dpo['critic_queries']} ({dpo['critic_calls']})"),
        ("verdict", outcome.stats["verdicts"]["sft"], outcome.stats["verdicts"]["dpo"]),
    ]
    for name, left, right in rows:
        table.add_row(name, escape(str(left)), escape(str(right)))
    console.print(table)
    console.print(f"time {outcome.seconds:.1f}s")
    for path in outcome.outputs:
        console.print(f"wrote {path} (manifest beside it)")
