"""``stage1kit manifest show|verify``: read a QC manifest, or check that the data still matches it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stage1kit.manifest import ManifestError, load_manifest, verify_manifest
from stage1kit.rundir import DATASET_STAGES, RunDir, manifest_path_for


def resolve_manifest_path(path: Path) -> Path:
    """Accept the manifest itself, its data file (``x.jsonl``) or an output folder."""
    if path.is_dir() or path.suffix == ".jsonl":
        return manifest_path_for(path)
    return path


@click.group("manifest")
def manifest_group() -> None:
    """Show or verify a QC manifest (give the manifest, its .jsonl file or an output folder)."""


@manifest_group.command("show")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def show_command(path: Path, as_json: bool) -> None:
    """Print a manifest readably: verdict, files, QC, contamination, model and plugins."""
    manifest_path = resolve_manifest_path(path)
    try:
        manifest = load_manifest(manifest_path)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    _render(Console(), manifest_path, manifest)


@manifest_group.command("verify")
@click.argument("path", type=click.Path(path_type=Path))
def verify_command(path: Path) -> None:
    """Re-hash inputs and outputs and check the verdict; exit 1 listing every problem.

    PATH is a manifest, its data file, an output folder, or a whole run directory (every manifest in it).
    """
    manifests = run_dir_manifests(path) if is_run_dir(path) else [resolve_manifest_path(path)]
    failed = [manifest for manifest in manifests if not _report(manifest, manifest_problems(manifest))]
    if len(manifests) > 1:
        click.echo(f"{len(manifests)} manifests: {len(manifests) - len(failed)} ok, {len(failed)} with problems")
    if failed:
        raise SystemExit(1)


def manifest_problems(manifest_path: Path) -> list[str]:
    """What ``verify_manifest`` finds, or, when the data matches, the reasons of a fail verdict."""
    problems = verify_manifest(manifest_path)
    if not problems:
        verdict = load_manifest(manifest_path)["verdict"]
        if verdict["status"] != "pass":
            problems = [f"verdict is fail: {reason}" for reason in verdict["reasons"]]
    return problems


def _report(manifest_path: Path, problems: list[str]) -> bool:
    """One line for the manifest (problems listed under it); True when it is ok."""
    if not problems:
        click.echo(f"{manifest_path}: ok (hashes match, verdict pass)")
        return True
    click.echo(f"{manifest_path}: {len(problems)} problem(s)", err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)
    return False


def is_run_dir(path: Path) -> bool:
    """A folder holding stage manifests (``x.manifest.json``, ``stage/manifest.json``) but none of its own."""
    return path.is_dir() and not (path / "manifest.json").exists() and bool(run_dir_manifests(path))


def run_dir_manifests(run_dir: Path) -> list[Path]:
    """Every manifest of a run directory, in pipeline order for the dataset stages, then by name."""
    found = set(run_dir.glob("*.manifest.json")) | set(run_dir.glob("*/manifest.json"))
    layout = RunDir(run_dir)
    outputs = [layout.dataset(stage) for stage in DATASET_STAGES]
    outputs += [layout.train_dir("sft"), layout.train_dir("dpo"), layout.eval_dir]
    order = {manifest_path_for(output): index for index, output in enumerate(outputs)}
    return sorted(found, key=lambda p: (order.get(p, len(order)), p.as_posix()))


def _render(console: Any, path: Path, manifest: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    verdict = manifest["verdict"]
    colour = "green" if verdict["status"] == "pass" else "red"
    console.print(f"[bold]{path}[/bold]  stage [cyan]{manifest['stage']}[/cyan]  written {manifest['created_at']}")
    console.print(f"verdict: [{colour}]{verdict['status'].upper()}[/{colour}]")
    for reason in verdict["reasons"]:
        console.print(f"  - {reason}", markup=False)
    if verdict["thresholds"]:
        console.print("thresholds: " + ", ".join(f"{k}={v:g}" for k, v in sorted(verdict["thresholds"].items())))

    files = Table(title="files", title_justify="left")
    for column in ("role", "path", "kind", "records", "bytes", "sha256"):
        files.add_column(column, overflow="fold")
    for role in ("inputs", "outputs"):
        for entry in manifest[role]:
            records = "-" if entry["records"] is None else str(entry["records"])
            files.add_row(role[:-1], entry["path"], entry["kind"], records, str(entry["bytes"]), entry["sha256"][:16])
    console.print(files)

    qc = Table(title="qc", title_justify="left")
    qc.add_column("metric")
    qc.add_column("value", overflow="fold")
    for key, value in _flatten(manifest["qc"]):
        qc.add_row(escape(key), escape(_short(value)))
    console.print(qc)

    scan = manifest["contamination"]
    state = "[green]clean[/green]" if scan["clean"] else "[red]CONTAMINATED[/red]"
    console.print(
        f"contamination: {state}; {scan['records_scanned']} records, {scan['strings_scanned']} strings scanned; "
        f"markers {escape(str(scan['markers'] or 'none'))}, role/content {scan['role_content']}, non-text {scan['non_text']}"
    )
    for example in scan["examples"]:
        console.print(f"  - {example}", markup=False)

    model = manifest["model"] or {}
    template = (model.get("chat_template") or {}).get("state", "-")
    console.print(f"model: {model.get('model_id', '-')} @ {model.get('revision') or 'default'}; chat template {template}")
    audit = manifest["audit"]
    console.print("audit: " + ("not recorded" if audit is None else ("clean" if audit["clean"] else f"{audit.get('findings')} finding(s)")))
    console.print("plugins: " + (", ".join(f"{k} ({_version(v)})" for k, v in sorted(manifest["plugins"].items())) or "none"))
    console.print(f"config hash: {manifest['config_hash'][:16]}")


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested QC dicts as dotted rows (two levels deep; deeper values are shown as JSON)."""
    rows: list[tuple[str, Any]] = []
    for key, child in value.items():
        name = f"{prefix}{key}"
        if isinstance(child, dict) and child and prefix.count(".") < 1:
            rows += _flatten(child, name + ".")
        else:
            rows.append((name, child))
    return rows


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _version(plugin: Any) -> str:
    if isinstance(plugin, str):
        return plugin
    return str(plugin.get("version") or plugin.get("plugin_version") or "?")
