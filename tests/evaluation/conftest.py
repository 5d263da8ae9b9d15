"""Fixtures for the evaluator tests: tiny checkpoints, built once and loaded clean."""

from __future__ import annotations

import pytest

from stage1kit.loader import CleanModelLoader
from stage1kit.testing import build_tiny_model


@pytest.fixture(scope="session")
def eval_base_dir(tiny_model_dir):
    """The session's tiny checkpoint (tests/conftest.py), built once for every test package."""
    return tiny_model_dir


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
