"""Plugin discovery: entry points of the ``stage1kit`` group, loaded one at a time.

A plugin that fails to import is recorded with its error and skipped, so one broken plugin never
takes the CLI down (the complaint ``llm`` users had most). ``STAGE1KIT_STRICT_PLUGINS=1`` turns such
a failure into an exception; ``STAGE1KIT_LOAD_PLUGINS=dist-a,dist-b`` loads only the named
distributions (tests use it to keep whatever is installed on the machine out of the run).
"""

from __future__ import annotations

import importlib
import inspect
import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable

import pluggy

from stage1kit import hookspecs
from stage1kit.errors import Stage1kitError

ENTRY_POINT_GROUP = "stage1kit"
STRICT_ENV = "STAGE1KIT_STRICT_PLUGINS"
ONLY_ENV = "STAGE1KIT_LOAD_PLUGINS"

#: plugin kind -> the hook that registers it
KIND_HOOKS: dict[str, str] = {
    "instruction_generators": "register_instruction_generators",
    "response_generators": "register_response_generators",
    "critics": "register_critics",
    "engines": "register_engines",
    "negative_miners": "register_negative_miners",
    "trainers": "register_trainers",
    "evaluators": "register_evaluators",
    "verifiers": "register_verifiers",
}
KINDS = tuple(KIND_HOOKS)


class PluginError(Stage1kitError):
    """A plugin could not be loaded or used."""


class PluginConflictError(PluginError):
    """Two plugins registered the same name in one kind."""


class UnknownPluginError(PluginError, LookupError):
    """A config names an implementation no loaded plugin registered."""


@dataclass
class PluginInfo:
    """One entry point of the ``stage1kit`` group, as ``stage1kit plugins`` lists it."""

    name: str
    module: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "registered": self.registered,
            "error": self.error,
        }


@dataclass(frozen=True)
class Registration:
    """A factory a plugin registered under ``kind``/``name``, with the settings class it reads.

    ``settings`` is the dataclass whose fields the factory takes as keywords, or its
    ``"module:Class"`` path (so registering stays cheap when that module imports torch).
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: PluginInfo
    settings: type | str | None = None

    def settings_class(self) -> type | None:
        if not isinstance(self.settings, str):
            return self.settings
        module_name, _, attribute = self.settings.partition(":")
        # stage1kit: allow[SK300] reason: a plugin's own settings class, named by the plugin when it registered
        return getattr(importlib.import_module(module_name), attribute)

    def settings_fields(self) -> list[dict[str, Any]]:
        """Every setting the factory takes: name, type, default, help (for listings and ``init``)."""
        from stage1kit.settings import settings_help

        cls = self.settings_class()
        if cls is not None:
            return settings_help(cls)
        rows = []
        for parameter in inspect.signature(self.factory).parameters.values():
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD) and parameter.name != "self":
                default = None if parameter.default is parameter.empty else parameter.default
                kind = "" if parameter.annotation is parameter.empty else str(parameter.annotation)
                rows.append({"name": parameter.name, "type": kind, "default": default, "help": ""})
        return rows

    def create(self, **settings: Any) -> Any:
        """Build the implementation with the user's settings for it, checked against its settings
        class first (unknown keys and wrong types are errors naming the key)."""
        from stage1kit.settings import SettingsError, build_settings

        cls = self.settings_class()
        if cls is not None:
            try:
                build_settings(cls, settings, f"{self.kind[:-1].replace('_', ' ')} '{self.name}' rejected its settings")
            except SettingsError as exc:
                raise PluginError(str(exc)) from None
        try:
            return self.factory(**settings)
        except TypeError as exc:
            raise PluginError(
                f"{self.kind[:-1].replace('_', ' ')} '{self.name}' (plugin {self.plugin.name}) "
                f"rejected its settings {sorted(settings)}: {exc}"
            ) from exc


class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    def __init__(
        self,
        plugins: list[PluginInfo],
        registrations: dict[str, dict[str, Registration]],
        plugin_manager: pluggy.PluginManager,
    ):
        self.plugins = plugins
        self._by_kind = registrations
        self.plugin_manager = plugin_manager

    def names(self, kind: str) -> list[str]:
        _check_kind(kind)
        return sorted(self._by_kind.get(kind, {}))

    def get(self, kind: str, name: str) -> Registration:
        _check_kind(kind)
        try:
            return self._by_kind[kind][name]
        except KeyError:
            available = ", ".join(self.names(kind)) or "none"
            broken = [p.name for p in self.plugins if p.error]
            hint = f" (plugins that failed to load: {', '.join(broken)}; see `stage1kit plugins`)" if broken else ""
            if not self.names(kind):  # a kind an update added is unknown to the old install's metadata
                hint += (
                    f". No installed plugin registers any {kind[:-1].replace('_', ' ')}: if stage1kit was just "
                    "updated, reinstall it (pip install -e .) so its new entry points are registered"
                )
            raise UnknownPluginError(
                f"no {kind[:-1].replace('_', ' ')} named '{name}'; available: {available}{hint}"
            ) from None

    def create(self, kind: str, name: str, **settings: Any) -> Any:
        return self.get(kind, name).create(**settings)

    @property
    def errors(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.error]


def _check_kind(kind: str) -> None:
    if kind not in KIND_HOOKS:
        raise ValueError(f"unknown plugin kind '{kind}'; kinds are {', '.join(KINDS)}")


def _strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _wanted_distributions() -> set[str] | None:
    raw = os.environ.get(ONLY_ENV)
    if raw is None:
        return None
    return {_normalise(d) for d in raw.split(",") if d.strip()}


def _normalise(dist_name: str) -> str:
    return dist_name.strip().lower().replace("_", "-")


def _describe(ep: EntryPoint) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    return PluginInfo(
        name=ep.name,
        module=ep.value,
        distribution=dist.name if dist is not None else "unknown",
        version=dist.version if dist is not None else "unknown",
    )


def _plugin_key(info: PluginInfo) -> str:
    """pluggy's name for a plugin: entry-point names are only unique within one distribution."""
    return f"{info.distribution}:{info.name}"


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def _load_entry_points(pm: pluggy.PluginManager, strict: bool) -> list[PluginInfo]:
    wanted = _wanted_distributions()
    infos: list[PluginInfo] = []
    seen: set[tuple[str, str]] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        info = _describe(ep)
        if wanted is not None and _normalise(info.distribution) not in wanted:
            continue
        if (info.distribution, ep.name) in seen:  # the same dist visible twice on sys.path
            continue
        seen.add((info.distribution, ep.name))
        infos.append(info)
        try:
            pm.register(ep.load(), name=_plugin_key(info))
        except Exception as exc:  # a broken plugin is reported, never fatal unless strict
            info.error = f"{type(exc).__name__}: {exc}"
            if strict:
                raise PluginError(
                    f"plugin '{ep.name}' ({info.distribution} {info.version}) failed to load: "
                    f"{info.error}\n{traceback.format_exc()}"
                ) from exc
    return infos


