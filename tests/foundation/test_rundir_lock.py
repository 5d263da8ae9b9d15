"""One run per run directory: a second process refuses at once, naming the first; a dead one never blocks."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from stage1kit.errors import Stage1kitError
from stage1kit.rundir_lock import LOCK_NAME, RunDirBusy, RunDirLock

HOLD = textwrap.dedent(
    """
    import sys, time
    from stage1kit.rundir_lock import RunDirLock
    with RunDirLock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(120)
    """
)


@pytest.fixture
def other_process_holding(tmp_path):
    """A real second process that holds ``tmp_path``'s lock until the test kills it."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_a_second_process_is_refused_with_the_holders_pid_and_command(tmp_path, other_process_holding):
    with pytest.raises(RunDirBusy) as refused:
        with RunDirLock(tmp_path):
            pass
    message = str(refused.value)
    assert f"pid {other_process_holding.pid} " in message
    assert "time.sleep(120)" in message  # the holder's command line
    assert "Wait for that run to finish" in message and f"kill {other_process_holding.pid}" in message
    assert isinstance(refused.value, Stage1kitError)


def test_a_killed_holder_leaves_a_lock_file_that_does_not_block(tmp_path, other_process_holding):
    other_process_holding.send_signal(signal.SIGKILL)
    other_process_holding.wait()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == other_process_holding.pid  # stale, left behind
    with RunDirLock(tmp_path):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()  # released: no holder recorded


def test_the_holding_process_may_take_its_own_lock_again(tmp_path):
    with RunDirLock(tmp_path):
        with RunDirLock(tmp_path):
            pass
        # still held after the inner block: another process is refused
        probe = subprocess.run(
            [sys.executable, "-c", "import sys; from stage1kit.rundir_lock import RunDirLock; RunDirLock(sys.argv[1]).__enter__()", str(tmp_path)],
            capture_output=True, text=True,
        )
        assert probe.returncode != 0 and f"pid {os.getpid()} " in probe.stderr
    with RunDirLock(tmp_path):
        pass


def test_a_run_that_wrote_nothing_leaves_no_run_directory_behind(tmp_path):
    run_dir = tmp_path / "runs" / "stage1"
    with RunDirLock(run_dir):
        assert (run_dir / LOCK_NAME).exists()
    assert not run_dir.exists()  # e.g. a run whose settings were refused before any stage wrote
    with RunDirLock(run_dir):
        (run_dir / "instructions.jsonl").write_text("")
    assert sorted(p.name for p in run_dir.iterdir()) == ["instructions.jsonl"]


def test_a_file_removed_by_its_holder_is_not_mistaken_for_the_lock(tmp_path, monkeypatch):
    """Opened the lock file, then its holder released it (removing it): lock the current file instead."""
    import fcntl

    from stage1kit import rundir_lock

    lock, attempts, real_flock = tmp_path / LOCK_NAME, [], fcntl.flock

    def flock_just_after_the_holder_left(fd, operation):
        if not attempts:
            lock.unlink()  # the holder releases between our open() and our flock()
        attempts.append(fd)
        return real_flock(fd, operation)

    monkeypatch.setattr(rundir_lock.fcntl, "flock", flock_just_after_the_holder_left)
    with RunDirLock(tmp_path):
        assert len(attempts) == 2  # the first lock was on the removed file: retried
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_a_non_main_process_of_a_launch_works_under_the_lock_its_main_process_holds(tmp_path, other_process_holding, monkeypatch):
    """Under `accelerate launch` every process runs `train`; rank 1 must not find the directory busy."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with RunDirLock(tmp_path, across_processes=True):
        pass
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == other_process_holding.pid  # untouched


def test_the_main_process_of_a_launch_is_refused_like_any_other_run(tmp_path, other_process_holding, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RunDirBusy, match=f"pid {other_process_holding.pid} "):
        with RunDirLock(tmp_path, across_processes=True):
            pass


def test_a_one_process_command_launched_in_several_is_refused_by_its_other_copies(tmp_path, monkeypatch):
    """A data stage under `accelerate launch` would write the same files from every copy: refuse, saying why."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RunDirBusy, match="runs in one process, but it was launched in 2"):
        with RunDirLock(tmp_path):
            pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_shards_work_side_by_side_and_a_whole_run_waits_for_them(tmp_path):
    from stage1kit.rundir_lock import ShardLock

    with ShardLock(tmp_path, "responses.shard-00-of-02"), ShardLock(tmp_path, "responses.shard-01-of-02"):
        with pytest.raises(RunDirBusy, match="shard runs"):
            with RunDirLock(tmp_path):
                pass
        with pytest.raises(RunDirBusy, match=f"pid {os.getpid()}"):  # the same shard twice
            with ShardLock(tmp_path, "responses.shard-01-of-02"):
                pass
    with RunDirLock(tmp_path):  # all shards done: a run may start
        pass
    assert not (tmp_path / ".stage1kit.responses.shard-00-of-02.lock").exists()


def test_a_shard_is_refused_while_a_whole_run_works(tmp_path, other_process_holding):
    from stage1kit.rundir_lock import ShardLock

    with pytest.raises(RunDirBusy, match=f"pid {other_process_holding.pid}"):
        with ShardLock(tmp_path, "judgements.shard-00-of-02"):
            pass
