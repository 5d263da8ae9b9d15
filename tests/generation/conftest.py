"""Fixtures for the generation tests: tiny checkpoints built once per session, loaded clean."""

from __future__ import annotations

import pytest

from stage1kit.testing import build_tiny_model


@pytest.fixture(scope="session")
def random_model_dir(tiny_model_dir):
    """Random weights (the session's tiny checkpoint): exact-arithmetic tests and honest rejection of gibberish."""
    return tiny_model_dir


@pytest.fixture(scope="session")
def talking_model_dir(tmp_path_factory):
    """A few pretraining steps: the model ends its lines, so generators have something to accept."""
    return build_tiny_model(tmp_path_factory.mktemp("gen-talking") / "model", seed=0, pretrain_steps=8)


@pytest.fixture(scope="session")
def random_model(random_model_dir):
    from stage1kit.loader import CleanModelLoader

    return CleanModelLoader(random_model_dir).load()


@pytest.fixture(scope="session")
def talking_model(talking_model_dir):
    from stage1kit.loader import CleanModelLoader

    return CleanModelLoader(talking_model_dir).load()


@pytest.fixture(scope="session")
def registry():
    """Only stage1kit's own plugins, whatever else is installed on the machine."""
    from stage1kit.plugins import load_registry

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STAGE1KIT_LOAD_PLUGINS", "stage1kit")
        return load_registry(strict=True)


@pytest.fixture(scope="session")
def critic(registry):
    return registry.create("critics", "logprob")


class ListSink:
    """A RecordSink that keeps records in memory."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        self.records.append(record)


@pytest.fixture
def sink():
    return ListSink()
