"""stage1kit's static audit: no model loads outside the loader, no chat templates.

Importing this package is cheap (no torch, no transformers); libcst is only imported when a file
actually has to be parsed.
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
