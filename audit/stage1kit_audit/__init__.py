"""stage1kit's static audit: no model loads outside the loader, no chat templates.

It reads code with CPython's own ``ast`` and needs only click (and tomli before Python 3.11):
importing it never imports torch or transformers, and checking one file takes a fraction of a second.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .config import AuditConfig, ConfigError, load_config  # noqa: E402
from .engine import AuditUsageError, audit_modules, audit_paths  # noqa: E402
from .findings import AuditReport, Finding  # noqa: E402

__all__ = [
    "AuditConfig",
    "AuditReport",
    "AuditUsageError",
    "ConfigError",
    "Finding",
    "__version__",
    "audit_modules",
    "audit_paths",
    "load_config",
]
