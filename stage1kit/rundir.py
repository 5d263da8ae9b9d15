"""Where each stage's files live inside a run directory.

One JSONL file and one manifest per dataset stage, a folder per trainer, a folder for evaluation.
Every stage, command and plugin finds its files through :class:`RunDir`, never by spelling paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATASET_STAGES = ("instructions", "responses", "judgements", "sft", "dpo")


@dataclass(frozen=True)
class RunDir:
    root: Path

    @classmethod
    def at(cls, root: str | Path) -> "RunDir":
        path = Path(root)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def dataset(self, stage: str) -> Path:
        """``instructions.jsonl``, ``responses.jsonl``, ``judgements.jsonl``, ``sft.jsonl``, ``dpo.jsonl``."""
        if stage not in DATASET_STAGES:
            raise ValueError(f"unknown dataset stage '{stage}'; stages are {', '.join(DATASET_STAGES)}")
        return self.root / f"{stage}.jsonl"

    def manifest(self, stage: str) -> Path:
        return manifest_path_for(self.dataset(stage))

    def train_dir(self, kind: str) -> Path:
        """``train-sft/`` or ``train-dpo/``: adapter weights plus the training manifest."""
        return self.root / f"train-{kind}"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    def artifact(self, name: str) -> Path:
        """A stage input or output by its catalogue name: a dataset (``sft``), a trainer's folder
        (``train-sft``), ``eval`` or ``heldout``."""
        if name.startswith("train-"):
            return self.train_dir(name.removeprefix("train-"))
        if name == "eval":
            return self.eval_dir
        if name == "heldout":
            return self.heldout
        return self.dataset(name)

    @property
    def heldout(self) -> Path:
        """Instructions kept out of training, for the evaluators."""
        return self.root / "heldout.jsonl"


def manifest_path_for(data_path: str | Path) -> Path:
    """``x.jsonl`` -> ``x.manifest.json`` beside it; a directory -> ``dir/manifest.json``."""
    path = Path(data_path)
    if path.suffix == ".jsonl":
        return path.with_suffix(".manifest.json")
    return path / "manifest.json"
