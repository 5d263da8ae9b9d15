"""How fast is the audit, against ruff on the same files, measured in the same run?

Every figure is a whole process, as a user or pre-commit starts it: ``python -m stage1kit_audit``
cold (empty cache) and warm (everything cached), ruff's banned-api rule (TID251) for scale, one
file (the pre-commit case), and a bare ``ast.parse`` of every file in one process as a floor.
Runs alternate between the tools so a busy machine slows both alike; ranges are printed.

    python benchmarks/audit_speed.py                 # installed transformers + trl + peft
    python benchmarks/audit_speed.py --repo PATH     # any checkout (its .py files, venvs skipped)
    python benchmarks/audit_speed.py --repo PATH --runs 7 --jobs 2

Prints seconds and ratios; asserts nothing. Goals (issue 12): cold <= 10x ruff, one file < 0.3 s,
warm < 1 s.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

PACKAGES = ("transformers", "trl", "peft")
RUFF_CONFIG = (
    'lint.select = ["TID251"]\n[lint.flake8-tidy-imports.banned-api]\n'
    '"transformers.AutoModel".msg = "use the loader"\n"transformers.pipeline".msg = "use the loader"\n'
)


def package_files(packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    """Every ``.py`` file of the installed packages, found without importing them."""
    files: list[Path] = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            print(f"note: {name} is not installed; the corpus is smaller")
            continue
        for location in spec.submodule_search_locations:
            files.extend(sorted(Path(location).rglob("*.py")))
    return files


def repo_files(repo: Path) -> list[Path]:
    """The ``.py`` files the audit would walk in ``repo`` (virtual environments and caches skipped)."""
    from stage1kit_audit.config import AuditConfig
    from stage1kit_audit.engine import iter_files

    return [f for f in iter_files([repo], AuditConfig(root=repo)) if f.suffix == ".py"]


def build_corpus(dest: Path, files: list[Path]) -> Path:
    """Copy the files under ``dest/corpus`` with a config of its own, so both tools see exactly
    these files and no user setting (excludes, loader modules) applies."""
    (dest / "pyproject.toml").write_text("[tool.stage1kit.audit]\n")
    (dest / "ruff.toml").write_text(RUFF_CONFIG)
    corpus = dest / "corpus"
    for index, file in enumerate(files):
        target = corpus / f"{index:05d}_{file.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    return corpus


def seconds(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def find_ruff() -> str | None:
    found = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    return found if Path(found).exists() else None


def bare_parse(corpus: Path) -> float:
    """One process, ``ast.parse`` of every file: what reading the code costs at the least."""
    files = sorted(corpus.glob("*.py"))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for file in files:
            try:
                ast.parse(file.read_bytes())
            except (SyntaxError, ValueError):
                pass
    return time.perf_counter() - start


def describe(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{min(values):6.3f} .. {max(values):6.3f} (median {statistics.median(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repo", type=Path, default=None, help="a checkout to measure (default: installed packages)")
    parser.add_argument("--runs", type=int, default=5, help="alternating runs of each measure (default 5)")
    parser.add_argument("--jobs", type=int, default=None, help="audit worker processes (default: one per CPU)")
    args = parser.parse_args()

    files = repo_files(args.repo) if args.repo else package_files()
    ruff = find_ruff()
    if ruff is None:
        print("note: ruff is not installed (pip install ruff); no ratio to ruff")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = build_corpus(root, files)
        size = sum(f.stat().st_size for f in corpus.glob("*.py")) / 1e6
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        audit = [sys.executable, "-m", "stage1kit_audit", *jobs]
        print(f"corpus: {len(files)} files, {size:.1f} MB from {args.repo or ', '.join(PACKAGES)}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, audit jobs={args.jobs or os.cpu_count()}")

        def cache_env(name: str) -> dict[str, str]:
            return dict(os.environ, STAGE1KIT_CACHE_DIR=str(root / name))

        cold, warm, ruffs, bare = [], [], [], []
        for run in range(args.runs):
            cold.append(seconds([*audit, "--no-cache", str(corpus)]))
            if ruff:
                ruffs.append(seconds([ruff, "check", "--no-cache", "--config", str(root / "ruff.toml"),
                                      "--exit-zero", "-q", str(corpus)]))
            env = cache_env(f"warm-{run}")
            seconds([*audit, str(corpus)], env)  # fills the cache
            warm.append(seconds([*audit, str(corpus)], env))
            bare.append(bare_parse(corpus))

        report = _run_json(audit, corpus)
        flagged = sorted({Path(f["path"]).name for f in report["findings"]})
        one_files = [f for f in sorted(corpus.glob("*.py")) if f.name in flagged][:1]
        one_files += [f for f in sorted(corpus.glob("*.py"), key=lambda p: -p.stat().st_size) if f.name not in flagged][:1]
        one: dict[str, list[float]] = {f.name: [] for f in one_files}
        for _ in range(args.runs):
            for file in one_files:
                one[file.name].append(seconds([*audit, "--no-cache", str(file)]))

        print(f"  {len(report['findings'])} findings; {report['files_parsed']} of {report['files_checked']} files parsed")
        print(f"audit, cold (whole process)     {describe(cold)} s")
        print(f"audit, warm (whole process)     {describe(warm)} s   (goal < 1 s)")
        print(f"ruff TID251 (whole process)     {describe(ruffs)} s")
        print(f"bare ast.parse, one process     {describe(bare)} s")
        for name, values in one.items():
            kind = "flagged" if name in flagged else "clean, largest"
            print(f"one file, {kind:<15}       {describe(values)} s   ({name}; goal < 0.3 s)")
        if ruffs:
            ratios = [c / r for c, r in zip(cold, ruffs, strict=True)]
            print(f"cold / ruff, per run            {min(ratios):6.1f} .. {max(ratios):6.1f} "
                  f"(median {statistics.median(ratios):.1f}; goal <= 10)")
            print(f"warm / ruff, per run            {describe([w / r for w, r in zip(warm, ruffs, strict=True)])}")
        print(f"cold / bare ast.parse           {describe([c / b for c, b in zip(cold, bare, strict=True)])}")


def _run_json(audit: list[str], corpus: Path) -> dict:
    import json

    out = subprocess.run([*audit, "--no-cache", "--format", "json", str(corpus)], capture_output=True, text=True,
                         check=False)
    return json.loads(out.stdout)



if __name__ == "__main__":
    main()
