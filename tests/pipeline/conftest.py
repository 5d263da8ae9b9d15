"""A small pipeline config on the tiny model, shared by the pipeline tests."""

import pytest

from stage1kit.starter import write_starter_config


@pytest.fixture
def config_path(tmp_path, tiny_model_dir):
    """A starter config (as `stage1kit init` writes it) pointing at the session's tiny model."""
    path = tmp_path / "stage1kit.toml"
    write_starter_config(path, model=str(tiny_model_dir))
    return path


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{old!r} not in config"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def edit():
    """``edit(path, old, new)``: change one spot of a config file, failing if it is not there."""
    return _edit
