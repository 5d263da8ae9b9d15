"""Iterations (Self-Rewarding's M1 -> M2 -> M3): ``stage1kit run CONFIG --iterations N``.

Iteration ``t`` runs the whole pipeline in ``<run dir>/iter-<t>/``. Its model is iteration
``t-1``'s trained model: the DPO output (an adapter on that iteration's model, or a whole
checkpoint) merged through the clean loader into ``iter-<t-1>/merged-model/``. So M_t generates,
judges and trains on the data for M_{t+1}, with the critic being M_t itself.

Iteration ``t``'s config is the user's config with, in code (no TOML is rewritten):
- ``[model] id`` = ``iter-<t-1>/merged-model`` (iteration 1 keeps the user's model);
- ``[run] dir`` = ``iter-<t>``;
- every stage seed offset by ``t - 1`` (the ``seed`` of each stage table, and a trainer's ``seed``
  when its table sets one), so each iteration samples fresh instructions, answers, held-out
  instructions and accuracy questions;
- ``iteration = {"iteration": t, "previous": <iter-(t-1)/train-dpo/manifest.json>, "previous_sha256":
  <its sha256>}`` (``previous`` is null for iteration 1), which every stage's cache key carries: it is
  hashed into, and shown in, each manifest's config, and a changed previous iteration reruns all of
  this one.

Resume: every pipeline skips its up-to-date stages, and a merged checkpoint is written again only
when it is missing or the DPO manifest it was merged from changed (``merged-from.json`` in it records
which). After the last iteration ``iterations.json``, ``iterations.md`` and ``iterations.png`` (exact
accuracy and win rate per iteration) are written into the run dir.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stage1kit.config import PipelineConfig
from stage1kit.errors import Stage1kitError
from stage1kit.hashing import file_sha256

MERGED_DIR = "merged-model"
MERGE_RECORD = "merged-from.json"
SUMMARY_JSON, SUMMARY_MD, SUMMARY_PLOT = "iterations.json", "iterations.md", "iterations.png"


class IterationError(Stage1kitError):
    """Iterations cannot run as asked; the message says what to change."""


def iteration_dir(run_dir: Path, t: int) -> Path:
    return run_dir / f"iter-{t}"


def dpo_manifest(run_dir: Path, t: int) -> Path:
    """Iteration ``t``'s DPO training manifest: what the next iteration links to."""
    from stage1kit.rundir import RunDir, manifest_path_for

    return manifest_path_for(RunDir.at(iteration_dir(run_dir, t)).train_dir("dpo"))


def earlier_iteration_dirs(iteration: dict[str, Any] | None) -> list[Path]:
    """``iter-1`` .. ``iter-<t-1>`` for iteration t's link (``PipelineConfig.iteration``); [] outside
    iterations and for iteration 1."""
    if not iteration or not iteration.get("previous"):
        return []
    root = Path(iteration["previous"]).parents[2]  # <root>/iter-<t-1>/train-dpo/manifest.json
    return [iteration_dir(root, s) for s in range(1, int(iteration["iteration"]))]


def offset_seed(settings: Any, offset: int) -> Any:
    """Stage settings with their ``seed`` (and their trainer's ``seed``, when set) moved by ``offset``."""
    changes: dict[str, Any] = {}
    if "seed" in {f.name for f in dataclasses.fields(settings)}:
        changes["seed"] = settings.seed + offset
    trainer_settings = getattr(settings, "trainer_settings", None)
    if isinstance(trainer_settings, dict) and isinstance(trainer_settings.get("seed"), int):
        changes["trainer_settings"] = trainer_settings | {"seed": trainer_settings["seed"] + offset}
    return dataclasses.replace(settings, **changes) if changes else settings


def iteration_config(first: PipelineConfig, t: int, model_id: str | None = None) -> PipelineConfig:
    """Iteration ``t``'s config from the user's (iteration 1's) config; ``model_id`` is the previous
    iteration's merged checkpoint (required for ``t > 1``)."""
    if t > 1 and model_id is None:
        raise IterationError(f"iteration {t} needs iteration {t - 1}'s merged model")
    root = first.run_dir.resolve()  # the links name absolute paths, the same from any working directory
    previous = dpo_manifest(root, t - 1) if t > 1 else None
    if previous is not None and not previous.is_file():
        raise IterationError(f"iteration {t} starts from {previous}, which does not exist; rerun iteration {t - 1}")
    return dataclasses.replace(
        first,
        run=dataclasses.replace(first.run, dir=str(iteration_dir(root, t))),
        model=dataclasses.replace(first.model, id=model_id, revision=None) if model_id else first.model,
        stages={name: offset_seed(settings, t - 1) for name, settings in first.stages.items()},
        iteration={
            "iteration": t,
            "previous": str(previous) if previous else None,
            "previous_sha256": file_sha256(previous) if previous else None,
        },
    )


