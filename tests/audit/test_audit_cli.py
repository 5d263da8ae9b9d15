"""The CLI: exit codes, the four output formats, config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from stage1kit_audit.cli import audit_command
from stage1kit_audit.rules import ALL_CODES

BAD = "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('gpt2')\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.stage1kit.audit]\nloader-modules = ['loader.py']\n")
    (tmp_path / "loader.py").write_text(BAD)
    (tmp_path / "clean.py").write_text("x = 1\n")
    (tmp_path / "bad.py").write_text(BAD)
    return tmp_path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(audit_command, list(args))
    return result.exit_code, result.output


def test_exit_codes(project: Path) -> None:
    assert _run(str(project / "clean.py"), str(project / "loader.py"))[0] == 0
    assert _run(str(project))[0] == 1
    assert _run(str(project / "missing.py"))[0] == 2


def test_walk_skips_virtual_environments_of_any_name(project: Path) -> None:
    """CI builds ``.venv-ci`` inside the checkout; installed libraries must not fail the project's audit."""
    (project / "bad.py").unlink()
    for name in (".venv-ci", "env"):
        site = project / name / "lib" / "python3.11" / "site-packages" / "trl"
        site.mkdir(parents=True)
        (project / name / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (site / "trainer.py").write_text(BAD)
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "stale.py").write_text(BAD)
    assert _run(str(project), "--no-cache")[0] == 0
    # Named explicitly, a virtual environment is still audited.
    assert _run(str(project / ".venv-ci"), "--no-cache")[0] == 1


def test_text_format(project: Path) -> None:
    code, output = _run(str(project / "bad.py"), "--no-cache")
    assert code == 1
    first = output.splitlines()[0]
    assert first.endswith("bad.py:2:9: SK100 `transformers.AutoModel.from_pretrained` loads outside the loader "
                          "modules; get models and tokenizers from stage1kit.loader.CleanModelLoader "
                          "(or the handle the engine passes you)")


def test_json_format(project: Path) -> None:
    code, output = _run(str(project), "--format", "json")
    data = json.loads(output)
    assert code == 1 and data["files_checked"] == 3 and data["clean"] is False
    (finding,) = data["findings"]
    assert set(finding) == {"path", "line", "column", "rule", "message", "severity"}
    assert finding["rule"] == "SK100" and finding["line"] == 2


def test_sarif_format_has_the_required_2_1_0_structure(project: Path) -> None:
    code, output = _run(str(project), "--format", "sarif")
    log = json.loads(output)
    assert code == 1
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] and [r["id"] for r in driver["rules"]] == list(ALL_CODES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    (result,) = run["results"]
    assert result["ruleId"] == "SK100" and result["level"] in {"none", "note", "warning", "error"}
    assert driver["rules"][result["ruleIndex"]]["id"] == "SK100"
    assert result["message"]["text"]
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    assert physical["artifactLocation"]["uri"].startswith("file:///")  # outside the working directory
    assert physical["artifactLocation"]["uri"].endswith("bad.py")
    assert physical["region"]["startLine"] == 2 and physical["region"]["startColumn"] == 9


def test_github_format(project: Path) -> None:
    _, output = _run(str(project), "--format", "github")
    (line,) = output.splitlines()
    assert line.startswith("::error file=") and ",line=2,col=9,title=SK100::SK100 " in line


def test_config_error_is_exit_2_and_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.stage1kit.audit]\nretired = 3\n")
    (tmp_path / "a.py").write_text("x = 1\n")
    code, output = _run(str(tmp_path / "a.py"))
    assert code == 2 and "pyproject.toml" in output and "retired" in output


def test_explicit_config_option(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[tool.stage1kit.audit]\nloader-modules = ['bad.py', 'loader.py']\n")
    assert _run(str(project), "--config", str(other))[0] == 0


def test_python_dash_m_runs_the_audit(project: Path) -> None:
    env = dict(os.environ)
    audit_root = str(Path(__file__).resolve().parents[2] / "audit")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [audit_root, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "stage1kit_audit", str(project / "bad.py")],
        capture_output=True, text=True, env=env, check=False,
    )
    assert result.returncode == 1 and "SK100" in result.stdout
