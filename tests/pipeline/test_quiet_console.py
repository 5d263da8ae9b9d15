"""``--quiet`` means quiet: what reaches the terminal is stage1kit's own lines, not the libraries' chatter."""

import os
import subprocess
import sys

import pytest

#: What the libraries printed under --quiet before: weight-loading bars, deprecation warnings,
#: TRL's raw log dicts and any tqdm bar (its rate column).
LIBRARY_CHATTER = ("Loading weights", "FutureWarning", "UserWarning", "{'loss'", "it/s]", "s/it]")


@pytest.mark.slow
def test_a_quiet_run_prints_no_library_bars_warnings_or_log_dicts(config_path):
    result = subprocess.run(
        [sys.executable, "-m", "stage1kit.cli", "run", str(config_path), "--quiet"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "stage1kit run" in result.stdout and "train-dpo" in result.stdout  # the summary is still there
    leaked = [text for text in LIBRARY_CHATTER if text in output]
    assert not leaked, f"--quiet printed {leaked}:\n{output}"
