"""PNG plots of a run's QC figures, drawn with matplotlib's Agg canvas.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas directly, never through
``pyplot``, so rendering a report neither needs a display nor changes the caller's global backend.
A plot is drawn only from data the run has; absent data gives no file (the report says why).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

PLOT_FILES = {
    "funnel": "funnel.png",
    "margins": "margins.png",
    "negative_mix": "negative_mix.png",
    "training_loss": "training_loss.png",
}


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def render_plots(stats: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Draw each plot the stats support into ``out_dir``; returns plot name -> file name."""
    drawers: dict[str, Callable[[Any], bool]] = {
        "funnel": lambda ax: _funnel(ax, stats["funnel"]),
        "margins": lambda ax: _margins(ax, stats["margins"]),
        "negative_mix": lambda ax: _mix(ax, stats["negative_mix"]),
        "training_loss": lambda ax: _losses(ax, stats["training"]),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, draw in drawers.items():
        if _save(out_dir / PLOT_FILES[name], draw):
            written[name] = PLOT_FILES[name]
    return written


def _save(path: Path, draw: Callable[[Any], bool]) -> bool:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    if not draw(figure.add_subplot()):
        return False
    figure.tight_layout()
    figure.savefig(path, format="png")
    return True


def _funnel(ax: Any, steps: list[dict[str, Any]]) -> bool:
    present = [s for s in steps if s["count"] is not None]
    if not present:
        return False
    labels = [s["step"] for s in present][::-1]
    counts = [s["count"] for s in present][::-1]
    bars = ax.barh(labels, counts, color="#4c72b0")
    ax.bar_label(bars, padding=3)
    ax.set_xlabel("count")
    ax.set_title("Acceptance funnel")
    return True


def _margins(ax: Any, margins: dict[str, Any] | None) -> bool:
    if not margins:
        return False
    ax.hist(margins["values"], bins=min(30, max(5, len(margins["values"]) // 2)), color="#55a868")
    ax.axvline(margins["median"], color="black", linestyle="--", label=f"median {margins['median']:.3f}")
    ax.set_xlabel("critic margin (chosen over rejected)")
    ax.set_ylabel("pairs")
    ax.set_title(f"DPO pair margins (n={margins['count']})")
    ax.legend()
    return True


def _mix(ax: Any, mix: dict[str, int] | None) -> bool:
    if not mix:
        return False
    bars = ax.barh(list(mix)[::-1], list(mix.values())[::-1], color="#c44e52")
    ax.bar_label(bars, padding=3)
    ax.set_xlabel("pairs")
    ax.set_title("Rejected-response types in dpo.jsonl")
    return True


def _losses(ax: Any, training: dict[str, dict[str, Any] | None]) -> bool:
    curves = {kind: curve for kind, curve in training.items() if curve}
    if not curves:
        return False
    for kind, curve in curves.items():
        ax.plot(curve["steps"], curve["loss"], marker=".", label=f"{kind.upper()} loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Training loss (trainer_state.json)")
    ax.legend()
    return True


ACCURACY_FILE = "accuracy.png"


def render_accuracy_plot(section: dict[str, Any], out_dir: Path) -> str | None:
    """Exact accuracy per model with its Wilson 95% interval, from an ``accuracy`` report section;
    returns the file name, or None when the section has no accuracy to draw."""
    models = {name: m for name, m in (section.get("models") or {}).items() if m.get("accuracy") is not None}
    if not models:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    return ACCURACY_FILE if _save(out_dir / ACCURACY_FILE, lambda ax: _accuracy(ax, models, section.get("critic") or {})) else None


def _accuracy(ax: Any, models: dict[str, dict[str, Any]], critic: dict[str, Any]) -> bool:
    names = list(models)
    values = [models[n]["accuracy"] for n in names]
    low = [v - (models[n]["ci95"] or [v, v])[0] for n, v in zip(names, values)]
    high = [(models[n]["ci95"] or [v, v])[1] - v for n, v in zip(names, values)]
    bars = ax.bar(names, values, yerr=[low, high], capsize=6, color="#4c72b0")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=3, label_type="center", color="white")
    if critic.get("prefers_correct") is not None:
        ax.axhline(critic["prefers_correct"], color="#c44e52", linestyle="--", label=f"critic prefers the correct answer: {critic['prefers_correct']:.2f}")
        ax.legend(loc="upper left", fontsize="small")
    ax.set_ylim(0, 1.2)  # room for the legend above the bars
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("exact accuracy (greedy)")
    n = next(iter(models.values()))["n"]
    ax.set_title(f"Exact accuracy on {n} held-out questions (95% Wilson intervals)")
    return True
