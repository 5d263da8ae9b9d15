"""``stage1kit init``, ``run``, ``demo`` and ``evaluate``: the whole job, and its starter config."""

from __future__ import annotations

import time
from pathlib import Path

import click

DEMO_DIR = "stage1kit-demo"


def _print_summary(outcomes, run_dir: Path, seconds: float) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"stage1kit run — {run_dir}")
    for column in ("stage", "in", "out", "verdict", "time", "notes"):
        table.add_column(column)
    for o in outcomes:
        notes = _notes(o.stats)
        if o.skipped:
            notes = "skipped (up to date)" + (f"; {notes}" if notes else "")
        table.add_row(o.stage, str(o.records_in), _out_column(o), o.verdict or "-", f"{o.seconds:.1f}s", notes)
    console = Console()
    console.print(table)
    for o in outcomes:
        for warning in o.warnings:
            console.print(f"[bold yellow]warning[/] ({o.stage}): {escape(warning)}", soft_wrap=True)
    console.print(f"total {seconds:.1f}s; outputs in {run_dir}")
    report = run_dir / "eval" / "report.md"
    if report.exists():
        console.print(f"report: {report}")


def _out_column(outcome) -> str:
    """Records written; for stages that write a folder instead (an adapter, the report), the folder."""
    paths = [Path(p) for p in outcome.outputs]
    if not paths or any(p.suffix == ".jsonl" for p in paths):
        return str(outcome.records_out)
    folders = dict.fromkeys((p if p.is_dir() else p.parent).name + "/" for p in paths)
    return ", ".join(folders)


NOTE_KEYS = ("acceptance_rate", "order_agreement_rate", "target_reached", "train_loss", "win_rate", "exact_accuracy")


def _notes(stats: dict, prefix: str = "") -> str:
    """The headline QC figures of a stage; pairs reports its SFT and DPO halves separately."""
    parts = []
    for key in NOTE_KEYS:
        if key in stats:
            value = stats[key]
            parts.append(f"{prefix}{key}={value:.2f}" if isinstance(value, float) else f"{prefix}{key}={value}")
    for part in ("sft", "dpo"):
        if isinstance(stats.get(part), dict):
            sub = stats[part]
            parts.append(f"{part}: {sub.get('records', '?')} records" + (f", {_notes(sub)}" if _notes(sub) else ""))
    return ", ".join(parts)


def run_pipeline(config_path: Path, start: str | None, until: str | None, *, quiet: bool = False, iterations: int = 1) -> Path:
    """Load the config, check it, run the selected stages, print the summary; returns the run dir.

    Errors meant for the user are :class:`~stage1kit.errors.Stage1kitError` and end as a message
    (the CLI group does that); the outputs of finished stages stay on disk and a rerun resumes.
    """
    from stage1kit.config import load_config
    from stage1kit.console import quiet_libraries
    from stage1kit.pipeline import Pipeline, select_stages
    from stage1kit.plugins import get_registry
    from stage1kit.rundir_lock import RunDirLock

    config = load_config(config_path)
    stages = select_stages(start, until)
    if iterations != 1:
        return _run_iterations(config, stages, iterations, quiet=quiet)
    with quiet_libraries(quiet):
        pipeline = Pipeline(config, get_registry(), show_progress=not quiet, echo=click.echo)
        started = time.perf_counter()
        with RunDirLock(config.run_dir):  # a second run on this directory refuses, naming this one
            pipeline.run(stages)
    _print_summary(pipeline.outcomes, config.run_dir, time.perf_counter() - started)
    return config.run_dir


def _run_iterations(config, stages, count: int, *, quiet: bool) -> Path:
    """``--iterations N``: each iteration in ``<run dir>/iter-<t>/`` (see :mod:`stage1kit.iterations`)."""
    from stage1kit.console import quiet_libraries
    from stage1kit.iterations import SUMMARY_HEADER, SUMMARY_JSON, SUMMARY_MD, run_iterations, summary_rows
    from stage1kit.plugins import get_registry
    from stage1kit.rundir_lock import RunDirLock

    started = time.perf_counter()

    def summarise(t, pipeline, run_dir: Path) -> None:
        _print_summary(pipeline.outcomes, run_dir, time.perf_counter() - started)

    with quiet_libraries(quiet), RunDirLock(config.run_dir):
        entries = run_iterations(config, get_registry(), stages, count, show_progress=not quiet, echo=click.echo, on_iteration=summarise)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"stage1kit iterations — {config.run_dir}")
    for column in SUMMARY_HEADER:
        table.add_column(column)
    for row in summary_rows(entries):
        table.add_row(*row)
    Console().print(table)
    click.echo(f"total {time.perf_counter() - started:.1f}s; summary: {config.run_dir / SUMMARY_MD} ({SUMMARY_JSON} beside it)")
    return config.run_dir


