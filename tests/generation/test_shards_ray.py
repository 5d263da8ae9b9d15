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


def test_ray_shards_equal_the_single_process_run(tmp_path, ray_session, talking_model, talking_model_dir, registry, capsys):
    single, sharded = tmp_path / "single", tmp_path / "ray"
    for run in (single, sharded):
        write_instructions(run)
    run_stages(config_for(single, talking_model_dir), registry, ["responses", "judge"], talking_model)
    echoed: list[str] = []
    from stage1kit.pipeline import Pipeline
    from stage1kit.stages.catalogue import find_stage

    config = config_for(sharded, talking_model_dir, shards=2, launcher="ray")
    # with progress bars: one per shard, moved by the records the tasks append to their shard files
    Pipeline(config, registry, show_progress=True, echo=echoed.append).run([find_stage("responses"), find_stage("judge")])
    assert any("2 shards on the ray launcher" in line for line in echoed), echoed
    for name in ("responses", "judgements"):
        assert read_records(sharded / f"{name}.jsonl") == read_records(single / f"{name}.jsonl")
        assert (sharded / f"{name}.jsonl").read_bytes() == (single / f"{name}.jsonl").read_bytes()
    assert ray.is_initialized(), "the launcher leaves a session it did not start"
    shown = capsys.readouterr().out
    assert "responses shard-00-of-02" in shown and "judge shard-01-of-02" in shown


def test_a_failed_ray_task_names_its_shard_and_log(tmp_path, ray_session, talking_model_dir, registry):
    import shutil

    from stage1kit.launchers import ShardFailed
    from stage1kit.pipeline import Pipeline
    from stage1kit.stages.catalogue import find_stage

    model, run = tmp_path / "model", tmp_path / "run"
    shutil.copytree(talking_model_dir, model)
    next(model.glob("*.safetensors")).unlink()  # config and tokenizer open (the up-front check passes); loading fails
    write_instructions(run)
    config = config_for(run, model, shards=2, launcher="ray")
    with pytest.raises(ShardFailed) as failed:
        Pipeline(config, registry, show_progress=False, echo=lambda text: None).run([find_stage("responses")])
    message = str(failed.value)
    assert "2 of 2 responses shards failed" in message and "shard 0/2: Ray task failed" in message
    assert str(run / "responses.shard-01-of-02.log") in message
    assert not (run / "responses.jsonl").exists()
