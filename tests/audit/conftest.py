"""Fixtures for the audit's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's cache folder from tests."""
    monkeypatch.setenv("STAGE1KIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
