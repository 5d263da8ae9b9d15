"""The published pre-commit hook, installed by real pre-commit from a local hook repository.

The hook repository is made from ``audit/`` by ``audit/make_hook_repo.py``, exactly as a release
does; pre-commit clones it over ``file://``, builds its environment (pip reads the package
registry, as in CI) and runs it on a commit. The environment must stay small and torch-free.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install stage1kit[test])")

REPO = Path(__file__).resolve().parents[2]
MAX_ENV_BYTES = 100 * 1024 * 1024
BAD = "from transformers import AutoTokenizer\ntok = AutoTokenizer.from_pretrained('gpt2')\n"
CLEAN = "def score(handle, text):\n    return handle.logprob(text)\n"


def _make_hook_repo():
    spec = importlib.util.spec_from_file_location("make_hook_repo", REPO / "audit" / "make_hook_repo.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.make_hook_repo


def _env(tmp: Path) -> dict[str, str]:
    """No PYTHONPATH (the hook must import its own installed copy), no user git or pre-commit state."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PRE_COMMIT")}
    (tmp / "gitconfig").write_text("[user]\n\tname = test\n\temail = test@example.com\n")
    env |= {
        "GIT_CONFIG_GLOBAL": str(tmp / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PRE_COMMIT_HOME": str(tmp / "pre-commit-home"),
        "STAGE1KIT_CACHE_DIR": str(tmp / "cache"),
    }
    return env


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900)


def _size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.mark.slow
def test_real_pre_commit_installs_a_small_torch_free_hook_that_blocks_a_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = _env(tmp_path)
    for key in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"):  # the release commit's identity
        monkeypatch.setenv(key, env[key])
    hook_repo = tmp_path / "stage1kit-audit"
    tag = _make_hook_repo()(hook_repo)

    project = tmp_path / "project"
    project.mkdir()
    assert _run(project, env, "git", "init", "-q").returncode == 0
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo.as_uri()}\n    rev: {tag}\n    hooks:\n      - id: stage1kit-audit\n"
    )
    (project / "pyproject.toml").write_text("[tool.stage1kit.audit]\nloader-modules = ['loader.py']\n")
    (project / "clean.py").write_text(CLEAN)

    start = time.perf_counter()
    installed = _run(project, env, sys.executable, "-m", "pre_commit", "install", "--install-hooks")
    seconds = time.perf_counter() - start
    assert installed.returncode == 0, installed.stdout + installed.stderr

    [env_dir] = Path(env["PRE_COMMIT_HOME"]).glob("repo*/py_env-*")
    size = _size(env_dir)
    packages = sorted(p.name for p in env_dir.glob("lib/python*/site-packages/*"))
    print(f"\nhook environment: {size / 2**20:.1f} MiB, installed in {seconds:.1f} s: {packages}")
    assert size < MAX_ENV_BYTES, f"{size / 2**20:.0f} MiB: {packages}"
    assert not [p for p in packages if p.split("-")[0] in ("torch", "transformers", "trl", "triton")], packages
    assert "stage1kit_audit" in packages and "click" in packages

    assert _run(project, env, "git", "add", "-A").returncode == 0
    first = _run(project, env, "git", "commit", "-q", "-m", "clean code")
    assert first.returncode == 0, first.stdout + first.stderr

    (project / "stage.py").write_text(BAD)
    assert _run(project, env, "git", "add", "stage.py").returncode == 0
    blocked = _run(project, env, "git", "commit", "-q", "-m", "a load outside the loader")
    assert blocked.returncode != 0
    assert "stage.py:2:7: SK100" in blocked.stdout + blocked.stderr
    log = _run(project, env, "git", "log", "--format=%s")
    assert log.stdout.split("\n")[0] == "clean code"  # the violating commit was not made
