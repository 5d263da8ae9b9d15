"""``[parallel] launcher = "ray"``: the same shard workers as Ray tasks on a local cluster."""

from __future__ import annotations

import pytest

from stage1kit.records import read_records

from shard_helpers import config_for, run_stages, write_instructions

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray cluster for the module (starting one takes seconds); the launcher joins it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_shards_equal_the_single_process_run(tmp_path, ray_session, talking_model, talking_model_dir, registry):
    single, sharded = tmp_path / "single", tmp_path / "ray"
    for run in (single, sharded):
        write_instructions(run)
    run_stages(config_for(single, talking_model_dir), registry, ["responses", "judge"], talking_model)
    echoed: list[str] = []
    from stage1kit.pipeline import Pipeline
    from stage1kit.stages.catalogue import find_stage

    config = config_for(sharded, talking_model_dir, shards=2, launcher="ray")
    Pipeline(config, registry, show_progress=False, echo=echoed.append).run([find_stage("responses"), find_stage("judge")])
    assert any("2 shards on the ray launcher" in line for line in echoed), echoed
    for name in ("responses", "judgements"):
        assert read_records(sharded / f"{name}.jsonl") == read_records(single / f"{name}.jsonl")
        assert (sharded / f"{name}.jsonl").read_bytes() == (single / f"{name}.jsonl").read_bytes()
    assert ray.is_initialized(), "the launcher leaves a session it did not start"
