"""Which copy of a launch this process is, for code that must act once per launch.

``accelerate launch`` (and ``torchrun``, DeepSpeed's and MPI's launchers) start one copy of the
command per device, each with the same arguments. Only one of them, the main process (global rank
0), may hold the run-directory lock, print the summary and write outputs and manifests; the others
train beside it. The rank is read from the launcher's environment, so the CLI can decide this before
torch or accelerate are imported; :func:`training_state` gives the accelerate view once training
starts, and :func:`describe_state` what the training manifest records about it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

#: Where launchers put the global rank and the number of processes (torchrun/accelerate, then MPI flavours).
RANK_VARIABLES = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
WORLD_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def _first_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return default


def launch_rank() -> int:
    """This process's global rank in the launch; 0 when the command was not launched in several copies."""
    return _first_int(RANK_VARIABLES, 0)


def launch_world_size() -> int:
    """How many copies of the command the launcher started (1 without a launcher)."""
    return _first_int(WORLD_SIZE_VARIABLES, 1)


def is_main_process() -> bool:
    """Whether this is the copy that owns the run directory and the console (global rank 0)."""
    return launch_rank() == 0


def main_process_echo(echo: Callable[[str], None]) -> Callable[[str], None]:
    """``echo`` on the main process, a no-op on the others: a launch prints each line once."""
    if is_main_process():
        return echo
    return _silent


def _silent(message: str) -> None:
    """Drops a line another process of the launch prints."""


def training_state() -> Any:
    """accelerate's ``PartialState`` as the Trainer will see it.

    On a machine without a GPU the state must be created with ``cpu=True``: a bare
    ``PartialState()`` under a multi-process launch then finds no GPU backend, falls back to
    ``DistributedType.NO`` and tells every process it is the main one (each would write the output).
    The Trainer itself asks for ``cpu=True`` there (``use_cpu``), and the state is shared, so
    whichever asks first decides for both.
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def describe_state(state: Any) -> dict[str, Any]:
    """The training manifest's ``qc.distributed``: how many processes trained, and how they talked.

    Read after training: ``distributed_type`` is then the Trainer's accelerator's (``FSDP``,
    ``DEEPSPEED``), which ``PartialState`` alone reports as plain ``MULTI_GPU``.
    """
    from accelerate.state import AcceleratorState

    kind = AcceleratorState._shared_state.get("distributed_type", state.distributed_type)
    return {
        "world_size": int(state.num_processes),
        "backend": state.backend,
        "distributed_type": getattr(kind, "value", str(kind)),
    }
