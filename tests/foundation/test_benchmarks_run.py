"""The model benchmarks still run against the current code (at toy sizes; no timing is asserted):
a benchmark that breaks silently measures nothing the next time someone needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize(
    "script, args",
    [
        ("generation_speed.py", ["--instructions", "4", "-k", "2", "--max-new-tokens", "4", "--repeats", "1", "--threads", "1"]),
        ("critic_speed.py", ["--pairs", "4", "--naive-pairs", "2", "--repeats", "1", "--threads", "1"]),
    ],
)
def test_a_benchmark_prints_its_ratios(script, args):
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ratio" in result.stdout and "x" in result.stdout
