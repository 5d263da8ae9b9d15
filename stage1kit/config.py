"""The run config: one TOML file naming the model, the plugins per stage, their settings and the run dir.

Each stage's table is checked against that stage's ``*Settings`` dataclass: an unknown key, a wrong
type or an unknown plugin name is an error naming the key and the file, before any work starts.
``config_problems`` also builds every plugin with its settings table (factories read settings only;
models come later), so a setting a plugin rejects is found then too, not when its stage starts.
"""

from __future__ import annotations

from stage1kit.errors import Stage1kitError
import dataclasses
import functools
import importlib
import sys
import types
import typing
from collections.abc import Callable
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


class ConfigError(Stage1kitError, ValueError):
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
    try:
        return cls(**table)
    except ValueError as exc:  # a settings class that checks its values in __post_init__
        message, section = str(exc), where.rsplit(": ", 1)[-1]
        detail = message[len(section):] if message.startswith(section) else f": {message}"
        raise ConfigError(f"{where}{detail}") from None


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _table(raw: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = raw
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _check_sections(raw: dict[str, Any], path: Path) -> None:
    """Every top-level key is a known section holding a table (``train = 5`` is not one)."""
    top_level = {"run", "model", "train"} | {table.split(".")[0] for table, _ in STAGES.values()}
    for key, value in raw.items():
        if key not in top_level:
            raise ConfigError(f"{path}: unknown section [{key}]; sections are {', '.join(sorted(top_level))}")
        _require_table(value, key, path)
    for key, value in raw.get("train", {}).items():
        if key not in ("sft", "dpo"):
            raise ConfigError(f"{path}: unknown section [train.{key}]; use [train.sft] or [train.dpo]")
        _require_table(value, f"train.{key}", path)


def _require_table(value: Any, dotted: str, path: Path) -> None:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{path}: {dotted} = {value!r}: expected a [{dotted}] table of settings, got {type(value).__name__}; "
            f"write its keys under a [{dotted}] header"
        )


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline config."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; write one with `stage1kit init {path}`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _check_sections(raw, path)
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
    """What stops the config from running, found before any work starts.

    Plugin names no loaded plugin registered, plugin settings the plugin rejects, ``[run] user_code``
    paths that do not exist, and a missing model folder; each as ``FILE: [section] key: message``.
    """
    problems = _plugin_name_problems(config, registry)
    problems += _plugin_settings_problems(config, registry)
    for value, path in zip(config.run.user_code, config.user_code):
        if not path.exists():
            problems.append(f"{config.path}: [run] user_code: {value!r}: no such file or folder at {path}")
    model_path = _resolve(config.base_dir, config.model.id)
    looks_local = config.model.id.startswith((".", "/", "~")) or model_path.exists()
    if looks_local and not model_path.is_dir():
        problems.append(f"{config.path}: [model] id = {config.model.id!r}: no checkpoint folder at {model_path}")
    return problems


def _plugin_name_problems(config: PipelineConfig, registry: Any) -> list[str]:
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
    return problems


def _plugin_settings_problems(config: PipelineConfig, registry: Any) -> list[str]:
    """Build every plugin a stage will build, as the stage builds it, and report what each rejects.

    Factories only read settings (models are handed to plugins later, when a stage runs), so this is
    cheap; it is what catches ``generator_settings = { bogus = 1 }`` or ``max_steps = 0`` up front.
    """
    from stage1kit.plugins import PluginError, UnknownPluginError

    problems = []
    for stage, settings in config.stages.items():
        table = STAGES[stage][0]
        for key, build in _plugin_builds(stage, settings, registry):
            try:
                build()
            except UnknownPluginError:
                continue  # reported by name already
            except (ValueError, PluginError, RuntimeError) as exc:
                problems.append(f"{config.path}: [{table}] {key}: {exc}")
            except Exception as exc:  # a plugin's own check may raise anything; it is still the config's problem
                problems.append(f"{config.path}: [{table}] {key}: {type(exc).__name__}: {exc}")
    return problems


def _plugin_builds(stage: str, settings: Any, registry: Any) -> list[tuple[str, Callable[[], Any]]]:
    """(config key, build) for each plugin ``stage`` creates, built the way the stage builds it."""
    if stage in ("train-sft", "train-dpo"):
        from stage1kit.stages.train import create_trainer

        kind = stage.split("-", 1)[1]
        return [("trainer", lambda: create_trainer(registry, kind, settings, False))]
    if stage == "evaluate":
        from stage1kit.stages.evaluate import make_critic, make_evaluator

        builds = [("critic_settings", lambda: make_critic(registry, settings))]
        for name in settings.evaluators:
            builds.append((f"evaluator_settings.{name}", functools.partial(make_evaluator, registry, name, settings)))
        return builds
    builds = []
    if getattr(settings, "generator", None):
        builds.append(("generator_settings", lambda: registry.create("generators", settings.generator, **settings.generator_settings)))
    if getattr(settings, "critic", None):
        builds.append(("critic_settings", lambda: registry.create("critics", settings.critic, **settings.critic_settings)))
    if stage == "pairs":
        from stage1kit.stages.pairs import create_miners

        builds.append(("miner_settings", lambda: create_miners(registry, settings)))
    return builds
