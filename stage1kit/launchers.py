"""Run a work-list stage as ``[parallel] shards`` workers, then merge: local processes or Ray tasks.

Each worker runs the same stage on its shard (:mod:`stage1kit.shards`) with the same config, in a
fresh process with its own model copy: ``python -m stage1kit.launchers`` on this machine (``CUDA_VISIBLE_DEVICES``
set to its own group of ``gpus_per_shard`` GPUs when there are GPUs), or a Ray task
(``num_gpus=gpus_per_shard``). Workers read the inputs and write their shard files in the run
directory, so on several machines the run directory must be on a filesystem they all share. The
parent holds the run-directory lock for the whole stage; workers take no lock (they write only
their own shard files), so they cannot wait on it. Shards whose files are already finished and up
to date are not run again, and a failed worker leaves the other shards' files in place: a rerun
computes only what is missing.

``import ray`` happens only inside :func:`launch_ray`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stage1kit.errors import Stage1kitError
from stage1kit.shards import ShardSpec, merge_shards, work_ids

if TYPE_CHECKING:
    from stage1kit.config import PipelineConfig
    from stage1kit.stages.base import Stage, StageContext, StageOutcome

#: How often the parent looks at the shard files to move the progress bars (seconds).
POLL_SECONDS = 0.5
#: Lines of a failed worker's log the error shows.
LOG_TAIL_LINES = 8


class ShardFailed(Stage1kitError):
    """One or more shard workers failed; the message names each shard and its log."""


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs, picklable: the config (paths made absolute), which stage and shard."""

    config: "PipelineConfig"
    stage: str
    shard: ShardSpec
    audit: dict[str, Any] | None
    log: Path
    env: dict[str, str]


@dataclass
class ShardFailure:
    shard: ShardSpec
    log: Path
    reason: str


# --------------------------------------------------------------------------- the worker


def run_shard_job(job: ShardJob) -> dict[str, Any]:
    """Run one shard in this (Ray worker) process, its output going to ``job.log``; what a task returns."""
    os.environ.update(job.env)
    with _output_to(job.log):
        return _run_shard(job)


def _run_shard(job: ShardJob) -> dict[str, Any]:
    from stage1kit.models import ModelAccess
    from stage1kit.pipeline import Pipeline
    from stage1kit.plugins import get_registry
    from stage1kit.stages.catalogue import find_stage

    stage = find_stage(job.stage)
    print(f"stage1kit worker: {job.stage} shard {job.shard} (pid {os.getpid()}, CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')})", flush=True)
    models = ModelAccess(job.config.model, job.config.model_id)
    pipeline = Pipeline(job.config, get_registry(), show_progress=False, echo=_echo, models=models, shard=job.shard)
    started = time.perf_counter()
    try:
        outcome = pipeline.run_shard(stage, job.audit)
    finally:  # a Ray worker process lives on for other tasks: its engine must not keep the GPU
        models.release()
        _free_gpu_memory()
    print(f"stage1kit worker: shard {job.shard} done: {outcome.records_out} records in {time.perf_counter() - started:.1f}s", flush=True)
    return {"shard": job.shard.index, "records": outcome.records_out, "skipped": outcome.skipped}


def _echo(text: str) -> None:
    print(text, flush=True)


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors too: library warnings, C code) to
    ``log``, and put them back afterwards (a Ray worker process runs other tasks later)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "a", encoding="utf-8") as handle:
        os.dup2(handle.fileno(), 1), os.dup2(handle.fileno(), 2)
        try:
            yield
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            raise
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def worker_main() -> None:
    """``python -m stage1kit.launchers``: a local worker; its job comes pickled on stdin, its output
    goes where the parent pointed it (the shard's log), its exit status says whether the shard is written."""
    import pickle

    job = pickle.load(sys.stdin.buffer)
    try:
        _run_shard(job)
    except Stage1kitError as exc:  # a message for the user, as the CLI shows it; anything else keeps its traceback
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)


