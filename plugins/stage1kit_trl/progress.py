"""Training progress drawn like every other stage's: one rich bar, never TRL's tqdm bar or raw dicts.

The Trainer adds either a tqdm ``ProgressCallback`` or, with ``disable_tqdm``, a ``PrinterCallback``
that prints each ``{'loss': ...}`` log dict to stdout, quiet or not. :func:`use_stage_console`
removes both and, when progress is on, adds :class:`RichTrainingProgress` (steps done, latest loss).
Metrics still reach ``trainer.state.log_history`` and any ``report_to`` integration.
"""

from __future__ import annotations

from typing import Any

from transformers import PrinterCallback, ProgressCallback, TrainerCallback


class RichTrainingProgress(TrainerCallback):
    """A rich progress bar over optimiser steps, its label showing the latest logged loss."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=state.max_steps or None, completed=state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        loss = (logs or {}).get("loss")
        if self._progress is not None and isinstance(loss, (int, float)):
            self._progress.update(self._task, description=f"{self.label} loss {loss:.4f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)
            self._progress.stop()
            self._progress = None


def use_stage_console(trainer: Any, label: str, *, show: bool) -> Any:
    """Swap the Trainer's console callbacks for stage1kit's bar (``show``) or for nothing; returns it."""
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if show:
        trainer.add_callback(RichTrainingProgress(label))
    return trainer
