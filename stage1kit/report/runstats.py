"""The QC figures of a run directory, read from its manifests, datasets and trainer logs.

Everything here is read as it is on disk, tolerant of missing files and keys: the report shows what
a run produced and lists what it did not, and never fills a gap with a guess. Manifests are read as
plain JSON (``<stage>.manifest.json``: ``qc``, ``outputs[].records``, ``verdict``).
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from stage1kit.dpo_likelihood import likelihood_trend, likelihood_warnings
from stage1kit.records import RecordError, iter_records
from stage1kit.rundir import DATASET_STAGES, RunDir

FUNNEL = (
    ("instructions generated", "instructions", "generated"),
    ("instructions accepted", "instructions", "records"),
    ("responses", "responses", "records"),
    ("judged", "judgements", "records"),
    ("sft records", "sft", "records"),
    ("dpo records", "dpo", "records"),
)


def read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON object, or ``None`` and why not."""
    if not path.is_file():
        return None, f"{path.name} not found"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return None, f"{path.name} unreadable: {exc}"
    return (data, None) if isinstance(data, dict) else (None, f"{path.name} is not a JSON object")


def read_dataset(path: Path) -> tuple[list[dict[str, Any]] | None, str | None]:
    if not path.is_file():
        return None, f"{path.name} not found"
    try:
        return list(iter_records(path)), None
    except RecordError as exc:
        return None, str(exc)


def find_number(data: Any, key: str, depth: int = 2) -> int | float | None:
    """``data[key]`` or the same key in a nested dict (``qc.generation.generated``), if numeric."""
    if not isinstance(data, dict):
        return None
    value = data.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if depth > 0:
        for nested in data.values():
            found = find_number(nested, key, depth - 1)
            if found is not None:
                return found
    return None


def manifest_records(manifest: dict[str, Any], dataset: Path) -> int | None:
    """The record count a manifest gives its dataset output."""
    outputs = [o for o in manifest.get("outputs") or [] if isinstance(o, dict)]
    named = [o for o in outputs if Path(str(o.get("path", ""))).name == dataset.name]
    for output in named or outputs[:1]:
        count = output.get("records")
        if isinstance(count, int) and not isinstance(count, bool):
            return count
    return None


def stage_summary(run: RunDir, stage: str) -> dict[str, Any]:
    """Manifest verdict, QC section and record count of one dataset stage, with their sources."""
    manifest, problem = read_json(run.manifest(stage))
    data = run.dataset(stage)
    records = manifest_records(manifest, data) if manifest else None
    source = f"{run.manifest(stage).name} outputs[].records" if records is not None else None
    if records is None and data.is_file():
        rows, _ = read_dataset(data)
        records, source = (len(rows), f"{data.name} (lines counted)") if rows is not None else (None, None)
    return {
        "manifest": str(run.manifest(stage)) if manifest else None,
        "manifest_problem": problem,
        "verdict": manifest.get("verdict") if manifest else None,
        "qc": manifest.get("qc") if manifest else None,
        "records": records,
        "records_source": source,
    }


def funnel(stages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    steps = []
    for label, stage, key in FUNNEL:
        summary = stages[stage]
        if key == "records":
            count, source = summary["records"], summary["records_source"]
        else:
            count = find_number(summary["qc"], key)
            source = f"{stage}.manifest.json qc.{key}" if count is not None else None
        steps.append({"step": label, "count": count, "source": source})
    return steps


def margins(dpo: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    values = [float(r["margin"]) for r in dpo or [] if isinstance(r.get("margin"), (int, float))]
    if not values:
        return None
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def pair_label(record: dict[str, Any]) -> str:
    """``negative:<type>`` for mined negatives, ``strategy:<name>`` for Best-of-N pairs."""
    if record.get("negative_type"):
        return f"negative:{record['negative_type']}"
    if record.get("strategy"):
        return f"strategy:{record['strategy']}"
    return f"{record.get('source') or 'unlabelled'}:unknown"


def negative_mix(dpo: list[dict[str, Any]] | None) -> dict[str, int] | None:
    if not dpo:
        return None
    return dict(sorted(Counter(pair_label(r) for r in dpo).items(), key=lambda kv: (-kv[1], kv[0])))


def trainer_state(train_dir: Path) -> Path | None:
    """``trainer_state.json`` in the output folder, else in its latest ``checkpoint-N``."""
    direct = train_dir / "trainer_state.json"
    if direct.is_file():
        return direct
    checkpoints = [
        p for p in train_dir.glob("checkpoint-*/trainer_state.json") if re.fullmatch(r"checkpoint-\d+", p.parent.name)
    ]
    return max(checkpoints, key=lambda p: int(p.parent.name.split("-")[1]), default=None)


def training_curve(train_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Loss by step from TRL's ``log_history``, and the last value of every other logged number."""
    state_path = trainer_state(train_dir)
    if state_path is None:
        where = train_dir.name + ("/ has no trainer_state.json" if train_dir.is_dir() else "/ not found")
        return None, where
    state, problem = read_json(state_path)
    history = [e for e in (state or {}).get("log_history") or [] if isinstance(e, dict)]
    points = [(e.get("step"), e["loss"]) for e in history if isinstance(e.get("loss"), (int, float))]
    if not points:
        return None, problem or f"{state_path} has no loss in log_history"
    last: dict[str, float] = {}
    for entry in history:
        last.update({k: v for k, v in entry.items() if isinstance(v, (int, float)) and k not in ("step", "epoch")})
    return {
        "source": str(state_path),
        "steps": [s if isinstance(s, int) else i for i, (s, _) in enumerate(points)],
        "loss": [float(v) for _, v in points],
        "last_logged": last,
    }, None


def dpo_likelihood(train_dir: Path) -> dict[str, Any] | None:
    """The chosen/rejected log-likelihood over DPO training (:mod:`stage1kit.dpo_likelihood`)."""
    state_path = trainer_state(train_dir)
    state, _ = read_json(state_path) if state_path is not None else (None, None)
    history = [e for e in (state or {}).get("log_history") or [] if isinstance(e, dict)]
    trend = likelihood_trend(history)
    return trend | {"source": str(state_path)} if trend["points"] else None


def collect(run_root: Path) -> dict[str, Any]:
    """Every QC figure the report shows, with a ``missing`` list of what the run lacks."""
    run = RunDir(Path(run_root))
    stages = {stage: stage_summary(run, stage) for stage in DATASET_STAGES}
    missing = [f"{stage}: {s['manifest_problem']}" for stage, s in stages.items() if s["manifest_problem"]]
    steps = funnel(stages)
    missing += [f"funnel step '{s['step']}': no count in the run" for s in steps if s["count"] is None]
    dpo, problem = read_dataset(run.dataset("dpo"))
    margin = margins(dpo)
    mix = negative_mix(dpo)
    if margin is None:
        missing.append(f"margin histogram: {problem or 'dpo.jsonl has no numeric margin'}")
    if mix is None:
        missing.append(f"negative-type mix: {problem or 'dpo.jsonl is empty'}")
    training = {}
    for kind in ("sft", "dpo"):
        curve, why = training_curve(run.train_dir(kind))
        training[kind] = curve
        if curve is None:
            missing.append(f"training loss ({kind}): {why}")
    likelihood = dpo_likelihood(run.train_dir("dpo"))  # None for runs whose logs hold no logps
    return {
        "stages": stages,
        "funnel": steps,
        "margins": margin,
        "negative_mix": mix,
        "training": training,
        "likelihood": likelihood,
        "warnings": likelihood_warnings(likelihood),
        "missing": missing,
    }
