"""The starter config ``stage1kit init`` and ``stage1kit demo`` write.

It is generated from the stages' settings dataclasses — every key with its default and its help
text as a comment — so the starter can never drift from what the loader accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stage1kit.config import RUN_TABLES
from stage1kit.stages.catalogue import CATALOGUE
from stage1kit.records import atomic_write_text
from stage1kit.settings import settings_help

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
    lines = ([f"# {doc}"] if doc else []) + [f"[{title}]"]
    for row in settings_help(cls):
        if row["name"] == "trainer_settings":
            continue  # the trainer's own keys follow, each under its name
        lines += _setting_lines(row, overrides)
    return lines


def _setting_lines(row: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    """``# help`` then ``key = value``; a setting left at its default is shown commented when
    ``commented`` (a plugin's settings), and an unset one always is."""
    name = row["name"]
    value = overrides.get(name, row["default"])
    lines = [f"# {row['help']}"] if row["help"] else []
    if value is None:
        return lines + [f"# {name} =   (unset)"]
    prefix = "# " if row.get("commented") and name not in overrides else ""
    return lines + [f"{prefix}{name} = {_toml_value(value)}"]


def _trainer_lines(stage: Any, overrides: dict[str, Any]) -> list[str]:
    """The default trainer's settings, from the class it registered: commented out unless set."""
    from stage1kit.plugins import get_registry

    name = stage.settings_type().trainer_name(stage.kind)
    try:
        rows = get_registry().get("trainers", name).settings_fields()
    except Exception:  # the trainer plugin is missing or broken: `stage1kit doctor` says so
        return [f"# (settings of trainer '{name}': see `stage1kit plugins --settings`)"]
    lines = [f"# settings of trainer '{name}' (`stage1kit plugins --settings` lists them):"]
    for row in rows:
        lines += _setting_lines(row | {"commented": True}, overrides)
    return lines


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
        lines += _section(table, cls, run_overrides.get(table, {}), _first_line(cls.__doc__)) + [""]
    for stage in CATALOGUE:
        cls, overrides = stage.settings_type, sizes.get(stage.name, {})
        lines += _section(stage.table, cls, overrides, _first_line(cls.__doc__))
        if stage.name.startswith("train-"):
            lines += _trainer_lines(stage, overrides)
        lines.append("")
    return "\n".join(lines)


def write_starter_config(path: str | Path, *, model: str, small: bool = True) -> Path:
    path = Path(path)
    atomic_write_text(path, starter_config_text(model, small=small))
    return path
