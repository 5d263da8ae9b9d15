"""Shared fixtures: tiny offline checkpoints, built once per test session."""

import pytest
import torch

# Tiny models are dominated by per-op overhead; extra threads only fight each other on small CI boxes.
torch.set_num_threads(1)

from stage1kit.testing import CHATML_TEMPLATE, build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Llama checkpoint with no chat template."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def templated_model_dir(tmp_path_factory):
    """A tiny checkpoint that ships a chat template, the way chat models do."""
    # stage1kit: allow[SK200] reason: the fixture ships a template so the loader is tested stripping it
    return build_tiny_model(tmp_path_factory.mktemp("tiny-chat") / "model", seed=0, chat_template=CHATML_TEMPLATE)
