"""Settings dataclasses: the tables every run has, their validation, and CLI options made from them.

As TRL keeps ``DPOConfig`` apart from ``DPOTrainer``, every knob stage1kit has lives in a dataclass
field with a default and ``metadata={"help": ...}``. The same field feeds the config loader (type
checks naming ``[table] key``), the starter config ``init`` writes, ``stage1kit plugins --settings``
and the stand-alone stage commands' options, so none of them can drift from the others.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stage1kit.errors import Stage1kitError


class SettingsError(Stage1kitError, ValueError):
    """A settings table has an unknown key, a value of the wrong type, or one out of range."""


def help_metadata(text: str) -> dict[str, str]:
    """``field(metadata=help_metadata("..."))``: the help text CLI options, listings and ``init`` show."""
    return {"help": text}


@dataclass
class ModelSettings:
    """``[model]``: the base model every stage loads through CleanModelLoader."""

    id: str = field(default="", metadata={"help": "base model: a local checkpoint folder or a hub id", "flag": "model"})
    revision: str | None = field(default=None, metadata=help_metadata("hub revision (commit, tag or branch)"))
    dtype: str | None = field(default=None, metadata=help_metadata("float32, bfloat16, float16 or auto"))
    device: str | None = field(default=None, metadata=help_metadata("cpu, cuda, cuda:1 ... (default: cuda when available)"))
    trust_remote_code: bool = field(default=False, metadata=help_metadata("run the checkpoint's own modelling code"))
    allow_remote_code: bool = field(default=False, metadata=help_metadata("confirm trust_remote_code (both must be true)"))


@dataclass
class RunSettings:
    """``[run]``: where outputs go, and your code the audit checks before every model-loading stage.

    Seeds are per stage (each stage table has ``seed``), so one stage can be resampled alone.
    """

    dir: str = field(default="runs/stage1", metadata=help_metadata("the run directory, relative to the config file"))
    user_code: list[str] = field(default_factory=list, metadata=help_metadata("your code that runs with the stages (audited)"))


@dataclass
class CriticSettings:
    """``[critic]``: the one critic every stage that judges uses (instructions, judge, pairs, evaluate)."""

    name: str = field(default="logprob", metadata={"help": "critic plugin name (see `stage1kit plugins`)", "flag": "critic"})
    settings: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "critic settings, e.g. { batch_size = 16 }", "flag": "critic_set"}
    )


@dataclass
class EngineSettings:
    """``[engine]``: what generates and scores for the data stages (instructions, responses, judge, pairs).

    ``"transformers"`` (the default) runs ``generate`` and forward passes in this process; ``"vllm"``
    serves the same model through vLLM (``pip install vllm``). Training and evaluation always use
    transformers. See docs/scale.md.
    """

    name: str = field(default="transformers", metadata={"help": "engine plugin name: transformers, or vllm (see `stage1kit plugins`)", "flag": "engine"})
    settings: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "engine settings, e.g. { tensor_parallel_size = 2, gpu_memory_utilization = 0.85 }", "flag": "engine_set"},
    )

    @property
    def is_default(self) -> bool:
        """True for the in-process transformers engine, which needs no plugin."""
        return self.name == TRANSFORMERS_ENGINE


#: the built-in engine's name: ``model.generate`` and forward passes in this process
TRANSFORMERS_ENGINE = "transformers"


@dataclass
class PromptSettings:
    """``[prompt]``: the one prompt format, from sampling through judging and training to evaluation.

    Responses are sampled under it, judgements record it, SFT/DPO records and ``heldout.jsonl`` hold
    it and evaluators ask it (see :mod:`stage1kit.prompting`).
    """

    template: str = field(default="Query: {instruction}\nAnswer:", metadata=help_metadata("the prompt, with {instruction} once where the instruction goes"))
    separator: str = field(default=" ", metadata=help_metadata("text between the prompt and the answer (the completion's leading separator)"))
    stop: list[str] | None = field(
        default=None, metadata=help_metadata("stop strings of answers (default: a newline, then the template's text before {instruction})")
    )

    def __post_init__(self) -> None:
        from stage1kit.prompting import PromptFormat

        PromptFormat.from_settings(self)  # the format's own checks, with the key they name


@dataclass
class ParallelSettings:
    """``[parallel]``: run the work-list stages (responses, judge) as data-parallel shards, then merge.

    Sharding never changes the data: shard i of n computes a contiguous block of the work list, seeded
    by position in the whole list, so the merged file equals a single-process run record for record.
    It is not part of any stage's cache key.
    """

    shards: int = field(default=1, metadata=help_metadata("worker processes per sharded stage (1: no sharding)"))
    launcher: str = field(default="local", metadata=help_metadata("local (processes on this machine) or ray (tasks on a Ray cluster)"))
    gpus_per_shard: int = field(default=1, metadata=help_metadata("GPUs each shard gets; 0: the workers share the visible GPUs (ignored without GPUs)"))
    ray_address: str | None = field(default=None, metadata=help_metadata("launcher = ray: the cluster to join (default: start a local one)"))

    def __post_init__(self) -> None:
        require_range(self, "shards", minimum=1)
        require_range(self, "gpus_per_shard", minimum=0)
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"launcher = {self.launcher!r}: must be one of {', '.join(LAUNCHERS)}")


#: the values of ``[parallel] launcher``
LAUNCHERS = ("local", "ray")


# --------------------------------------------------------------------------- validation


def type_ok(value: Any, annotation: Any) -> bool:
    """A small structural check of TOML/JSON values against dataclass annotations."""
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(type_ok(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def build_settings(cls: type, table: dict[str, Any], where: str) -> Any:
    """``cls(**table)``, with unknown keys, wrong types and rejected values reported as ``where key``."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key, value in table.items():
        if key not in known:
            raise SettingsError(f"{where}: unknown key '{key}'; known keys: {', '.join(sorted(known))}")
        if not type_ok(value, hints.get(key, Any)):
            at = f"{where}.{key}" if where.endswith("]") else f"{where}: {key}"  # [table].key, or a plugin's key
            raise SettingsError(f"{at}: expected {type_name(hints.get(key))}, got {type(value).__name__} {value!r}")
    try:
        return cls(**table)
    except (ValueError, TypeError) as exc:  # a settings class that checks its values in __post_init__
        raise SettingsError(f"{where}: {exc}") from None


