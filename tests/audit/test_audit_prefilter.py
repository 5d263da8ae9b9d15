"""The prefilter is sound: it never skips a file the full analysis would report."""

from __future__ import annotations

from pathlib import Path

import pytest
from stage1kit_audit.check import check_source
from stage1kit_audit.config import AuditConfig
from stage1kit_audit.prefilter import needs_parse, retired_words
from stage1kit_audit.rules import RULES
from stage1kit_audit.rules.retired import RetiredComponent

REPO = Path(__file__).resolve().parents[2]
CONFIG = AuditConfig(root=REPO, retired=RetiredComponent.EXAMPLE_RETIRED)
FORCED = retired_words(CONFIG.retired)

# Tricky spellings: each must still be parsed.
TRICKY = [
    "from transformers import pipeline as p\np('x')",
    "from transformers import *\nmodel = pipeline('x')",
    "import transformers\nf = getattr(transformers, name)",
    "from importlib import import_module as im\nim(n)",
    "from builtins import eval as e\ne(x)",
    "import sys as s\ns.modules['transformers']",
    "x = (model .\n    eval())\neval(y)",
    "import transformers\nf = getattr(transformers, 'Auto' + name)",
    "import transformers\nf = getattr(transformers, f'{name}')",
    "import transformers\nf = getattr(transformers, 'Auto' 'Model')\nf.from_config(c)",
    "import transformers\ng = getattr\ng(transformers, name)",
    "import transformers\nsetattr(\n    transformers,\n    key,  # computed\n    value,\n)",
    "if False:\n    tok.chat_template = None",
    "d = dict(role='user', content='hi')",
    "run(['python', 'scripts/generate_stage1_data.py'])",
    "x = 1  # stage1kit: allow[SK100] reason: unused",
    # top-level definitions are skipped piece by piece; aliases and splits inside strings still work
    "from transformers import pipeline as p\n\ndef f():\n    return p('x')\n",
    "import transformers\nLOADERS = {'a': transformers.pipeline}\n\n"
    "@decorator(\n    x=1,\n)\ndef f():\n    return LOADERS['a']('x')\n",
    "x = '''\ndef f():\n    pipeline('x')\n'''\nfrom transformers import pipeline\npipeline(x)\n",
    "from transformers import *\n\nclass A:\n    def f(self):\n        return pipeline('x')\n",
    "def f():\n    s = '''\nclass X:\n    y = 1\n'''\n    return AutoModel.from_config(s)\n",
    "def pipeline(task):\n    return task\n\nfrom transformers import *\npipeline('x')\n",
]


def _examples() -> list[str]:
    return [source for rule in RULES for source in (*rule.VALID, *rule.INVALID)] + TRICKY


def _findings(source: str, *, prefilter: bool) -> list:
    return check_source(source, CONFIG, loader=False, prefilter=prefilter)[0]


@pytest.mark.parametrize("source", [s for r in RULES for s in r.INVALID] + TRICKY)
def test_every_example_with_a_finding_is_parsed(source: str) -> None:
    assert needs_parse(source.encode(), CONFIG.model_libraries, FORCED)


@pytest.mark.parametrize("source", _examples())
def test_prefilter_never_changes_the_findings_of_an_example(source: str) -> None:
    assert _findings(source, prefilter=True) == _findings(source, prefilter=False)


def test_prefilter_never_changes_the_findings_of_this_repository() -> None:
    files = [
        p for folder in ("stage1kit", "plugins", "audit", "tests", "benchmarks")
        for p in (REPO / folder).rglob("*.py")
    ]
    assert files
    for path in files:
        source = path.read_bytes()
        assert _findings(source, prefilter=True) == _findings(source, prefilter=False), path


@pytest.mark.parametrize(
    "source",
    [
        "'''Use AutoModel.from_pretrained(name) to load, then tokenizer.apply_chat_template(m).'''\n",
        "# from_pretrained, chat_template, trust_remote_code, eval, getattr\nx = 1\n",
        "import torch\nmodel.eval()\nvalue = getattr(config, name)\n",
        "import json\ndata = json.load(fh)\n",
    ],
)
def test_mentions_outside_code_skip_the_parse(source: str) -> None:
    assert not needs_parse(source.encode(), CONFIG.model_libraries, FORCED)