def merge_trained(config: PipelineConfig, models: Any, echo: Callable[[str], None] = print) -> Path:
    """Iteration ``config``'s DPO output as a whole checkpoint in ``<its run dir>/merged-model``;
    written only when missing or when the DPO manifest it was merged from changed."""
    from stage1kit.rundir import RunDir, manifest_path_for

    train_dir = RunDir.at(config.run_dir).train_dir("dpo")
    manifest = manifest_path_for(train_dir)
    if not manifest.is_file():
        raise IterationError(f"{train_dir} has no finished DPO run to merge; the iteration must run through train-dpo")
    destination = config.run_dir / MERGED_DIR
    source = {"dpo_manifest": str(manifest), "dpo_manifest_sha256": file_sha256(manifest)}
    record = destination / MERGE_RECORD
    if record.is_file() and json.loads(record.read_text(encoding="utf-8")) == source:
        echo(f"[merge] {destination} up to date (merged from the current DPO output); skipped")
        return destination
    echo(f"[merge] merging {train_dir} into a whole checkpoint at {destination}")
    models.save_merged(train_dir, destination)
    from stage1kit.records import atomic_write_text

    atomic_write_text(record, json.dumps(source, indent=2) + "\n")
    return destination


def run_iterations(
    first: PipelineConfig,
    registry: Any,
    stages: Sequence[Any],
    count: int,
    *,
    show_progress: bool = True,
    echo: Callable[[str], None] = print,
    on_iteration: Callable[[int, Any, Path], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``count`` iterations in ``<run dir>/iter-<t>/``; returns the per-iteration summaries
    (also written as ``iterations.json`` / ``.md`` / ``.png`` into the run dir)."""
    from stage1kit.pipeline import Pipeline

    if count < 1:
        raise IterationError(f"--iterations {count}: give 1 or more")
    from stage1kit.stages.catalogue import CATALOGUE, stage_names

    if count > 1 and stage_names(stages) != stage_names(CATALOGUE):
        # each iteration makes its own data from its own model: a span of stages has nothing to start from
        raise IterationError(f"--iterations {count} runs every stage of every iteration; drop --from / --until")
    entries, model_id = [], None
    for t in range(1, count + 1):
        config = iteration_config(first, t, model_id)
        echo(f"=== iteration {t} of {count}: model {config.model_id} -> {config.run_dir}")
        pipeline = Pipeline(config, registry, show_progress=show_progress, echo=echo)
        pipeline.run(stages)
        if on_iteration is not None:
            on_iteration(t, pipeline, config.run_dir)
        if t < count:
            assert pipeline.models is not None
            pipeline.models.release()  # the merge loads its own copy
            model_id = str(merge_trained(config, pipeline.models, echo))
        entries.append(iteration_summary(config))
    write_summary(first.run_dir, entries)
    return entries


def iteration_summary(config: PipelineConfig) -> dict[str, Any]:
    """One iteration's line: its model, seeds, link to the previous iteration, and headline figures."""
    report_path = config.run_dir / "eval" / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    return {
        "iteration": config.iteration["iteration"] if config.iteration else 1,
        "run_dir": str(config.run_dir),
        "model": config.model_id,
        "previous": (config.iteration or {}).get("previous"),
        "previous_sha256": (config.iteration or {}).get("previous_sha256"),
        "seeds": {name: s.seed for name, s in config.stages.items() if hasattr(s, "seed")},
        "accuracy": accuracy_of(report),
        "win_rate": win_rate_of(report),
        "report": str(report_path) if report_path.is_file() else None,
    }


def accuracy_of(report: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """Exact accuracy per model (``base``, ``sft``, ``dpo``) with its interval, when the report has it."""
    section = (report.get("evaluators") or {}).get("accuracy") or {}
    models = section.get("models") or {}
    found = {name: {"accuracy": m["accuracy"], "ci95": m.get("ci95")} for name, m in models.items() if m.get("accuracy") is not None}
    return found or None


def win_rate_of(report: dict[str, Any]) -> dict[str, Any] | None:
    section = (report.get("evaluators") or {}).get("win-rate") or {}
    if section.get("win_rate") is None:
        return None
    return {"win_rate": section["win_rate"], "ci95": section.get("ci95")}


# --------------------------------------------------------------------------- summary files


def write_summary(run_dir: Path, entries: list[dict[str, Any]]) -> dict[str, Path]:
    """``iterations.json``, ``iterations.md`` and (when there is a figure to draw) ``iterations.png``."""
    from stage1kit.records import atomic_write_text

    run_dir.mkdir(parents=True, exist_ok=True)
    written = {"json": run_dir / SUMMARY_JSON, "md": run_dir / SUMMARY_MD}
    plot = render_iterations_plot(entries, run_dir / SUMMARY_PLOT)
    if plot is not None:
        written["png"] = plot
    payload = {"schema": "stage1kit.iterations/1", "iterations": entries, "plot": plot.name if plot else None}
    atomic_write_text(written["json"], json.dumps(payload, indent=2) + "\n")
    atomic_write_text(written["md"], summary_markdown(entries, plot.name if plot else None))
    return written


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _figure(entry: dict[str, Any], model: str) -> str:
    value = (entry["accuracy"] or {}).get(model)
    if value is None:
        return "-"
    ci = value.get("ci95") or [None, None]
    return f"{_fmt(value['accuracy'])} [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def short_model_name(model: str) -> str:
    """``iter-1/merged-model`` for a merged checkpoint, a local folder's name, a hub id as is."""
    path = Path(model)
    if path.name == MERGED_DIR:
        return f"{path.parent.name}/{MERGED_DIR}"
    return path.name if path.is_absolute() else model


def summary_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    """Per iteration: number, model, exact accuracy of base/SFT/DPO with intervals, win rate."""
    rows = []
    for e in entries:
        win = e["win_rate"]
        rows.append([str(e["iteration"]), short_model_name(e["model"]), *(_figure(e, m) for m in ("base", "sft", "dpo")), _fmt(win["win_rate"]) if win else "-"])
    return rows


SUMMARY_HEADER = ["iteration", "model", "base accuracy", "SFT accuracy", "DPO accuracy", "win rate"]


def summary_markdown(entries: list[dict[str, Any]], plot: str | None) -> str:
    lines = [
        "# Iterations",
        "",
        "Each iteration's model is the previous iteration's DPO model, merged; seeds are offset by iteration - 1.",
        "Accuracy: exact, greedy, with 95% Wilson intervals; win rate: the trained model against the iteration's own base.",
        "",
        "| " + " | ".join(SUMMARY_HEADER) + " |",
        "|" + "---|" * len(SUMMARY_HEADER),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(entries)]
    if plot:
        lines += ["", f"![accuracy and win rate per iteration]({plot})"]
    return "\n".join(lines) + "\n"


def render_iterations_plot(entries: list[dict[str, Any]], path: Path) -> Path | None:
    """Exact accuracy (base, SFT, DPO) and win rate per iteration; None when no iteration has either."""
    from stage1kit.report.plots import _save, matplotlib_available

    if not matplotlib_available():
        return None
    iterations = [e["iteration"] for e in entries]
    series = {f"{m} accuracy": [((e["accuracy"] or {}).get(m) or {}).get("accuracy") for e in entries] for m in ("base", "sft", "dpo")}
    series["win rate"] = [(e["win_rate"] or {}).get("win_rate") for e in entries]
    series = {name: values for name, values in series.items() if any(v is not None for v in values)}
    if not series:
        return None

    def draw(ax: Any) -> bool:
        for name, values in series.items():
            points = [(i, v) for i, v in zip(iterations, values) if v is not None]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", linestyle="--" if name == "win rate" else "-", label=name)
        ax.set_xticks(iterations)
        ax.set_xlabel("iteration")
        ax.set_ylim(0, 1.05)
        ax.set_title("Exact accuracy and win rate per iteration")
        ax.legend(loc="lower right", fontsize="small")
        return True

    return path if _save(path, draw) else None