@click.command("run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--from", "start", help="First stage to run (instructions, responses, judge, pairs, train-sft, train-dpo, evaluate).")
@click.option("--until", help="Last stage to run.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Self-Rewarding iterations: iteration t+1 runs the pipeline on iteration t's merged DPO model, in <run dir>/iter-<t+1>/.",
)
def run_command(config: Path, start: str | None, until: str | None, quiet: bool, iterations: int) -> None:
    """Run the pipeline CONFIG describes; finished stages whose manifests still match are skipped."""
    run_pipeline(config, start, until, quiet=quiet, iterations=iterations)


@click.command("init")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path), default="stage1kit.toml")
@click.option("--model", help="Base model: a local checkpoint or a hub id. Default: build the tiny model beside the config.")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
def init_command(config: Path, model: str | None, force: bool) -> None:
    """Write a commented starter CONFIG that runs as is (on the tiny model unless --model is given)."""
    from stage1kit.starter import write_starter_config

    if config.exists() and not force:
        raise click.ClickException(f"{config} exists; pass --force to overwrite it")
    small = model is None
    if model is None:
        from stage1kit.tiny_model import build_tiny_model

        model_dir = config.parent / "tiny-model"
        if not model_dir.exists():
            click.echo(f"building the tiny model in {model_dir} ...")
            build_tiny_model(model_dir, seed=0, pretrain_steps=DEMO_PRETRAIN_STEPS)
        model = "tiny-model"
    write_starter_config(config, model=model, small=small)
    click.echo(f"wrote {config}; run it with: stage1kit run {config}")


#: How long the demo's tiny model is fitted to the built-in corpus: enough for word-like text.
DEMO_PRETRAIN_STEPS = 60


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=DEMO_DIR, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo_command(directory: Path, quiet: bool) -> None:
    """Run the whole pipeline offline on CPU on the sums world, ending with exact accuracy base -> SFT -> DPO.

    The base model is the small model shipped in the package (pretrained on the world's texts by
    ``python -m stage1kit.demo_world.build``); the demo copies it, the world's reference answers and
    a config into DIR and runs every stage.
    """
    from stage1kit.demo_world.config import write_demo

    started = time.perf_counter()
    config = write_demo(directory)
    run_dir = run_pipeline(config, None, None, quiet=quiet)
    _print_accuracy(run_dir)
    click.echo(f"demo finished in {time.perf_counter() - started:.1f}s; config: {config}")


def _print_accuracy(run_dir: Path) -> None:
    """The demo's headline: exact accuracy per model with its interval, and the critic's agreement."""
    import json

    report = run_dir / "eval" / "report.json"
    if not report.exists():
        return
    sections = json.loads(report.read_text(encoding="utf-8")).get("evaluators", {})
    section = next((s for s in sections.values() if s.get("kind") == "accuracy" and s.get("models")), None)
    if section is None:
        return
    click.echo(f"exact accuracy on {section['questions']} held-out questions (greedy; 95% Wilson intervals):")
    for name, m in section["models"].items():
        low, high = m["ci95"] or (0.0, 0.0)
        click.echo(f"  {name:<5} {m['accuracy']:.2f}  [{low:.2f}, {high:.2f}]  ({m['correct']}/{m['n']})")
    for p in section.get("paired", []):
        click.echo(f"  {p['from']} -> {p['to']}: {p['delta']:+.2f} (gained {p['gained']}, lost {p['lost']}; exact McNemar p = {p['p_value']:.2g})")
    critic = section.get("critic") or {}
    if critic.get("prefers_correct") is not None:
        click.echo(
            f"the critic preferred the correct answer in {critic['prefers_correct']:.2f} of {critic['mixed_pairs']} judged pairs "
            f"with one correct answer; its best pick was correct {critic['best_pick_accuracy']:.2f} of the time "
            f"(sampled candidates: {critic['candidate_accuracy']:.2f})"
        )


@click.command("evaluate")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="No progress bars.")
def evaluate_command(config: Path, quiet: bool) -> None:
    """Evaluate the trained model of CONFIG's run against its base model (the evaluate stage alone)."""
    run_pipeline(config, "evaluate", "evaluate", quiet=quiet)
