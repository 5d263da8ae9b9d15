"""Names are resolved, not grepped: each spelling of a load reaches the same qualified name."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_helpers import audit_source, rules_found


@pytest.mark.parametrize(
    "source",
    [
        "import transformers as tf\ntf.pipeline('text-generation')",
        "from transformers import pipeline as make\nmake('text-generation')",
        "def run():\n    from transformers import pipeline\n    return pipeline('text-generation')",
        "try:\n    from transformers import pipeline\nexcept ImportError:\n    pipeline = None\npipeline('x')",
        "from transformers import *\npipeline('text-generation')",
        "import transformers.pipelines\ntransformers.pipelines.pipeline('x')",
        "from transformers import pipeline\nmake = pipeline\nmake('x')",
        "from transformers import pipeline\nFACTORIES = {'hf': pipeline}\nFACTORIES['hf']('x')",
        "from transformers import pipeline\nFACTORIES = [pipeline]\nfor factory in FACTORIES:\n    factory('x')",
        "import transformers\nmake = getattr(transformers, 'pipeline')\nmake('x')",
        "import importlib\nimportlib.import_module('transformers').pipeline('x')",
        "def later():\n    return pipeline('x')\nfrom transformers import pipeline",
        "class Runner:\n    def go(self):\n        import transformers as t\n        return t.pipeline('x')",
    ],
)
def test_every_spelling_of_a_load_is_found(tmp_path: Path, source: str) -> None:
    assert "SK100" in rules_found(audit_source(tmp_path, source))


@pytest.mark.parametrize(
    "source",
    [
        "'''Load with AutoModel.from_pretrained(name) -- a docstring, not a call.'''",
        "# transformers.pipeline('text-generation') in a comment",
        "message = 'call tokenizer.apply_chat_template yourself'",
        "tokenizer.add_special_tokens({'additional_special_tokens': ['<x>']})",
        "from mylib import pipeline\npipeline('x')",
        "def pipeline(task):\n    return task\npipeline('x')",
        "import json\nwith open('f') as fh:\n    data = json.load(fh)",
        "import transformers\nprint(transformers.__version__)  # noqa: SK100",
    ],
)
def test_mentions_and_other_libraries_are_not_findings(tmp_path: Path, source: str) -> None:
    assert rules_found(audit_source(tmp_path, source)) == []


def test_class_scope_does_not_leak_into_methods(tmp_path: Path) -> None:
    source = (
        "from transformers import pipeline\n"
        "class Stage:\n"
        "    pipeline = staticmethod(lambda task: task)\n"
        "    def run(self):\n"
        "        return pipeline('x')\n"
    )
    assert rules_found(audit_source(tmp_path, source)) == ["SK100"]


def test_shadowed_builtin_is_not_eval(tmp_path: Path) -> None:
    source = "def eval(expression):\n    return expression\neval('1 + 1')\n"
    assert rules_found(audit_source(tmp_path, source)) == []


def test_finding_positions_are_one_based_line_and_column(tmp_path: Path) -> None:
    source = "import os\n\nclass A:\n    def f(self, tok):\n        return tok.apply_chat_template(m)\n"
    (finding,) = audit_source(tmp_path, source).findings
    assert (finding.line, finding.column, finding.rule) == (5, 16, "SK200")
