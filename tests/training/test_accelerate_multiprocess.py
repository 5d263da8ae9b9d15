"""``stage1kit train sft|dpo`` under ``accelerate launch`` with two CPU processes (gloo).

``accelerate launch --cpu`` always starts a single process (its simple launcher), whatever
``--num_processes`` says; several processes on CPU come from the torchrun launcher, which
``--multi_gpu`` selects, with no GPU visible. Each process then runs the whole command: these tests
check that one of them holds the run directory, prints and writes, and that together they train on
every record exactly once per epoch.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stage1kit.manifest import load_manifest, verify_manifest
from stage1kit.rundir import RunDir, manifest_path_for

pytestmark = pytest.mark.slow

PROCESSES = 2


def free_port() -> int:
    """A port for the launch's rendezvous, so parallel test runs never meet on accelerate's default 29500."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # No accelerate config of the machine's (it lives under HF_HOME) may change the launch.
        "HF_HOME": str(tmp_path / "hf-home"),
        "STAGE1KIT_LOAD_PLUGINS": "stage1kit",
        "TOKENIZERS_PARALLELISM": "false",
        "CUDA_VISIBLE_DEVICES": "",  # gloo on CPU even where a GPU is present
        "OMP_NUM_THREADS": "1",
    }


def launch_prefix() -> list[str]:
    """``accelerate launch`` of ``PROCESSES`` CPU processes through torchrun (``--multi_gpu``, no GPU visible)."""
    return [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", str(PROCESSES), "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
    ]


def launch(kind: str, run_dir: RunDir, model: Path, tmp_path: Path, batch_size: int = 1) -> subprocess.CompletedProcess:
    """``stage1kit train KIND`` in ``PROCESSES`` CPU processes for one epoch (6 records, batch 1: 3 whole steps)."""
    command = [
        *launch_prefix(), "-m", "stage1kit.cli", "train", kind,
        "--run-dir", str(run_dir.root), "--model", str(model),
        "--epochs", "1", "--batch-size", str(batch_size), "--lora-r", "4", "--quiet",
    ]
    return subprocess.run(command, check=False, env=launch_env(tmp_path), capture_output=True, text=True, timeout=240)


STATE_PROBE = """
import sys
from pathlib import Path
from stage1kit.distributed import describe_state, training_state
state = training_state()
Path(sys.argv[1], f"rank-{state.process_index}").write_text(f"main {state.is_main_process} {describe_state(state)}")
"""


def test_the_stage_sees_the_launch_before_the_trainer_exists(tmp_path):
    """A bare ``PartialState()`` on a CPU-only launch says ``NO``: both processes would think they are main
    and clear the staging folder, with no barrier between them. ``training_state`` asks for the CPU backend."""
    probe = tmp_path / "probe.py"
    probe.write_text(STATE_PROBE)
    done = subprocess.run(
        [*launch_prefix(), str(probe), str(tmp_path)], check=False, env=launch_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    described = "{'world_size': 2, 'backend': 'gloo', 'distributed_type': 'MULTI_CPU'}"
    assert (tmp_path / "rank-0").read_text() == f"main True {described}"
    assert (tmp_path / "rank-1").read_text() == f"main False {described}"  # with a bare PartialState() this file is missing


def check_one_writer_and_full_coverage(done: subprocess.CompletedProcess, run_dir: RunDir, kind: str) -> dict[str, Any]:
    """The launch's shared promises; returns the training manifest's qc."""
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is in use by another stage1kit run" not in done.stderr  # the second process did not trip the lock
    # One process speaks: the stage's lines and the summary appear once, not once per process.
    assert done.stdout.count(f"[train-{kind}] running") == 1, done.stdout
    assert done.stdout.count(f"train-{kind}: 6 records in, verdict pass") == 1, done.stdout

    output = run_dir.train_dir(kind)
    assert not output.with_name(output.name + ".partial").exists()
    assert (output / "adapter_model.safetensors").is_file()
    assert verify_manifest(manifest_path_for(output)) == []
    qc = load_manifest(manifest_path_for(output))["qc"]
    assert qc["distributed"] == {"world_size": PROCESSES, "backend": "gloo", "distributed_type": "MULTI_CPU"}
    # Every record once: 3 steps of 2 processes x 1 example, 6 distinct examples, nothing repeated.
    assert qc["records"] == qc["train_examples"] == 6
    assert qc["global_batch_size"] == PROCESSES
    assert qc["global_step"] == 3 and qc["epoch"] == 1.0
    assert qc["examples_seen"] == qc["distinct_examples_seen"] == 6
    assert not any("examples in" in warning for warning in load_manifest(manifest_path_for(output))["warnings"])
    return qc


def test_sft_then_dpo_train_once_across_two_processes(gated_run, base_model, tmp_path):
    # A staging folder left by an interrupted run: the main process clears it before anyone trains into it.
    stale = gated_run.train_dir("sft").with_name("train-sft.partial")
    stale.mkdir(parents=True)
    (stale / "left-over.txt").write_text("from an interrupted run\n")

    sft = launch("sft", gated_run, base_model, tmp_path)
    check_one_writer_and_full_coverage(sft, gated_run, "sft")
    assert not (gated_run.train_dir("sft") / "left-over.txt").exists()

    dpo = launch("dpo", gated_run, base_model, tmp_path)
    qc = check_one_writer_and_full_coverage(dpo, gated_run, "dpo")
    # TRL gathers its DPO metrics over the processes; the likelihood trend comes from those logs.
    assert qc["likelihood"]["points"] >= 1 and len(qc["likelihood"]["logps_chosen"]) == qc["likelihood"]["points"]
    assert not (gated_run.root / ".stage1kit.lock").exists()  # released by the process that took it


def test_records_that_do_not_fill_the_last_global_batch_are_reported(gated_run, base_model, tmp_path):
    """6 records, 2 processes x batch 2: accelerate fills the second step with 2 records from the start."""
    done = launch("sft", gated_run, base_model, tmp_path, batch_size=2)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = load_manifest(manifest_path_for(gated_run.train_dir("sft")))
    qc = manifest["qc"]
    assert (qc["examples_seen"], qc["distinct_examples_seen"], qc["global_batch_size"]) == (8, 6, 4)
    (warning,) = [w for w in manifest["warnings"] if "examples in" in w]
    assert "8 examples in 1 epoch(s) of 6 (2 repeated)" in warning and "multiple of 4" in warning


def test_a_stage_that_runs_in_one_process_refuses_a_multi_process_launch(base_model, tmp_path):
    """Every copy of `stage1kit instructions` would write the same files: the launch stops, saying why."""
    command = [*launch_prefix(), "-m", "stage1kit.cli", "instructions", "--run-dir", str(tmp_path / "run"), "--model", str(base_model), "--quiet"]
    done = subprocess.run(command, check=False, env=launch_env(tmp_path), capture_output=True, text=True, timeout=240)
    assert done.returncode != 0
    assert "this command runs in one process, but it was launched in 2" in done.stdout + done.stderr
