"""Fixtures for the data tests: a tiny clean model, and registries that load real distributions only."""

from __future__ import annotations

from pathlib import Path

import pytest

from stage1kit.loader import CleanModelLoader
from stage1kit.plugins import load_registry, reset_registry
from stage1kit.testing import make_plugin_distribution

#: A deterministic critic for tests: it prefers the longer answer (in words), and calls a verdict
#: order-dependent when the lengths are within two words. Registered through a real distribution.
WORDCOUNT_CRITIC = '''
from stage1kit.hookspecs import hookimpl
from stage1kit.protocols import PairVerdict

CALLS = []


class WordCountCritic:
    def compare(self, model, queries):
        CALLS.append(len(queries))
        verdicts = []
        for q in queries:
            diff = len(q.response_a.split()) - len(q.response_b.split())
            margin = diff / 4.0
            prob_a = 0.5 + max(-0.49, min(0.49, diff / 40.0))
            verdicts.append(PairVerdict(margin, prob_a, abs(2 * prob_a - 1), abs(diff) > 2))
        return verdicts

    def score_instructions(self, model, instructions):
        return [0.5 for _ in instructions]

    def describe(self):
        return {"name": "wordcount", "version": "1"}


@hookimpl
def register_critics(register):
    register("wordcount", WordCountCritic)
'''


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir) -> Path:
    """The session's tiny checkpoint (tests/conftest.py), shared with the other test packages."""
    return tiny_model_dir


@pytest.fixture(scope="session")
def loaded(tiny_model):
    """The tiny model loaded clean, once: plugins receive it, never load their own."""
    return CleanModelLoader(tiny_model).load()


@pytest.fixture
def registry_with(tmp_path, monkeypatch):
    """``registry_with(*dists)``: a fresh registry of stage1kit plus the named test distributions."""

    def build(*extra: str):
        monkeypatch.setenv("STAGE1KIT_LOAD_PLUGINS", ",".join(("stage1kit", *extra)))
        reset_registry()
        return load_registry(strict=True)

    yield build
    reset_registry()


@pytest.fixture
def critic_dist(tmp_path, monkeypatch) -> str:
    """Install the word-count critic as a real distribution on sys.path; returns its name."""
    root = make_plugin_distribution(
        tmp_path / "site-critic", "wordcount-critic", {"wordcount_critic.py": WORDCOUNT_CRITIC}, {"wordcount": "wordcount_critic"}
    )
    monkeypatch.syspath_prepend(str(root))
    return "wordcount-critic"


@pytest.fixture
def registry(registry_with, critic_dist):
    return registry_with(critic_dist)
