"""Real training scripts on every machine: TRL's own ``scripts/`` hand the trainer a model *name*.

``SFTTrainer(model=model_args.model_name_or_path, ...)`` loads the model inside TRL, where no loader
neutralises its template; the audit used to pass these four files as clean.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from stage1kit_audit import AuditConfig, audit_paths

SCRIPTS = {"sft.py": "SFTTrainer", "dpo.py": "DPOTrainer", "kto.py": "KTOTrainer", "reward.py": "RewardTrainer"}


def _trl_scripts() -> Path:
    spec = importlib.util.find_spec("trl")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("trl is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "scripts"


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_trl_training_scripts_are_findings(script: str, tmp_path: Path) -> None:
    path = _trl_scripts() / script
    if not path.is_file():
        pytest.skip(f"this trl has no scripts/{script}")
    report = audit_paths([path], config=AuditConfig(root=tmp_path), use_cache=False, jobs=1)
    trainer = [f for f in report.findings if f.rule == "SK100" and SCRIPTS[script] in f.message]
    assert trainer, [f"{f.line}: {f.rule} {f.message}" for f in report.findings]
    assert "model_args.model_name_or_path" in trainer[0].message
