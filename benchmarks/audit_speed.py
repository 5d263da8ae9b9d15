"""How fast is the audit? Cold, warm (cached), against a bare libcst parse and ruff, in one run.

The corpus is the installed sources of transformers, trl and peft (the issue's anchor: 3,294 files
for transformers 5.24 + trl 1.16 + peft 0.21). Prints seconds and ratios; asserts nothing.

    python benchmarks/audit_speed.py [--jobs N] [--sample N] [--skip-bare]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ("transformers", "trl", "peft")


def corpus_files(packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    """Every ``.py`` file of the installed packages, found without importing them."""
    files: list[Path] = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            print(f"note: {name} is not installed; the corpus is smaller than the issue's anchor")
            continue
        for location in spec.submodule_search_locations:
            files.extend(sorted(Path(location).rglob("*.py")))
    return files


def build_corpus(dest: Path, files: list[Path]) -> list[Path]:
    """Copy the files under ``dest`` (a folder with its own pyproject, so the user's config and any
    excludes of site-packages do not apply)."""
    (dest / "pyproject.toml").write_text("[tool.stage1kit.audit]\nloader-modules = []\n")
    out = []
    for index, file in enumerate(files):
        target = dest / "corpus" / f"{index:05d}_{file.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
        out.append(target)
    return out


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


CPU: dict[str, float] = {}


def timed(label: str, func) -> tuple[float, object]:
    """Wall seconds of ``func()``; CPU seconds go to ``CPU[label]`` (steadier on a shared machine)."""
    cpu = _cpu()
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    CPU[label] = _cpu() - cpu
    print(f"{label:<34} {seconds:8.2f} s wall {CPU[label]:8.2f} s CPU", flush=True)
    return seconds, result


def bare_parse(files: list[Path]) -> int:
    import libcst

    for file in files:
        try:
            libcst.parse_module(file.read_bytes())
        except Exception:
            pass
    return len(files)


def ruff_time(root: Path) -> float | None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        return None
    config = root / "ruff.toml"
    config.write_text(
        'lint.select = ["TID251"]\n[lint.flake8-tidy-imports.banned-api]\n'
        '"transformers.AutoModel".msg = "use the loader"\n"transformers.pipeline".msg = "use the loader"\n'
    )
    start = time.perf_counter()
    subprocess.run([ruff, "check", "--no-cache", "--config", str(config), "--exit-zero", "-q", str(root / "corpus")],
                   check=False, capture_output=True)
    return time.perf_counter() - start


def one_file_process(root: Path, file: Path, repeats: int = 3) -> float:
    """Best wall time of ``python -m stage1kit_audit FILE`` as pre-commit starts it (empty cache)."""
    times = []
    for attempt in range(repeats):
        env = dict(os.environ, STAGE1KIT_CACHE_DIR=str(root / f"one-file-cache-{file.stem}-{attempt}"))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stage1kit_audit", str(file)], env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per CPU)")
    parser.add_argument("--sample", type=int, default=0, help="use only every N-th file (quick runs)")
    parser.add_argument("--skip-bare", action="store_true", help="skip the slow bare-parse baseline")
    args = parser.parse_args()

    from stage1kit_audit import audit_paths, load_config

    files = corpus_files()
    if args.sample:
        files = files[:: args.sample]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["STAGE1KIT_CACHE_DIR"] = str(root / "cache")
        corpus = build_corpus(root, files)
        size = sum(f.stat().st_size for f in corpus) / 1e6
        print(f"corpus: {len(corpus)} files, {size:.1f} MB, {os.cpu_count()} CPUs, jobs={args.jobs or os.cpu_count()}")
        config = load_config(root)
        def run():
            return audit_paths([root / "corpus"], config=config, jobs=args.jobs)

        cold, report = timed("audit, cold (empty cache)", run)
        print(f"  {len(report.findings)} findings; {report.files_parsed} of {report.files_checked} files parsed")
        warm, _ = timed("audit, warm (cached)", run)
        bare = None
        if not args.skip_bare:
            bare, _ = timed("bare libcst.parse_module, 1 process", lambda: bare_parse(corpus))
        ruff = ruff_time(root)
        if ruff is not None:
            print(f"{'ruff TID251 (banned-api)':<34} {ruff:8.2f} s")
        flagged = {Path(f.path).resolve() for f in report.findings}
        clean_file = next(f for f in corpus if f.resolve() not in flagged and f.stat().st_size > 2000)
        dirty_file = next(f for f in corpus if f.resolve() in flagged)
        one = one_file_process(root, clean_file)
        one_dirty = one_file_process(root, dirty_file)
        print(f"{'one clean file, whole process':<34} {one:8.2f} s   ({clean_file.name})")
        print(f"{'one flagged file, whole process':<34} {one_dirty:8.2f} s   ({dirty_file.name})")
        print("ratios:")
        if bare:
            cold_cpu, bare_cpu = CPU["audit, cold (empty cache)"], CPU["bare libcst.parse_module, 1 process"]
            print(f"  cold / bare parse   {cold / bare:6.3f}   wall (target <= 0.3)")
            print(f"  cold / bare parse   {cold_cpu / bare_cpu:6.3f}   CPU seconds, all processes")
            workers = args.jobs or os.cpu_count() or 1
            ideal = cold_cpu / workers / bare_cpu
            print(f"  cold / bare parse   {ideal:6.3f}   CPU / {workers} workers (wall on an idle machine)")
            print(f"  warm / bare parse   {warm / bare:6.3f}")
        if ruff:
            print(f"  cold / ruff         {cold / ruff:6.1f}")
            print(f"  warm / ruff         {warm / ruff:6.1f}")
        print(f"  warm seconds        {warm:6.2f}   (target <= 1 s)")
        print(f"  one-file process    {one:6.2f} clean, {one_dirty:.2f} flagged   (target <= 0.4 s)")


if __name__ == "__main__":
    main()
