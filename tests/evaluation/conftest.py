"""Fixtures for the evaluator tests: tiny checkpoints, built once and loaded clean."""

from __future__ import annotations

import pytest

from stage1kit.loader import CleanModelLoader
from stage1kit.testing import build_tiny_model


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models on a shared 2-core machine: a second thread only adds contention (60x slower here)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def eval_base_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("eval-base") / "model", seed=0)


@pytest.fixture(scope="session")
def eval_other_dir(tmp_path_factory):
    """A second checkpoint with other weights: stands in for a trained model that changed."""
    return build_tiny_model(tmp_path_factory.mktemp("eval-other") / "model", seed=1)


@pytest.fixture(scope="session")
def base_model(eval_base_dir):
    return CleanModelLoader(eval_base_dir).load()


@pytest.fixture(scope="session")
def base_twin(eval_base_dir):
    """The base checkpoint loaded a second time: a 'trained' model identical to the base."""
    return CleanModelLoader(eval_base_dir).load()


@pytest.fixture(scope="session")
def other_model(eval_other_dir):
    return CleanModelLoader(eval_other_dir).load()
