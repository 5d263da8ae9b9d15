"""Audit settings from ``[tool.stage1kit.audit]`` in ``pyproject.toml``.

Kept apart from the engine so the CLI, the pipeline's gate and the tests all read the same knobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

SECTION = ("tool", "stage1kit", "audit")

# Libraries that load models. Their classes' ``from_pretrained``/``from_config`` are loads (a class
# resolved to any other library, such as ``lm_eval.api.group.Group.from_config``, is not), and the
# dynamic-access rule (SK300) guards their modules and objects. torch is left out on purpose:
# ``getattr(torch, dtype_name)`` and ``nn.Embedding.from_pretrained(weights)`` are everyday code, and
# ``torch.load`` is caught by SK100 by its own name.
DEFAULT_MODEL_LIBRARIES = (
    "transformers",
    "peft",
    "trl",
    "vllm",
    "sglang",
    "tensorrt_llm",
    "safetensors",
    "huggingface_hub",
    "sentence_transformers",
    "diffusers",
    "unsloth",
    "optimum",
    "accelerate",
)

# The loader every stage1kit user may get models from, whatever the project configures.
STAGE1KIT_LOADER = "stage1kit.loader"
#: stage1kit's public API re-exports the handle class at the package top (``from stage1kit import
#: LoadedModel``); it is the loader's own class under another name.
STAGE1KIT_PUBLIC_HANDLE = "stage1kit.LoadedModel"

ALWAYS_SKIPPED_DIRS = frozenset({".git", "__pycache__", ".hg", ".tox", ".nox", ".mypy_cache", ".ruff_cache"})


class ConfigError(ValueError):
    """The audit configuration is unusable; the message names the file and key."""


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Translate a ``**``-aware glob (paths relative to the project root, ``/`` separated)."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _matches_any(patterns: tuple[re.Pattern[str], ...], relpath: str) -> bool:
    return any(p.match(relpath) for p in patterns)


@dataclass(frozen=True)
class AuditConfig:
    """What the audit checks and where; ``root`` is the folder holding the pyproject."""

    root: Path
    loader_modules: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    model_libraries: tuple[str, ...] = DEFAULT_MODEL_LIBRARIES
    source: Path | None = field(default=None, compare=False)

    @cached_property
    def _loader_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(glob_to_regex(p) for p in self.loader_modules)

    @cached_property
    def _exclude_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(glob_to_regex(p) for p in self.exclude)

    @cached_property
    def _root_prefixes(self) -> tuple[str, ...]:
        spelled = os.path.abspath(self.root)
        real = os.path.realpath(self.root)
        return tuple(dict.fromkeys(p.rstrip(os.sep) + os.sep for p in (spelled, real)))

    def relpath(self, path: Path | str) -> str:
        """``path`` relative to the root with ``/`` separators, or absolute when outside it.

        String work only (no ``resolve()`` per file: on a big tree that dominated a cached run).
        """
        absolute = os.path.abspath(path)
        for prefix in self._root_prefixes:
            if absolute.startswith(prefix):
                absolute = absolute[len(prefix):]
                break
        return absolute.replace(os.sep, "/")

    def is_loader(self, path: Path) -> bool:
        """True for the configured loader modules, which may load models and neutralise templates."""
        return _matches_any(self._loader_res, self.relpath(path))

    def is_excluded(self, path: Path) -> bool:
        return _matches_any(self._exclude_res, self.relpath(path))

    def is_excluded_dir(self, path: Path) -> bool:
        """True when everything under ``path`` is excluded, so the walk can skip the folder."""
        if path.name in ALWAYS_SKIPPED_DIRS:
            return True
        return _matches_any(self._exclude_res, self.relpath(path) + "/\0")

    @cached_property
    def loader_module_names(self) -> frozenset[str]:
        """Dotted names an import of a loader module may use: ``src/demo/loader.py`` gives
        ``src.demo.loader``, ``demo.loader`` and ``loader`` (the package root is not known).
        stage1kit's own ``stage1kit.loader`` (``CleanModelLoader``) is always one."""
        names = {STAGE1KIT_LOADER}
        for pattern in self.loader_modules:
            parts = pattern.removesuffix(".py").split("/")
            if parts and parts[-1] == "__init__":
                parts.pop()
            literal: list[str] = []
            for part in reversed(parts):  # the trailing parts without glob characters
                if not part.isidentifier():
                    break
                literal.insert(0, part)
            names.update(".".join(literal[i:]) for i in range(len(literal)))
        return frozenset(names)

    def fingerprint(self) -> str:
        """A hash of the settings that change findings, for the cache key."""
        payload = json.dumps([sorted(self.retired), sorted(self.model_libraries), sorted(self.loader_modules)])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _string_list(table: dict, key: str, source: Path) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{source}: [tool.stage1kit.audit] {key} must be a list of strings, got {value!r}"
        )
    return tuple(value)


_KEYS = {"loader-modules", "retired", "exclude", "model-libraries"}


def config_from_table(table: dict, root: Path, source: Path | None = None) -> AuditConfig:
    """Build a config from the ``[tool.stage1kit.audit]`` table; unknown keys are errors."""
    where = source or root / "pyproject.toml"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} in [tool.stage1kit.audit]; "
            f"known keys are {', '.join(sorted(_KEYS))}"
        )
    libraries = _string_list(table, "model-libraries", where) or DEFAULT_MODEL_LIBRARIES
    return AuditConfig(
        root=root,
        loader_modules=_string_list(table, "loader-modules", where),
        retired=_string_list(table, "retired", where),
        exclude=_string_list(table, "exclude", where),
        model_libraries=libraries,
        source=source,
    )


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _audit_table(data: dict, path: Path) -> dict | None:
    table = data
    for key in SECTION:
        if not isinstance(table, dict) or key not in table:
            return None
        table = table[key]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.stage1kit.audit] must be a table")
    return table


def read_config_file(path: Path) -> AuditConfig:
    """Read an explicit ``pyproject.toml`` (or any TOML file with the same table)."""
    path = Path(path).resolve()
    table = _audit_table(_read_toml(path), path) or {}
    return config_from_table(table, path.parent, path)


def load_config(start: Path) -> AuditConfig:
    """Find the nearest ``pyproject.toml`` with an audit table, walking up from ``start``.

    Without one, the defaults apply (no loader modules: every load is a finding) and the root is
    the nearest folder holding any ``pyproject.toml``, else ``start`` itself.
    """
    start = Path(start).resolve()
    folder = start if start.is_dir() else start.parent
    first_project: Path | None = None
    for candidate in (folder, *folder.parents):
        pyproject = candidate / "pyproject.toml"
        if not pyproject.is_file():
            continue
        first_project = first_project or candidate
        table = _audit_table(_read_toml(pyproject), pyproject)
        if table is not None:
            return config_from_table(table, candidate, pyproject)
    return AuditConfig(root=first_project or folder)
