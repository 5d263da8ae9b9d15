"""The worked example of docs/negative-miners.md, installed as a real temporary distribution:
its negatives must reach dpo.jsonl. The code is read from the document, so the docs cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from stage1kit.records import read_records
from stage1kit.settings import CriticSettings
from stage1kit.stages.catalogue import run_stage
from stage1kit.stages.evaluate import EvaluateSettings
from stage1kit.stages.pairs import PairsSettings
from stage1kit.testing import make_plugin_distribution
from tests.data.crafted import judged_run

DOC = Path(__file__).resolve().parents[2] / "docs" / "negative-miners.md"
README = Path(__file__).resolve().parents[2] / "README.md"


def documented_plugin() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "the document shows exactly one plugin"
    return blocks[0]


def test_the_readme_shows_the_same_plugin():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert documented_plugin() in blocks


def test_the_documented_miner_is_at_most_20_lines():
    code = [line for line in documented_plugin().splitlines() if line.strip() and not line.startswith("#")]
    assert len(code) <= 20


def test_third_party_miner_from_the_docs_reaches_dpo_jsonl(tmp_path, monkeypatch, registry_with, critic_dist, loaded):
    root = make_plugin_distribution(
        tmp_path / "site", "my-negatives", {"my_negatives.py": documented_plugin()}, {"missing-conclusion": "my_negatives"}
    )
    monkeypatch.syspath_prepend(str(root))
    registry = registry_with(critic_dist, "my-negatives")
    registration = registry.get("negative_miners", "missing-conclusion")
    assert registration.plugin.distribution == "my-negatives" and registration.plugin.version == "0.0.1"

    run_dir = judged_run(tmp_path / "run", pivot=True)
    settings = PairsSettings(miners=["missing-conclusion", "truncated"], require_order_agreement=False)
    outcome = run_stage(
        "pairs", settings, run_dir=run_dir, loaded=loaded, registry=registry,
        critic=CriticSettings("wordcount"), evaluate=EvaluateSettings(heldout=0),
    )

    mine = [r for r in read_records(run_dir.dataset("dpo")) if r["negative_type"] == "missing-conclusion"]
    assert mine, outcome.stats["dpo"]
    for record in mine:
        assert record["source"] == "negative" and record["provenance"]["plugin"] == "missing-conclusion"
        assert record["provenance"]["plugin_version"] == "0.0.1"
        assert record["chosen"].startswith(record["rejected"].rstrip("."))
    assert outcome.stats["dpo"]["negative_type_histogram"]["missing-conclusion"] == len(mine)
