"""stage1kit: post-train a base language model on its own outputs, never through a chat template."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stage1kit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
