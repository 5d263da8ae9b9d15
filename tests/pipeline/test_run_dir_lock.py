"""Two runs on one run directory: the second refuses at once and names the first (issue 10, defect 13)."""

import os
import subprocess
import sys

from stage1kit.rundir_lock import RunDirLock


def test_a_second_run_on_a_busy_run_directory_refuses_naming_the_holder(config_path):
    run_dir = config_path.parent / "run"
    with RunDirLock(run_dir):  # this test process is "the first run"
        second = subprocess.run(
            [sys.executable, "-m", "stage1kit.cli", "run", str(config_path), "--quiet", "--until", "instructions"],
            capture_output=True, text=True, timeout=600,
        )
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"is in use by another stage1kit run: pid {os.getpid()} " in second.stderr
    assert "Wait for that run to finish" in second.stderr
    assert "Traceback" not in second.stderr
    assert not (run_dir / "instructions.jsonl").exists()  # it refused before writing anything
