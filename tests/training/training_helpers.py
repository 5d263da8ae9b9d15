"""Helpers for the training tests: crafted SFT/DPO records and their manifests.

A run directory built with these holds a small crafted SFT and DPO dataset in the project's record format, with
a passing manifest written by ``stage1kit.manifest.write_manifest``, exactly as ``stage1kit pairs``
leaves them. Tests spoil one thing at a time and check the gate names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stage1kit.prompting import training_completion, training_prompt
from stage1kit.records import write_records_atomic
from stage1kit.rundir import RunDir

CLEAN_AUDIT = {"clean": True, "findings": 0, "files_checked": 3, "paths": [], "modules": ["stage1kit_hf"]}

TOPICS = [
    ("Name a colour of the sky.", "The sky is often blue.", "Sky."),
    ("Give one use of water.", "Water is used for drinking.", "Water water water water."),
    ("Say what a cat eats.", "A cat eats fish and meat.", "I cannot help with that."),
    ("List two fruits.", "Two fruits are apples and pears.", "Fruits."),
    ("Describe the sun briefly.", "The sun is a hot bright star.", "The moon is cold."),
    ("Name a large animal.", "The elephant is a large animal.", "Small."),
]


def sft_records(model_id: str) -> list[dict[str, Any]]:
    provenance = {"plugin": "test", "seed": 0, "round": 0, "model_id": model_id, "model_revision": None}
    return [
        {
            "id": f"sft-{i}",
            "prompt": training_prompt(instruction),
            "completion": training_completion(good),
            "instruction_id": f"ins-{i}",
            "score": 0.8,
            "provenance": provenance,
        }
        for i, (instruction, good, _) in enumerate(TOPICS)
    ]


def dpo_records(model_id: str) -> list[dict[str, Any]]:
    provenance = {"plugin": "test", "seed": 0, "round": 0, "model_id": model_id, "model_revision": None}
    return [
        {
            "id": f"dpo-{i}",
            "prompt": training_prompt(instruction),
            "chosen": training_completion(good),
            "rejected": training_completion(bad),
            "instruction_id": f"ins-{i}",
            "margin": 1.5,
            "confidence": 0.6,
            "orders_agree": True,
            "source": "strategy",
            "negative_type": None,
            "strategy": "worst",
            "provenance": provenance,
        }
        for i, (instruction, good, bad) in enumerate(TOPICS)
    ]


def write_dataset(
    run_dir: RunDir,
    kind: str,
    records: list[dict[str, Any]],
    *,
    model: dict[str, Any],
    qc: dict[str, Any] | None = None,
    thresholds: dict[str, float] | None = None,
    audit: dict[str, Any] | None = CLEAN_AUDIT,
) -> Path:
    """Write ``<kind>.jsonl`` and its manifest the way the pairs stage does."""
    from stage1kit.manifest import write_manifest

    path = run_dir.dataset(kind)
    write_records_atomic(path, records)
    text_fields = ("prompt", "completion") if kind == "sft" else ("prompt", "chosen", "rejected")
    write_manifest(
        kind,
        path,
        inputs=[],
        config={"stage": "pairs", "test": True},
        model=model,
        plugins={"test": {"name": "crafted"}},
        qc=qc if qc is not None else {"records": len(records), "acceptance_rate": 0.75, "order_agreement_rate": 0.9},
        thresholds=thresholds or {},
        audit=audit,
        text_fields=text_fields,
    )
    return path
