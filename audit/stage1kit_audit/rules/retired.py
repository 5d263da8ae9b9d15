"""SK500: references to components listed as retired in the config."""

from __future__ import annotations

import ast
from functools import cached_property

from ..config import AuditConfig
from ..resolver import string_value
from ..vocabulary import retired_needles
from .base import Rule


class RetiredComponent(Rule):
    """Imports or string mentions (e.g. a subprocess command line) of a retired script or module.

    Retired entries come from ``retired = [...]`` in the config: paths (``scripts/old.py``, also
    matched by file name) or dotted module names (``pkg.old_generator``).
    """

    code = "SK500"
    name = "retired-component"
    summary = "reference to a retired component"
    # The examples run with retired = ["scripts/generate_stage1_data.py", "pkg.old_generator"].
    EXAMPLE_RETIRED = ("scripts/generate_stage1_data.py", "pkg.old_generator")
    VALID = [
        "subprocess.run(['python', 'scripts/generate_stage2_data.py'])",
        "# scripts/generate_stage1_data.py is gone\nimport pkg.new_generator",
    ]
    INVALID = [
        "subprocess.run(['python', 'scripts/generate_stage1_data.py'])",
        "cmd = 'python generate_stage1_data.py --out data'",
        "from pkg.old_generator import Generator",
        "import pkg.old_generator as gen",
        "from scripts import generate_stage1_data",
    ]

    @classmethod
    def enabled(cls, config: AuditConfig) -> bool:
        return bool(config.retired)

    @cached_property
    def _needles(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        texts, modules = [], []
        for entry in self.config.retired:
            entry_texts, entry_modules = retired_needles(entry)
            texts += [(t, entry) for t in entry_texts]
            modules += [(m, entry) for m in entry_modules]
        return texts, modules

    def _message(self, entry: str) -> str:
        return (
            f"`{entry}` is retired (see [tool.stage1kit.audit] retired); "
            "run the registered stage1kit plugin that replaced it instead"
        )

    def on_string(self, node: ast.Constant) -> None:
        text = string_value(node)
        if text is None:
            return
        for needle, entry in self._needles[0]:
            if needle in text:
                self.report(node, self._message(entry))
                return

    def on_import(self, node: ast.Import | ast.ImportFrom, names: list[str]) -> None:
        for name in names:
            for module, entry in self._needles[1]:
                if name == module or name.startswith(module + "."):
                    self.report(node, self._message(entry))
                    return
