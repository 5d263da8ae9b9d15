"""Name and version of this plugin, as records' provenance reports them."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

PLUGIN = "stage1kit_hf"


def plugin_version() -> str:
    """The version of the distribution that ships this plugin (stage1kit itself)."""
    try:
        return version("stage1kit")
    except PackageNotFoundError:
        return "unknown"
