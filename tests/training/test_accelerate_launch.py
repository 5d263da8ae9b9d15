"""``stage1kit train sft`` runs unchanged under ``accelerate launch`` (one CPU process here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stage1kit.manifest import verify_manifest
from stage1kit.rundir import manifest_path_for

pytestmark = pytest.mark.slow


def test_sft_trains_under_accelerate_launch(gated_run, base_model, tmp_path):
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # No accelerate config of the machine's (it lives under HF_HOME) may change the launch.
        "HF_HOME": str(tmp_path / "hf-home"),
        "STAGE1KIT_LOAD_PLUGINS": "stage1kit",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--cpu",
        "-m", "stage1kit.cli", "train", "sft",
        "--run-dir", str(gated_run.root), "--model", str(base_model),
        "--max-steps", "2", "--batch-size", "2", "--lora-r", "4", "--quiet",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "train-sft: 6 records in, verdict pass" in done.stdout

    manifest = manifest_path_for(gated_run.train_dir("sft"))
    assert manifest.is_file()
    assert verify_manifest(manifest) == []
