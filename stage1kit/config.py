"""The run config: one TOML file naming the model, the plugins per stage, their settings and the run dir.

Each stage's table is checked against that stage's ``*Settings`` dataclass: an unknown key, a wrong
type or an unknown plugin name is an error naming the key and the file, before any work starts.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: stage -> (config table, "module:SettingsClass"); the order is the pipeline's order.
STAGES: dict[str, tuple[str, str]] = {
    "instructions": ("instructions", "stage1kit.stages.instructions:InstructionsSettings"),
    "responses": ("responses", "stage1kit.stages.responses:ResponsesSettings"),
    "judge": ("judge", "stage1kit.stages.judge:JudgeSettings"),
    "pairs": ("pairs", "stage1kit.stages.pairs:PairsSettings"),
    "train-sft": ("train.sft", "stage1kit.stages.train:TrainSettings"),
    "train-dpo": ("train.dpo", "stage1kit.stages.train:TrainSettings"),
    "evaluate": ("evaluate", "stage1kit.stages.evaluate:EvaluateSettings"),
}
STAGE_ORDER = tuple(STAGES)


class ConfigError(ValueError):
    """The config file is wrong; the message names the file and the key."""


@dataclass
class ModelSettings:
    """Which base model every stage loads through CleanModelLoader."""

    id: str = ""
    revision: str | None = None
    dtype: str | None = None
    device: str | None = None
    trust_remote_code: bool = False
    allow_remote_code: bool = False


@dataclass
class RunSettings:
    """Where the run lives and what code the audit gate checks before each model-loading stage.

    Seeds are per stage (each stage table has ``seed``), so one stage can be resampled alone.
    """

    dir: str = "runs/stage1"
    user_code: list[str] = field(default_factory=list)


@dataclass
class PipelineConfig:
    path: Path
    run: RunSettings
    model: ModelSettings
    stages: dict[str, Any]
    raw: dict[str, Any]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def run_dir(self) -> Path:
        return _resolve(self.base_dir, self.run.dir)

    @property
    def model_id(self) -> str:
        candidate = _resolve(self.base_dir, self.model.id)
        return str(candidate) if candidate.exists() else self.model.id

    @property
    def user_code(self) -> list[Path]:
        return [_resolve(self.base_dir, p) for p in self.run.user_code]


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def settings_class(stage: str) -> type:
    target = STAGES[stage][1]
    module_name, attribute = target.split(":")
    return getattr(importlib.import_module(module_name), attribute)  # stage1kit: allow[SK300] reason: fixed names of the project's own stage modules


def _type_ok(value: Any, annotation: Any) -> bool:
    """A small structural check of TOML values against dataclass annotations."""
    if annotation is Any or annotation is typing.Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        return isinstance(value, list)
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def build_settings(cls: type, table: dict[str, Any], where: str) -> Any:
    """``cls(**table)``, with unknown keys and wrong types reported as ``where.key``."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}'; known keys: {', '.join(sorted(known))}")
        if not _type_ok(value, hints.get(key, Any)):
            raise ConfigError(f"{where}.{key}: expected {_type_name(hints.get(key))}, got {type(value).__name__} {value!r}")
    return cls(**table)


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _table(raw: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = raw
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline config."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; write one with `stage1kit init {path}`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    top_level = {"run", "model", "train"} | {table.split(".")[0] for table, _ in STAGES.values()}
    for key in raw:
        if key not in top_level:
            raise ConfigError(f"{path}: unknown section [{key}]; sections are {', '.join(sorted(top_level))}")
    for key in raw.get("train", {}):
        if key not in ("sft", "dpo"):
            raise ConfigError(f"{path}: unknown section [train.{key}]; use [train.sft] or [train.dpo]")
    run = build_settings(RunSettings, raw.get("run", {}), f"{path}: [run]")
    model = build_settings(ModelSettings, raw.get("model", {}), f"{path}: [model]")
    if not model.id:
        raise ConfigError(f"{path}: [model] id is required (a local checkpoint path or a hub id)")
    stages = {}
    for stage, (table, _) in STAGES.items():
        stages[stage] = build_settings(settings_class(stage), _table(raw, table), f"{path}: [{table}]")
    return PipelineConfig(path=path, run=run, model=model, stages=stages, raw=raw)


#: settings field -> plugin kind, for the names a config may give
PLUGIN_FIELDS = {
    "generator": "generators",
    "critic": "critics",
    "trainer": "trainers",
    "miners": "negative_miners",
    "evaluators": "evaluators",
}


def config_problems(config: PipelineConfig, registry: Any) -> list[str]:
    """Plugin names the config gives that no loaded plugin registered, and a missing model path."""
    from stage1kit.plugins import UnknownPluginError

    problems = []
    for stage, settings in config.stages.items():
        table = STAGES[stage][0]
        for field_name, kind in PLUGIN_FIELDS.items():
            value = getattr(settings, field_name, None)
            names = value if isinstance(value, (list, tuple)) else ([value] if value else [])
            for name in names:
                try:
                    registry.get(kind, name)
                except UnknownPluginError as exc:
                    problems.append(f"{config.path}: [{table}] {field_name} = {name!r}: {exc}")
    model_path = _resolve(config.base_dir, config.model.id)
    looks_local = config.model.id.startswith((".", "/", "~")) or model_path.exists()
    if looks_local and not model_path.is_dir():
        problems.append(f"{config.path}: [model] id = {config.model.id!r}: no checkpoint folder at {model_path}")
    return problems
