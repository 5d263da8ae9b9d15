"""Pipeline stages: each reads and writes its files in a run directory and writes a manifest.

Every stage module exposes a settings dataclass (``*Settings``, defaults that work on the tiny
model) and a ``run_*_stage`` function that the CLI command and the pipeline both call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StageOutcome:
    """What one stage did, for the end-of-run summary."""

    stage: str
    records_in: int = 0
    records_out: int = 0
    skipped: bool = False
    seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None
