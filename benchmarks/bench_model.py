"""Set-up the model benchmarks share: which model to time, on which device, with how many threads."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="checkpoint folder (default: build the tiny model)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")


def load_model(args: argparse.Namespace, **build: Any) -> tuple[Any, str]:
    """The loaded model (CUDA when available) and a label for it; the tiny model is built in a
    temporary folder with ``build`` passed to ``build_tiny_model`` unless ``--model`` is given."""
    import torch

    from stage1kit.loader import CleanModelLoader
    from stage1kit.testing import build_tiny_model

    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.model:
        return CleanModelLoader(args.model, device=device).load(), args.model
    with tempfile.TemporaryDirectory() as tmp:
        loaded = CleanModelLoader(build_tiny_model(Path(tmp) / "tiny", seed=0, **build), device=device).load()
    return loaded, "the tiny model (stage1kit.testing)"


def sync(device: Any) -> None:
    """Wait for queued GPU work, so a timer measures it."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
