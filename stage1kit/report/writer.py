"""The evaluation report: ``eval/report.json`` for tools, ``eval/report.md`` with PNG plots for people.

The JSON holds every number the Markdown shows (and per-item detail); the Markdown is a readable
page of the evaluators' sections and the run's QC figures. Anything the run lacks is listed under
*Missing* instead of being drawn or estimated. Without matplotlib the report is written without
plots and says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stage1kit.manifest import verdict_of
from stage1kit.records import atomic_write_text

from stage1kit.report import plots, runstats

SCHEMA = "stage1kit.eval-report/1"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
EXAMPLE_CHARS = 400


def write_report(
    eval_dir: Path,
    *,
    run_root: Path,
    sections: dict[str, dict[str, Any]],
    heldout: dict[str, Any],
    models: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> list[Path]:
    """Collect the run's QC figures, draw the plots, write JSON and Markdown; returns the files written."""
    eval_dir = Path(eval_dir)
    eval_dir.mkdir(parents=True, exist_ok=True)
    stats = runstats.collect(Path(run_root))
    notes = list(heldout.get("notes", []))
    if plots.matplotlib_available():
        drawn = plots.render_plots(stats, eval_dir)
    else:
        drawn = {}
        notes.append("matplotlib is not installed: the report has no plots (pip install matplotlib)")
    drawn |= _accuracy_plots(sections, eval_dir) if plots.matplotlib_available() else {}
    missing = [f"evaluator {name}: {s['missing']}" for name, s in sections.items() if s.get("missing")]
    missing += stats["missing"]
    report = {
        "schema": SCHEMA,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "run_dir": str(run_root),
        "heldout": heldout,
        "models": models or {},
        "audit": audit,
        "settings": settings or {},
        "evaluators": sections,
        "qc": {k: stats[k] for k in ("stages", "funnel", "margins", "negative_mix", "training", "likelihood")},
        "warnings": stats["warnings"],
        "plots": drawn,
        "missing": missing,
        "notes": notes,
    }
    json_path, md_path = eval_dir / REPORT_JSON, eval_dir / REPORT_MD
    atomic_write_text(json_path, json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    atomic_write_text(md_path, render_markdown(report))
    return [json_path, md_path] + [eval_dir / name for name in drawn.values()]


def _accuracy_plots(sections: dict[str, dict[str, Any]], eval_dir: Path) -> dict[str, str]:
    """One accuracy plot for the first ``accuracy`` section (keyed ``accuracy`` in ``plots``)."""
    for section in sections.values():
        if section.get("kind") == "accuracy":
            name = plots.render_accuracy_plot(section, eval_dir)
            return {"accuracy": name} if name else {}
    return {}


# --------------------------------------------------------------------------- markdown


def render_markdown(report: dict[str, Any]) -> str:
    parts = [f"# Evaluation report\n\nRun directory: `{report['run_dir']}`  \nGenerated: {report['generated_at']}\n"]
    if report.get("warnings"):
        parts.append(_bullets("Warnings", [f"**{w}**" for w in report["warnings"]], ""))
    parts.append(_heldout(report["heldout"]))
    for name, section in report["evaluators"].items():
        renderer = _RENDERERS.get(section.get("kind", ""), _generic)
        parts.append(renderer(name, section))
        if section.get("kind") == "accuracy" and "accuracy" in report["plots"]:
            parts.append(_image(report["plots"], "accuracy"))
    parts.append(_qc(report["qc"], report["plots"]))
    parts.append(_bullets("Missing", report["missing"], "Nothing is missing."))
    if report["notes"]:
        parts.append(_bullets("Notes", report["notes"], ""))
    return "\n".join(parts)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _bullets(title: str, items: Sequence[str], empty: str) -> str:
    body = "\n".join(f"- {item}" for item in items) if items else empty
    return f"## {title}\n\n{body}\n"


def _quote(text: str) -> str:
    short = text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + " [...]"
    return "```text\n" + (short.replace("```", "'''") or "(empty)") + "\n```"


def _heldout(heldout: dict[str, Any]) -> str:
    rows = [
        ["instructions", heldout.get("instructions")],
        ["SFT records", heldout.get("sft_records")],
        ["source", heldout.get("source")],
    ]
    return "## Held-out data\n\n" + _table(["", ""], rows)


def _win_rate(name: str, s: dict[str, Any]) -> str:
    head = f"## Win rate: trained vs base (`{name}`)\n\n"
    if s.get("missing"):
        return head + f"Missing: {s['missing']}\n"
    ci = s.get("ci95") or [None, None]
    dci = s.get("decisive_ci95") or [None, None]
    rows = [
        ["instructions judged", s["n"]],
        ["wins / losses / ties", f"{s['wins']} / {s['losses']} / {s['ties']}"],
        ["win rate (ties = 1/2)", f"{_fmt(s['win_rate'], 3)} [{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]"],
        ["decisive win rate", f"{_fmt(s['decisive_win_rate'], 3)} [{_fmt(dci[0], 3)}, {_fmt(dci[1], 3)}]"],
        ["identical answers (ties)", s.get("identical_answers")],
        ["orders disagree", s.get("orders_disagree")],
        ["mean P(trained better)", s.get("mean_prob_trained")],
    ]
    answers = s.get("answers", {})
    answer_rows = [[who, a.get("mean_tokens"), a.get("hit_token_limit"), a.get("empty")] for who, a in answers.items()]
    text = head + _table(["", ""], rows)
    text += f"\nIntervals: {s.get('ci_method')}. Judge: {s.get('judge', {}).get('critic', {}).get('name', 'critic')} "
    text += "on the base model, both presentation orders.\n\n"
    text += _table(["answers", "mean tokens", "hit token limit", "empty"], answer_rows)
    for example in s.get("examples", []):
        prob = example.get("prob_trained")
        text += f"\n**{example['outcome']}** (P(trained better) = {_fmt(prob, 3)})\n\n"
        text += f"Instruction:\n{_quote(example['instruction'])}\n\nTrained:\n{_quote(example['trained'])}\n\n"
        text += f"Base:\n{_quote(example['base'])}\n"
    return text


def _likelihood(name: str, s: dict[str, Any]) -> str:
    head = f"## Held-out log-likelihood of SFT completions (`{name}`)\n\n"
    if s.get("missing"):
        return head + f"Missing: {s['missing']}\n"
    rows = [
        [who, m["examples"], m["tokens"], m["mean_token_logprob"], m["perplexity"], m["mean_example_logprob"]]
        for who, m in (("base", s["base"]), ("trained", s["trained"]))
    ]
    text = head + _table(
        ["model", "examples", "tokens", "mean log-lik / token", "perplexity", "mean per example"], rows
    )
    text += (
        f"\nTrained minus base: {_fmt(s.get('delta_mean_token_logprob'))} nats/token; perplexity ratio "
        f"{_fmt(s.get('perplexity_ratio'))}; examples improved: {_fmt(s.get('improved_fraction'), 3)}.\n"
    )
    return text


def _generic(name: str, s: dict[str, Any]) -> str:
    shown = {k: v for k, v in s.items() if k != "items"}
    return f"## Evaluator `{name}`\n\n```json\n{json.dumps(shown, indent=2, default=str)}\n```\n"


def _interval(ci: Any) -> str:
    return f"[{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]" if ci else "missing"


def _accuracy(name: str, s: dict[str, Any]) -> str:
    head = f"## Exact accuracy (`{name}`)\n\n"
    if s.get("missing"):
        return head + f"Missing: {s['missing']}\n"
    verifier = s.get("verifier", {})
    text = head + (
        f"{s['questions']} held-out questions ({s.get('source')}), answered with greedy decoding, checked by "
        f"verifier `{verifier.get('name', '?')}` (no model involved); {s.get('unverifiable', 0)} it could not judge.\n\n"
    )
    rows = [[model, m["correct"], m["n"], m["accuracy"], _interval(m["ci95"])] for model, m in s["models"].items()]
    text += _table(["model", "correct", "items", "accuracy", "95% interval (Wilson)"], rows)
    paired = [[f"{p['from']} -> {p['to']}", p["delta"], p["gained"], p["lost"], p["p_value"]] for p in s.get("paired", [])]
    if paired:
        text += "\nPaired on the same items (" + (s["paired"][0]["test"]) + "):\n\n"
        text += _table(["comparison", "accuracy change", "gained", "lost", "p-value"], paired)
    c = s.get("critic") or {}
    if c.get("judged_instructions"):
        text += "\nThe critic against the verifier, on `judgements.jsonl` (the signal self-judging had):\n\n"
        text += _table(["", "value", "95% interval"], [
            ["instructions judged", c["judged_instructions"], ""],
            ["candidates correct (sampled answers)", c["candidate_accuracy"], ""],
            ["judge's best pick correct", c["best_pick_accuracy"], _interval(c.get("best_pick_ci95"))],
            ["pairs with one correct answer", c["mixed_pairs"], ""],
            ["critic prefers the correct one", c["prefers_correct"], _interval(c.get("prefers_correct_ci95"))],
        ])
    for example in s.get("examples", [])[:6]:
        marks = ", ".join(f"{m}: {a!r} ({'right' if example['correct'][m] else 'wrong'})" for m, a in example["answers"].items())
        text += f"\n- {example['instruction']!r} expects {example['expected']!r} — {marks}"
    return text + "\n"


_RENDERERS = {"win-rate": _win_rate, "heldout-likelihood": _likelihood, "accuracy": _accuracy}


def _image(plots_drawn: dict[str, str], name: str) -> str:
    return f"\n![{name}]({plots_drawn[name]})\n" if name in plots_drawn else "\n(no plot: see Missing)\n"



def _qc(qc: dict[str, Any], drawn: dict[str, str]) -> str:
    text = "## QC across the run\n\n### Stages\n\n"
    text += _table(
        ["stage", "records", "counted from", "verdict"],
        [[stage, s["records"], s["records_source"], verdict_of(s) or "no manifest verdict"] for stage, s in qc["stages"].items()],
    )
    text += "\n### Acceptance funnel\n\n"
    text += _table(["step", "count", "source"], [[s["step"], s["count"], s["source"]] for s in qc["funnel"]])
    text += _image(drawn, "funnel")
    text += "\n### DPO margin histogram\n"
    m = qc["margins"]
    if m:
        text += "\n" + _table(
            ["pairs", "mean", "median", "min", "max"], [[m["count"], m["mean"], m["median"], m["min"], m["max"]]]
        )
    text += _image(drawn, "margins")
    text += "\n### Negative-type mix\n"
    if qc["negative_mix"]:
        text += "\n" + _table(["type", "pairs"], list(qc["negative_mix"].items()))
    text += _image(drawn, "negative_mix")
    text += "\n### Training loss\n"
    curves = [[k, len(c["loss"]), c["loss"][0], c["loss"][-1]] for k, c in qc["training"].items() if c]
    if curves:
        text += "\n" + _table(["trainer", "logged steps", "first loss", "last loss"], curves)
    text += _image(drawn, "training_loss")
    text += "\n### DPO: likelihood of the chosen and rejected answers\n"
    trend = qc.get("likelihood")
    if trend:
        rows = [
            [side, trend.get(f"logps_{side}_first"), trend.get(f"logps_{side}_last"), trend.get(f"rewards_{side}_last")]
            for side in ("chosen", "rejected")
        ]
        text += "\n" + _table(["answers", "logps, first logged batch", "logps, last logged batch", "last reward (vs start of DPO)"], rows)
        text += "\nLog-likelihoods are means over the logged batch (batches differ); the reward compares the same answers with the model DPO started from.\n"
        fell = trend.get("chosen_likelihood_fell")
        text += "\n" + ("The chosen answers became **less likely** during DPO (see Warnings).\n" if fell else
                         "The chosen answers did not become less likely during DPO.\n" if fell is False else "")
    return text