def _collect(pm: pluggy.PluginManager, infos: list[PluginInfo], strict: bool) -> dict[str, dict[str, Registration]]:
    by_key = {_plugin_key(info): info for info in infos}
    registrations: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
    for kind, hook_name in KIND_HOOKS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = by_key.get(impl.plugin_name) or PluginInfo(impl.plugin_name, impl.plugin_name, "unregistered", "")

            def register(name: str, factory: Callable[..., Any], settings: type | str | None = None, *, _kind=kind, _info=info) -> None:
                existing = registrations[_kind].get(name)
                if existing is not None:
                    raise PluginConflictError(
                        f"{_kind[:-1].replace('_', ' ')} name '{name}' is registered twice: by plugin "
                        f"'{existing.plugin.name}' of distribution {existing.plugin.distribution} "
                        f"{existing.plugin.version} and by plugin '{_info.name}' of distribution "
                        f"{_info.distribution} {_info.version}. Uninstall one, or limit loading with "
                        f"{ONLY_ENV}."
                    )
                registrations[_kind][name] = Registration(_kind, name, factory, _info, settings)
                _info.registered.setdefault(_kind, []).append(name)

            try:
                impl.function(register=register)
            except PluginConflictError:
                raise
            except Exception as exc:
                info.error = f"{hook_name} raised {type(exc).__name__}: {exc}"
                if strict:
                    raise PluginError(f"plugin '{info.name}': {info.error}") from exc
    return registrations


def load_registry(*, strict: bool | None = None) -> Registry:
    """Discover, load and collect every plugin of the ``stage1kit`` entry-point group."""
    strict = _strict() if strict is None else strict
    pm = new_plugin_manager()
    infos = _load_entry_points(pm, strict)
    return Registry(infos, _collect(pm, infos, strict), pm)


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    return _REGISTRY


def reset_registry() -> None:
    """Forget the cached registry (tests that install a plugin distribution call this)."""
    global _REGISTRY
    _REGISTRY = None