def require_range(owner: Any, name: str, *, minimum: float | None = None, maximum: float | None = None) -> None:
    """For ``__post_init__``: ``owner.name`` must lie in [minimum, maximum]; the error names the key."""
    value = getattr(owner, name)
    if value is None:
        return
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"at most {maximum}" if minimum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} = {value!r}: must be {bounds}")


def settings_help(cls: type) -> list[dict[str, Any]]:
    """Each field of a settings class as ``{"name", "type", "default", "help"}`` (for listings)."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        )
        rows.append({"name": f.name, "type": type_name(hints.get(f.name)), "default": default, "help": f.metadata.get("help", "")})
    return rows


# --------------------------------------------------------------------------- CLI options


def _scalar_type(annotation: Any) -> Any:
    """The type one option carries: ``X`` of ``X | None``, ``list`` of ``list[str] | str``; None
    for annotations a single option cannot carry."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    lists = [a for a in args if a is list or typing.get_origin(a) is list]
    return args[0] if len(args) == 1 else (lists[0] if lists else None)


def click_options(cls: type, *, skip: tuple[str, ...] = (), prefix: str = "") -> list[Callable[[Callable], Callable]]:
    """One click option per field of ``cls``: ``--max-steps``, ``--no-full/--full``, ``--set-x K=V``...

    Every option defaults to None ("not given"), so :func:`settings_from_options` keeps the
    dataclass default for what the user did not type. Lists are comma-separated, dicts JSON or
    repeated ``KEY=VALUE``.
    """
    import click

    hints = typing.get_type_hints(cls)
    options = []
    for f in dataclasses.fields(cls):
        if f.name in skip or f.metadata.get("cli") is False:
            continue
        flag = "--" + (f.metadata.get("flag") or prefix + f.name).replace("_", "-")
        dest = prefix + f.name
        help_text = f.metadata.get("help", "")
        kind = _scalar_type(hints.get(f.name))
        origin = typing.get_origin(kind)
        if kind is bool:
            options.append(click.option(f"{flag}/--no-{flag[2:]}", dest, default=None, help=help_text))
        elif kind in (int, float, str):
            short = [f.metadata["short"]] if "short" in f.metadata else []
            options.append(click.option(*short, flag, dest, type=kind, default=None, help=help_text))
        elif kind is list or origin is list:
            options.append(click.option(flag, dest, default=None, callback=_comma_list, help=f"{help_text} (comma separated)"))
        elif kind is dict or origin is dict:
            callback = f.metadata.get("parse") or _key_values
            options.append(
                click.option(flag, dest, multiple=True, metavar="KEY=VALUE", callback=callback, help=f"{help_text} (repeatable KEY=VALUE)")
            )
    return options


def _comma_list(ctx: Any, param: Any, value: str | None) -> list[str] | None:
    import click

    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise click.BadParameter("names nothing; give comma-separated names", ctx, param)
    return items


def _key_values(ctx: Any, param: Any, values: tuple[str, ...]) -> dict[str, Any] | None:
    """``KEY=VALUE`` pairs; values parse as JSON where they can (numbers, booleans, lists, tables)."""
    import click

    if not values:
        return None
    parsed: dict[str, Any] = {}
    for pair in values:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", ctx, param)
        try:
            parsed[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            parsed[key.strip()] = raw
    return parsed


def apply_options(cls: type, params: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """The table the given options make: only the fields the user set (None means "not given")."""
    table = {}
    for f in dataclasses.fields(cls):
        value = params.pop(prefix + f.name, None)
        if value is not None:
            table[f.name] = value
    return table


def add_options(command: Callable, options: list[Callable[[Callable], Callable]]) -> Callable:
    for option in reversed(options):
        command = option(command)
    return command
