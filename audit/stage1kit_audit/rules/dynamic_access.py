"""SK300: dynamic access the audit cannot verify."""

from __future__ import annotations

import ast

from ..resolver import root, string_value
from .base import Rule, positional_args

INSTEAD = "use a plain import and attribute access the audit can check, or suppress with a reason"
REFLECTIVE = ("builtins.getattr", "builtins.setattr", "builtins.delattr")


class UnverifiableDynamicAccess(Rule):
    """``import_module``/``__import__`` of a computed name, ``exec``/``eval``, ``sys.modules[...]``,
    and ``getattr``/``setattr`` with a computed name on a model library module or object.

    The audit cannot prove these clean, so it reports them.
    """

    code = "SK300"
    name = "unverifiable-dynamic-access"
    summary = "unverifiable dynamic access"
    VALID = [
        "import importlib\njson = importlib.import_module('json')",
        "value = getattr(config, name, None)",
        "import transformers\nversion = getattr(transformers, '__version__')",
        "import importlib\ntf = importlib.import_module('trans' + 'formers')",
        "model.eval()",
        "import sys\nif 'torch' in sys.modules:\n    pass",
    ]
    INVALID = [
        "import importlib\nmod = importlib.import_module(name)",
        "from importlib import import_module as im\nim(prefix + 'formers')",
        "lib = __import__(name)",
        "exec(code)",
        "result = eval(expression)",
        "import sys\ntf = sys.modules['transformers']",
        "import sys\ntf = sys.modules.get('transformers')",
        "import transformers\ncls = getattr(transformers, class_name)",
        "from transformers import AutoTokenizer\ntok = AutoTokenizer\nsetattr(tok, key, value)",
    ]

    def on_call(self, node: ast.Call) -> None:
        resolved = self.resolver.resolve(node.func)
        if not resolved:
            return
        args = positional_args(node)
        if resolved & {"importlib.import_module", "builtins.__import__"}:
            if not args or string_value(args[0]) is None:
                self.report(node, f"importing a computed module name is unverifiable; {INSTEAD}")
        elif resolved & {"builtins.exec", "builtins.eval"}:
            self.report(node, f"`exec`/`eval` runs code the audit cannot see; {INSTEAD}")
        elif resolved & set(REFLECTIVE) and len(args) >= 2 and string_value(args[1]) is None:
            libraries = self.config.model_libraries
            targets = sorted(q for q in self.resolver.resolve(args[0]) if root(q) in libraries)
            if targets:
                self.report(
                    node, f"attribute access with a computed name on `{targets[0]}` is unverifiable; {INSTEAD}"
                )

    def on_subscript(self, node: ast.Subscript, store: bool) -> None:
        if "sys.modules" in self.resolver.resolve(node.value):
            self.report(node, f"`sys.modules[...]` reaches modules the audit cannot see; {INSTEAD}")

    def on_attribute(self, node: ast.Attribute, store: bool) -> None:
        if not store and node.attr in ("get", "setdefault", "pop", "__getitem__", "__setitem__", "update"):
            if "sys.modules" in self.resolver.resolve(node.value):
                self.report(node, f"`sys.modules.{node.attr}` reaches modules the audit cannot see; {INSTEAD}")
