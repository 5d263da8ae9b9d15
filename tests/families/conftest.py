"""Tiny checkpoints of every base family the kit reproduces, built once per session on first use."""

import pytest

from stage1kit.testing_families import FAMILIES, build_family_model

FAMILY_NAMES = [f.name for f in FAMILIES]

#: Enough fitting for word-like text, so self-instruct finds instructions its filters accept.
PRETRAIN_STEPS = 30


@pytest.fixture(scope="session")
def family_dir(tmp_path_factory):
    """``family_dir(name)``: the path of that family's tiny (pretrained) checkpoint."""
    built = {}

    def get(name):
        if name not in built:
            root = tmp_path_factory.mktemp(name)
            built[name] = build_family_model(name, root / "model", seed=0, pretrain_steps=PRETRAIN_STEPS)
        return built[name]

    return get
