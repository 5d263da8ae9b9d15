"""The pre-commit hook, run by real pre-commit on a temporary git repository, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install stage1kit[test])")
yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit")

REPO = Path(__file__).resolve().parents[2]
BAD = "from transformers import AutoTokenizer\ntok = AutoTokenizer.from_pretrained('gpt2')\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "config", "user.name", "test")
    (repo / "pyproject.toml").write_text("[tool.stage1kit.audit]\nloader-modules = ['loader.py']\n")
    # The published hook definition, run as a local hook: its entry with the running interpreter and
    # language: system, so nothing is downloaded; id, file types and the rest as shipped.
    hook = dict(shipped_hook())
    assert hook["entry"].startswith("python ")
    hook |= {"entry": sys.executable + hook["entry"].removeprefix("python"), "language": "system"}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [hook]}]}))
    (repo / "clean.py").write_text("def score(handle, text):\n    return handle.logprob(text)\n")
    (repo / "loader.py").write_text(BAD)
    return repo


def _pre_commit(repo: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "audit"), env.get("PYTHONPATH")]))
    env["PRE_COMMIT_HOME"] = str(repo.parent / "pre-commit-home")
    env["STAGE1KIT_CACHE_DIR"] = str(repo.parent / "cache")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--files", *files],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )


def test_hook_passes_clean_files_and_the_loader(repo: Path) -> None:
    _git(repo, "add", ".")
    result = _pre_commit(repo, "clean.py", "loader.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


def test_hook_rejects_a_violation(repo: Path) -> None:
    (repo / "stage.py").write_text(BAD)
    _git(repo, "add", ".")
    result = _pre_commit(repo, "clean.py", "stage.py")
    assert result.returncode == 1
    assert "Failed" in result.stdout and "stage.py:2:7: SK100" in result.stdout


def shipped_hook() -> dict:
    """The hook as the stage1kit-audit hook repository (made from ``audit/``) publishes it."""
    [hook] = yaml.safe_load((REPO / "audit" / ".pre-commit-hooks.yaml").read_text())
    return hook


def test_shipped_hook_audits_python_and_notebooks() -> None:
    hook = shipped_hook()
    assert hook["id"] == "stage1kit-audit" and hook["entry"] == "python -m stage1kit_audit"
    assert hook["language"] == "python"
    assert set(hook["types_or"]) == {"python", "jupyter"}


def test_the_root_manifest_installs_nothing_and_points_at_the_hook_repository() -> None:
    """pre-commit would ``pip install .`` the whole toolkit (6 GB) for a Python hook at the root."""
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "stage1kit-audit"
    assert hook["language"] == "fail"
    assert "stage1kit-audit" in hook["entry"] and "docs/audit.md" in hook["entry"]
