"""The starter config ``stage1kit init`` and ``stage1kit demo`` write.

It is generated from the stages' settings dataclasses — every key with its default and its help
text as a comment — so the starter can never drift from what the loader accepts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from stage1kit.config import RUN_TABLES
from stage1kit.stages.catalogue import CATALOGUE
from stage1kit.records import atomic_write_text

#: Sizes that keep the tiny-model run under two minutes on two CPU cores; a real run raises them.
#: The tiny model's critic only shows position bias (its two orders never agree), so the demo keeps
#: order-disagreeing pairs; with a real model leave ``require_order_agreement = true``.
SMALL_RUN: dict[str, dict[str, Any]] = {
    "instructions": {"target": 24},
    "responses": {"k": 4},
    "pairs": {"require_order_agreement": False},
    "train-sft": {"max_steps": 8, "logging_steps": 1},
    "train-dpo": {"max_steps": 8, "logging_steps": 1},
    "evaluate": {"heldout": 6, "max_new_tokens": 32},
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} to TOML")


def _section(title: str, cls: type, overrides: dict[str, Any], doc: str | None = None) -> list[str]:
    lines = [f"[{title}]"]
    if doc:
        lines.insert(0, f"# {doc}")
    defaults = cls()
    for f in dataclasses.fields(cls):
        value = overrides.get(f.name, getattr(defaults, f.name))
        help_text = f.metadata.get("help")
        if help_text:
            lines.append(f"# {help_text}")
        if value is None:
            lines.append(f"# {f.name} =   (unset)")
        else:
            lines.append(f"{f.name} = {_toml_value(value)}")
    return lines + [""]


def _first_line(doc: str | None) -> str | None:
    return doc.strip().splitlines()[0] if doc else None


def starter_config_text(model: str, small: bool = True) -> str:
    sizes = SMALL_RUN if small else {}
    lines = [
        "# stage1kit pipeline config. Every key is shown with its default; delete what you do not change.",
        "# Run it with `stage1kit run <this file>`; check it first with `stage1kit doctor <this file>`.",
        "",
    ]
    run_overrides = {"run": {"dir": "run"}, "model": {"id": model}}
    for table, cls in RUN_TABLES.items():
        lines += _section(table, cls, run_overrides.get(table, {}), _first_line(cls.__doc__))
    for stage in CATALOGUE:
        cls = stage.settings_type
        lines += _section(stage.table, cls, sizes.get(stage.name, {}), _first_line(cls.__doc__))
    return "\n".join(lines)


def write_starter_config(path: str | Path, *, model: str, small: bool = True) -> Path:
    path = Path(path)
    atomic_write_text(path, starter_config_text(model, small=small))
    return path
