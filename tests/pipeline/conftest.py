"""A small pipeline config on the tiny model, shared by the pipeline tests."""

import pytest

from stage1kit.commands.pipeline import DEMO_PRETRAIN_STEPS
from stage1kit.starter import write_starter_config
from stage1kit.testing import build_tiny_model


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory):
    """The demo's tiny model: fitted to the built-in corpus so it writes word-like text."""
    return build_tiny_model(tmp_path_factory.mktemp("demo") / "model", seed=0, pretrain_steps=DEMO_PRETRAIN_STEPS)


@pytest.fixture
def config_path(tmp_path, demo_model_dir):
    """A starter config (as `stage1kit init` writes it) pointing at the demo's tiny model."""
    path = tmp_path / "stage1kit.toml"
    write_starter_config(path, model=str(demo_model_dir))
    return path


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in config"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def edit():
    """``edit(path, old, new)``: change one spot of a config file, failing if it is not there."""
    return _edit