# --------------------------------------------------------------------------- the parent


def parallel_problems(config: "PipelineConfig") -> list[str]:
    """What stops ``[parallel]`` from running, found before any stage starts (``config_problems``)."""
    import importlib.util

    parallel = config.parallel
    if parallel.shards == 1:
        return []
    problems = []
    if parallel.launcher == "ray" and importlib.util.find_spec("ray") is None:
        problems.append(f'{config.path}: [parallel] launcher = "ray": Ray is not installed; pip install "stage1kit[ray]"')
    device = config.model.device or ""
    if device.startswith("cuda:") and parallel.gpus_per_shard > 0:
        problems.append(
            f"{config.path}: [model] device = {device!r} pins one GPU, but with [parallel] shards = {parallel.shards} each "
            "worker gets its own GPUs: leave device unset or \"cuda\" (or set gpus_per_shard = 0 to share the visible GPUs)"
        )
    tensor_parallel = int(config.engine.settings.get("tensor_parallel_size", 1)) if not config.engine.is_default else 1
    if parallel.gpus_per_shard and tensor_parallel > parallel.gpus_per_shard:
        problems.append(
            f"{config.path}: [parallel] gpus_per_shard = {parallel.gpus_per_shard}, but each shard's engine splits the model "
            f"over tensor_parallel_size = {tensor_parallel} GPUs ([engine] settings): set gpus_per_shard = {tensor_parallel}"
        )
    return problems


def run_sharded(stage: "Stage", ctx: "StageContext") -> "StageOutcome":
    """Run ``stage`` as ``[parallel] shards`` workers with the configured launcher, then merge."""
    parallel = ctx.config.parallel
    run_dir = ctx.run_dir
    (output,) = stage.output_paths(run_dir)
    key = stage.cache_key(ctx.config)
    specs = [ShardSpec(index, parallel.shards) for index in range(parallel.shards)]
    todo = [spec for spec in specs if _stale(stage, ctx, spec, key)]
    done = len(specs) - len(todo)
    ctx.echo(
        f"[{stage.name}] {len(specs)} shards on the {parallel.launcher} launcher"
        + (f" ({done} already finished, kept)" if done else "")
        + f"; logs: {specs[0].log_path(output).name} ..."
    )
    if todo:
        ctx.models.release()  # an earlier stage's model or engine would hold the GPUs the workers need
        _free_gpu_memory()
        config = _portable(ctx.config)
        jobs = [ShardJob(config, stage.name, spec, ctx.audit, spec.log_path(output), {}) for spec in todo]
        watch = ShardWatch(output, specs, len(work_ids(stage, run_dir)), ctx, stage.name)
        launch = launch_ray if parallel.launcher == "ray" else launch_local
        with watch:
            failures = launch(jobs, parallel, watch)
        if failures:
            raise ShardFailed(_failure_message(stage, failures, len(specs)))
    ctx.echo(f"[{stage.name}] merging {len(specs)} shards into {output.name}")
    return merge_shards(stage, run_dir, parallel.shards, expected_config=key)


def _free_gpu_memory() -> None:
    """Give back the GPU memory this process cached (an earlier stage's model) to the workers."""
    if "torch" not in sys.modules:
        return
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def _stale(stage: "Stage", ctx: "StageContext", spec: ShardSpec, key: dict[str, Any]) -> bool:
    from stage1kit.manifest import stale_reason

    (output,) = stage.output_paths(ctx.run_dir)
    return stale_reason(spec.path(output), inputs=stage.input_paths(ctx.run_dir), config=key) is not None


def _portable(config: "PipelineConfig") -> "PipelineConfig":
    """The config with an absolute path, so a worker in another directory (a Ray node) finds the
    run directory and a relative model path as this process does."""
    return dataclasses.replace(config, path=config.path.resolve())


