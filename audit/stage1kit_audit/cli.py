"""``stage1kit audit``: a click command, also run by ``python -m stage1kit_audit``.

Imports only click and this package, so the main CLI can add it without importing torch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .config import ConfigError, load_config, read_config_file
from .engine import AuditUsageError, audit_paths
from .reporters import FORMATS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


@click.command("audit")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "output_format", type=click.Choice(sorted(FORMATS)), default="text", show_default=True,
              help="Output format.")
@click.option("--no-cache", is_flag=True, help="Ignore and do not update the result cache.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for many files (default: one per CPU).")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="pyproject.toml to read [tool.stage1kit.audit] from (default: nearest above PATHS).")
def audit_command(
    paths: tuple[Path, ...], output_format: str, no_cache: bool, jobs: int | None, config_path: Path | None
) -> None:
    """Check PATHS (default: the project root) for model loads outside the loader and chat templates.

    Exit status: 0 clean, 1 findings, 2 usage or configuration error.
    """
    try:
        config = read_config_file(config_path) if config_path else load_config(paths[0] if paths else Path.cwd())
        report = audit_paths(paths or [config.root], config=config, use_cache=not no_cache, jobs=jobs)
    except (ConfigError, AuditUsageError) as exc:
        click.echo(f"stage1kit audit: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    text = FORMATS[output_format](report)
    if text:
        click.echo(text)
    sys.exit(EXIT_CLEAN if report.clean else EXIT_FINDINGS)


def main() -> None:
    audit_command.main(prog_name="stage1kit audit")
