"""Run the audit over paths or modules: discover files, consult the cache, fan out to processes."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .cache import ResultCache, cache_key, settings_salt
from .check import Found, check_bytes
from .config import AuditConfig, load_config
from .findings import AuditReport, Finding

Job = tuple[bytes, AuditConfig, bool, bool]
Result = tuple[list[Found], bool]

SUFFIXES = (".py", ".pyi", ".ipynb")
# Below this many files to analyse, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 48


class AuditUsageError(ValueError):
    """A path or module to audit does not exist; the message says which."""


def iter_files(paths: Iterable[Path], config: AuditConfig) -> Iterator[Path]:
    """Python files and notebooks under ``paths``, without excluded ones, each once, sorted per root."""
    seen: set[str] = set()
    for path in paths:
        if not path.exists():
            raise AuditUsageError(f"{path}: no such file or folder")
        if path.is_file():
            candidates: Iterable[Path] = [path]
        else:
            candidates = _walk(path, config)
        for file in candidates:
            key = os.path.abspath(file)
            if key not in seen and not config.is_excluded(file):
                seen.add(key)
                yield file


# Folders a walk never enters: version control, caches and build tool state hold no project code.
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache",
                          ".ruff_cache", ".tox", ".nox", "node_modules"})


def is_virtualenv(folder: Path) -> bool:
    """A virtual environment (any name: ``.venv``, ``.venv-ci``, ``env``) holds third-party code.

    Installed libraries such as TRL load models their own way; that is theirs to answer for, so a walk
    skips every folder with a ``pyvenv.cfg``. Naming such a folder explicitly still audits it.
    """
    return (folder / "pyvenv.cfg").is_file()


def _walk(folder: Path, config: AuditConfig) -> Iterator[Path]:
    for current, dirs, files in os.walk(folder):
        base = Path(current)
        dirs[:] = sorted(
            d for d in dirs
            if d not in SKIPPED_DIRS
            and not is_virtualenv(base / d)
            and not config.is_excluded_dir(base / d)
        )
        for name in sorted(files):
            if name.endswith(SUFFIXES):
                yield base / name


def _check(job: Job) -> Result:
    data, config, loader, notebook = job
    return check_bytes(data, config, loader=loader, notebook=notebook)


def _pool_context() -> Any:
    import multiprocessing

    # fork is cheap, but not safe once torch (threads) is loaded in this process.
    if sys.platform == "linux" and "torch" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run(jobs: list[Job], workers: int) -> list[Result]:
    if workers <= 1 or len(jobs) < PARALLEL_THRESHOLD:
        return [_check(job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor

    # Big files first so one slow file does not finish last alone.
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        results = list(pool.map(_check, [jobs[i] for i in order], chunksize=4))
    out: list[Result] = [([], False)] * len(jobs)
    for index, result in zip(order, results, strict=True):
        out[index] = result
    return out


def audit_files(
    files: Iterable[Path],
    config: AuditConfig,
    *,
    use_cache: bool = True,
    jobs: int | None = None,
) -> AuditReport:
    """Audit exactly ``files`` (already discovered) under ``config``."""
    fingerprint = config.fingerprint()
    entries = []
    for path in files:
        data = path.read_bytes()
        loader = config.is_loader(path)
        notebook = path.suffix == ".ipynb"
        key = cache_key(data, settings_salt(fingerprint, loader, notebook))
        entries.append((path, data, loader, notebook, key))

    cache = ResultCache() if use_cache else None
    cached = cache.get_many(e[4] for e in entries) if cache else {}
    misses = list({e[4]: e for e in entries if e[4] not in cached}.values())  # identical files once
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    results = _run([(data, config, loader, nb) for _, data, loader, nb, _ in misses], workers)

    fresh = {e[4]: [found, parsed] for e, (found, parsed) in zip(misses, results, strict=True)}
    if cache:
        cache.put_many(fresh)
        cache.close()

    report = AuditReport(files_checked=len(entries), files_cached=sum(e[4] in cached for e in entries))
    cwd = os.path.abspath(os.getcwd()) + os.sep
    for path, _, _, _, key in entries:
        findings, parsed = fresh[key] if key in fresh else cached[key]
        report.files_parsed += bool(parsed) and key not in cached
        shown = _display_path(path, cwd)
        report.findings.extend(
            Finding(shown, line, column, rule, message, "error", cell, cell_line)
            for line, column, rule, message, cell, cell_line in findings
        )
    return report


def _display_path(path: Path, cwd: str) -> str:
    """Relative to the working directory when inside it (what editors and CI expect)."""
    absolute = os.path.abspath(path)
    shown = absolute[len(cwd):] if absolute.startswith(cwd) else absolute
    return shown.replace(os.sep, "/")


def audit_paths(
    paths: Iterable[str | Path],
    *,
    config: AuditConfig | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
) -> AuditReport:
    """Audit files and folders; ``config=None`` reads the nearest pyproject above the first path."""
    path_list = [Path(p) for p in paths]
    if config is None:
        config = load_config(path_list[0] if path_list else Path.cwd())
    if not path_list:
        path_list = [config.root]
    return audit_files(iter_files(path_list, config), config, use_cache=use_cache, jobs=jobs)


def module_files(module_name: str) -> list[Path]:
    """Source files of an importable module or package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as exc:
        raise AuditUsageError(f"module {module_name!r} cannot be located: {exc}") from None
    if spec is None:
        raise AuditUsageError(f"module {module_name!r} is not importable; is it installed?")
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    if spec.origin and spec.origin.endswith(".py"):
        return [Path(spec.origin)]
    raise AuditUsageError(f"module {module_name!r} has no Python source to audit ({spec.origin})")


def audit_modules(
    module_names: Iterable[str],
    *,
    config: AuditConfig | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
) -> AuditReport:
    """Audit the source files of importable modules/packages (e.g. the plugins a stage will run).

    The config's ``exclude`` does not apply: a module the pipeline is about to run is audited even
    when it lives somewhere excluded (such as a virtual environment inside the project).
    """
    paths = [p for name in module_names for p in module_files(name)]
    if not paths:
        return AuditReport()
    config = replace(config or load_config(paths[0]), exclude=())
    return audit_paths(paths, config=config, use_cache=use_cache, jobs=jobs)
