"""Configuration from [tool.stage1kit.audit]: discovery, loader exemption, excludes, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from stage1kit_audit import AuditConfig, ConfigError, audit_paths, load_config

PYPROJECT = """
[project]
name = "demo"

[tool.stage1kit.audit]
loader-modules = ["src/demo/loader.py"]
retired = ["scripts/old_generate.py"]
exclude = ["vendor/**"]
"""
LOAD = "from transformers import AutoTokenizer\ntok = AutoTokenizer.from_pretrained('gpt2')\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    for relative in ("src/demo/loader.py", "src/demo/stage.py", "vendor/lib/hack.py"):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LOAD)
    run = "import subprocess\nsubprocess.run(['python', 'scripts/old_generate.py'])\n"
    (tmp_path / "src/demo/run.py").write_text(run)
    return tmp_path


def test_config_is_found_by_walking_up(project: Path) -> None:
    config = load_config(project / "src" / "demo" / "stage.py")
    assert config.root == project.resolve()
    assert config.loader_modules == ("src/demo/loader.py",)
    assert config.is_loader(project / "src/demo/loader.py")
    assert not config.is_loader(project / "src/demo/stage.py")


def test_loader_is_exempt_excludes_are_skipped_retired_is_found(project: Path) -> None:
    report = audit_paths([project], use_cache=False, jobs=1)
    found = sorted((Path(f.path).name, f.rule) for f in report.findings)
    assert found == [("run.py", "SK500"), ("stage.py", "SK100")]
    assert report.files_checked == 3  # vendor/ is excluded


def test_unknown_key_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.stage1kit.audit]\nloader_modules = ['x.py']\n")
    with pytest.raises(ConfigError, match="pyproject.toml.*loader_modules"):
        load_config(tmp_path)


def test_wrong_type_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.stage1kit.audit]\nexclude = 'build/**'\n")
    with pytest.raises(ConfigError, match="exclude must be a list of strings"):
        load_config(tmp_path)


def test_without_a_section_every_load_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "loader.py").write_text(LOAD)
    config = load_config(tmp_path)
    assert config == AuditConfig(root=tmp_path.resolve())
    assert not audit_paths([tmp_path], config=config, use_cache=False).clean


def test_glob_patterns() -> None:
    config = AuditConfig(root=Path("/r"), exclude=("build/**", "**/generated_*.py", "*.pyi"))
    assert config.is_excluded(Path("/r/build/x/y.py"))
    assert config.is_excluded(Path("/r/a/b/generated_model.py"))
    assert config.is_excluded(Path("/r/generated_model.py"))
    assert config.is_excluded(Path("/r/stubs.pyi"))
    assert not config.is_excluded(Path("/r/src/stubs.pyi"))
    assert config.is_excluded_dir(Path("/r/build"))
    assert not config.is_excluded_dir(Path("/r/src"))