def _failure_message(stage: "Stage", failures: Sequence[ShardFailure], count: int) -> str:
    lines = [f"{len(failures)} of {count} {stage.name} shards failed:"]
    for failure in sorted(failures, key=lambda f: f.shard.index):
        tail = _tail(failure.log)
        where = f"log: {failure.log}" if tail else f"no log at {failure.log}: the worker failed before it started (see the messages above)"
        lines.append(f"  shard {failure.shard}: {failure.reason}; {where}")
        lines += [f"    | {line}" for line in tail]
    lines.append(
        "Finished shards are kept: rerun the same command and only the missing shards run "
        f"(or run one with `stage1kit {stage.name} --shard I/{count} ...`, then `stage1kit merge {stage.name} --run-dir ...`)."
    )
    return "\n".join(lines)


def _tail(log: Path) -> list[str]:
    try:
        return log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        return []


# --------------------------------------------------------------------------- local processes


def gpu_groups(count: int, per_shard: int) -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` of each of ``count`` workers: its own ``per_shard`` GPUs; None each
    on a machine without GPUs (or with ``per_shard = 0``)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = [d.strip() for d in visible.split(",") if d.strip()] if visible is not None else _all_gpus()
    if not devices or per_shard == 0:
        return [None] * count
    needed = count * per_shard
    if needed > len(devices):
        raise ShardFailed(
            f"[parallel] shards = {count} with gpus_per_shard = {per_shard} needs {needed} GPUs; this machine has "
            f"{len(devices)} ({', '.join(devices)}): lower shards, or use launcher = \"ray\" on a cluster"
        )
    return [",".join(devices[i * per_shard : (i + 1) * per_shard]) for i in range(count)]


def _all_gpus() -> list[str]:
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def worker_env(gpus: str | None, workers: int) -> dict[str, str]:
    """A worker's environment additions: its GPUs, or on the CPU its share of the cores (n workers
    with a thread per core each would only fight)."""
    if gpus is not None:
        return {"CUDA_VISIBLE_DEVICES": gpus}
    if "OMP_NUM_THREADS" in os.environ:
        return {}
    return {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // workers))}


def launch_local(jobs: Sequence[ShardJob], parallel: Any, watch: "ShardWatch") -> list[ShardFailure]:
    """One ``python -m stage1kit.launchers`` process per job on this machine; waits for all of them
    (a failure does not stop the others: their finished shards are kept for the rerun).

    Fresh interpreters, not forks: no inherited CUDA or thread state, the environment (GPUs) set
    before anything imports torch, and the caller's script is never re-run the way
    ``multiprocessing``'s spawn re-imports ``__main__``."""
    import pickle
    import subprocess

    groups = gpu_groups(len(jobs), parallel.gpus_per_shard)
    processes: list[tuple[ShardJob, Any]] = []
    failures: list[ShardFailure] = []
    try:
        for job, gpus in zip(jobs, groups):
            job.log.parent.mkdir(parents=True, exist_ok=True)
            env = os.environ | job.env | worker_env(gpus, len(jobs))
            with open(job.log, "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "stage1kit.launchers"], stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env
                )
            assert process.stdin is not None
            process.stdin.write(pickle.dumps(job))
            process.stdin.close()
            processes.append((job, process))
        running = list(processes)
        while running:
            time.sleep(POLL_SECONDS)
            watch.update()
            for job, process in [p for p in running if p[1].poll() is not None]:
                running.remove((job, process))
                if process.returncode == 0:
                    watch.finished(job.shard)
                else:
                    failures.append(ShardFailure(job.shard, job.log, f"worker exited with status {process.returncode}"))
                    watch.failed(job.shard)
    finally:
        for _, process in processes:  # interrupted (Ctrl-C): stop the workers too
            if process.poll() is None:
                process.terminate()
                process.wait()
    return failures


# --------------------------------------------------------------------------- Ray


def launch_ray(jobs: Sequence[ShardJob], parallel: Any, watch: "ShardWatch") -> list[ShardFailure]:
    """Each job as a Ray task (``num_gpus=gpus_per_shard`` on a cluster with GPUs, one CPU otherwise),
    on the cluster at ``ray_address`` (or a local one). Joins a session this process already started."""
    try:
        import ray
    except ImportError:
        raise ShardFailed('[parallel] launcher = "ray" needs Ray: pip install "stage1kit[ray]"') from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=parallel.ray_address or None, include_dashboard=False, log_to_driver=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        resources = {"num_gpus": parallel.gpus_per_shard} if gpus and parallel.gpus_per_shard else {"num_cpus": 1}
        task = ray.remote(max_retries=0)(run_shard_job).options(**resources)
        env = {k: v for k, v in os.environ.items() if k.startswith("STAGE1KIT_")}  # e.g. which plugins load
        pending = {task.remote(dataclasses.replace(job, env=job.env | env)): job for job in jobs}
        failures: list[ShardFailure] = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            watch.update()
            for ref in ready:
                job = pending.pop(ref)
                try:
                    ray.get(ref)
                    watch.finished(job.shard)
                except Exception as exc:  # a RayTaskError wraps whatever the worker raised
                    failures.append(ShardFailure(job.shard, job.log, f"Ray task failed: {_first_line(exc)}"))
                    watch.failed(job.shard)
        return failures
    finally:
        if started_here:
            ray.shutdown()


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"


# --------------------------------------------------------------------------- progress


class ShardWatch:
    """Per-shard progress read from the shard files as workers append to them (so it works the
    same for processes and Ray tasks): a bar per shard, or a line per finished shard when quiet."""

    def __init__(self, output: Path, specs: Sequence[ShardSpec], total: int, ctx: "StageContext", stage: str) -> None:
        self.output, self.specs, self.stage = output, list(specs), stage
        self.sizes = {spec.index: len(spec.block(total)) for spec in specs}
        self.echo: Callable[[str], None] = ctx.echo
        self.show = ctx.show_progress
        self._counts: dict[Path, tuple[int, int, int]] = {}  # file -> (inode, offset, lines)
        self._bar: Any = None
        self._tasks: dict[int, Any] = {}

    def __enter__(self) -> "ShardWatch":
        if self.show:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            self._bar.start()
            for spec in self.specs:
                self._tasks[spec.index] = self._bar.add_task(f"{self.stage} {spec.tag}", total=self.sizes[spec.index])
            self.update()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self.update()
            self._bar.stop()

    def records(self, spec: ShardSpec) -> int:
        from stage1kit.stages.base import staging_path

        data = spec.path(self.output)
        return self._lines(data) if data.exists() else self._lines(staging_path(data))

    def update(self) -> None:
        if self._bar is None:
            return
        for spec in self.specs:
            self._bar.update(self._tasks[spec.index], completed=self.records(spec))

    def finished(self, spec: ShardSpec) -> None:
        if self._bar is None:
            self.echo(f"[{self.stage}] shard {spec} finished ({self.records(spec)} records)")

    def failed(self, spec: ShardSpec) -> None:
        if self._bar is None:
            self.echo(f"[{self.stage}] shard {spec} FAILED; see {spec.log_path(self.output)}")

    def _lines(self, path: Path) -> int:
        """Complete lines in ``path``, reading only what was appended since the last look."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return 0
        inode, offset, lines = self._counts.get(path, (stat.st_ino, 0, 0))
        if inode != stat.st_ino or stat.st_size < offset:  # replaced or cut (a torn tail): count again
            offset, lines = 0, 0
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        complete = chunk.rfind(b"\n") + 1
        lines += chunk[:complete].count(b"\n")
        self._counts[path] = (stat.st_ino, offset + complete, lines)
        return lines


if __name__ == "__main__":
    worker_main()
