"""The run config: one TOML file naming the model, the critic, each stage's settings and the run dir.

Its tables come from the stage catalogue: each stage's table is checked against that stage's
settings dataclass, so an unknown key, a wrong type or a value out of range is an error naming the
file, the table and the key, before any work starts. :func:`config_problems` then builds every
plugin each stage will build (factories read settings only; models come later), so a plugin name
nobody registered or a setting a plugin rejects is found then too, not when its stage starts.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stage1kit.errors import Stage1kitError
from stage1kit.models import resolve_model_id
from stage1kit.settings import (
    CriticSettings,
    EngineSettings,
    ModelSettings,
    ParallelSettings,
    PromptSettings,
    RunSettings,
    SettingsError,
    build_settings,
)
from stage1kit.stages.base import Stage
from stage1kit.stages.catalogue import CATALOGUE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: the run-wide tables (every other table belongs to a stage)
RUN_TABLES: dict[str, type] = {
    "run": RunSettings,
    "model": ModelSettings,
    "critic": CriticSettings,
    "prompt": PromptSettings,
    "engine": EngineSettings,
    "parallel": ParallelSettings,
}


class ConfigError(Stage1kitError, ValueError):
    """The config file is wrong; the message names the file and the key."""


@dataclass
class PipelineConfig:
    """A validated run config: run-wide settings, and one settings object per stage."""

    path: Path
    run: RunSettings
    model: ModelSettings
    critic: CriticSettings
    stages: dict[str, Any]
    prompt: PromptSettings = field(default_factory=PromptSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    #: how the work-list stages run: one process, or shards on local processes or Ray (not in any cache key)
    parallel: ParallelSettings = field(default_factory=ParallelSettings)
    #: set on the configs of ``stage1kit run --iterations N``: ``{"iteration", "previous",
    #: "previous_sha256"}`` (see :mod:`stage1kit.iterations`); every stage's cache key carries it
    iteration: dict[str, Any] | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def run_dir(self) -> Path:
        return _resolve(self.base_dir, self.run.dir)

    @property
    def model_id(self) -> str:
        return resolve_model_id(self.model.id, self.base_dir)

    @property
    def user_code(self) -> list[Path]:
        return [_resolve(self.base_dir, p) for p in self.run.user_code]


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _table(raw: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = raw
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _check_sections(raw: dict[str, Any], path: Path, catalogue: Sequence[Stage]) -> None:
    """Every table is a known one and holds a table (``train = 5`` is not one)."""
    tables = set(RUN_TABLES) | {stage.table for stage in catalogue}
    top_level = {table.split(".")[0] for table in tables}
    for key, value in raw.items():
        if key not in top_level:
            raise ConfigError(f"{path}: unknown section [{key}]; sections are {', '.join(sorted(top_level))}")
        _require_table(value, key, path)
        if key not in tables:  # a parent of dotted tables, e.g. [train] of [train.sft]
            for sub, sub_value in value.items():
                if f"{key}.{sub}" not in tables:
                    known = ", ".join(f"[{t}]" for t in sorted(tables) if t.startswith(key + "."))
                    raise ConfigError(f"{path}: unknown section [{key}.{sub}]; use {known}")
                _require_table(sub_value, f"{key}.{sub}", path)


def _require_table(value: Any, dotted: str, path: Path) -> None:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{path}: {dotted} = {value!r}: expected a [{dotted}] table of settings, got {type(value).__name__}; "
            f"write its keys under a [{dotted}] header"
        )


def _settings(cls: type, raw: dict[str, Any], table: str, path: Path, parse: Any = None) -> Any:
    try:
        return (parse or functools.partial(build_settings, cls))(_table(raw, table), f"{path}: [{table}]")
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None


def load_config(path: str | Path, catalogue: Sequence[Stage] = CATALOGUE) -> PipelineConfig:
    """Read and validate a pipeline config."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; write one with `stage1kit init {path}`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _check_sections(raw, path, catalogue)
    tables = {table: _settings(cls, raw, table, path) for table, cls in RUN_TABLES.items()}
    if not tables["model"].id:
        raise ConfigError(f"{path}: [model] id is required (a local checkpoint path or a hub id)")
    stages = {stage.name: _settings(stage.settings_type, raw, stage.table, path, stage.settings_from_table) for stage in catalogue}
    return PipelineConfig(path=path, stages=stages, **tables)


def config_problems(config: PipelineConfig, registry: Any, catalogue: Sequence[Stage] = CATALOGUE) -> list[str]:
    """What stops the config from running, found before any work starts.

    Every plugin every stage will build (by name, then with its settings) and ``[run] user_code``
    paths that do not exist; each as ``FILE: [table] key: message``. (The model is checked by
    :meth:`stage1kit.models.ModelAccess.preflight`.)
    """
    from stage1kit.plugins import UnknownPluginError

    problems = []
    for stage in catalogue:
        settings = config.stages[stage.name]
        for use in stage.plugins(config):
            name_key, settings_key = (k if k.startswith("[") else f"[{stage.table}] {k}" for k in (use.name_key, use.settings_key))
            try:
                stage.check_plugin(registry, use, settings)
            except UnknownPluginError as exc:
                problems.append(f"{config.path}: {name_key} = {use.name!r}: {exc}")
            except Stage1kitError as exc:
                problems.append(f"{config.path}: {settings_key}: {exc}")
            except Exception as exc:  # a plugin's own check may raise anything; it is still the config's problem
                problems.append(f"{config.path}: {settings_key}: {type(exc).__name__}: {exc}")
    from stage1kit.launchers import parallel_problems

    if any(getattr(stage, "work_list", None) for stage in catalogue):  # the stages [parallel] shards
        problems += parallel_problems(config)
    for value, path in zip(config.run.user_code, config.user_code):
        if not path.exists():
            problems.append(f"{config.path}: [run] user_code: {value!r}: no such file or folder at {path}")
    return problems


def default_config(path: Path, catalogue: Sequence[Stage] = CATALOGUE, **tables: Any) -> PipelineConfig:
    """A config made in code (the stand-alone commands build theirs from their options): defaults
    for every table not given."""
    stages = {stage.name: tables.pop(stage.name, None) or stage.settings_type() for stage in catalogue}
    run_tables = {table: tables.pop(table, None) or cls() for table, cls in RUN_TABLES.items()}
    return PipelineConfig(path=path, stages=stages, **run_tables)
