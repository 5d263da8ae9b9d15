"""Every built-in miner's negatives pass through the critic check: a negative the critic prefers to
the chosen answer is dropped and counted under its type, never written to dpo.jsonl."""

from __future__ import annotations

import pytest

from stage1kit.records import read_records
from stage1kit.settings import CriticSettings
from stage1kit.stages.catalogue import run_stage
from stage1kit.stages.evaluate import EvaluateSettings
from stage1kit.stages.pairs import BUILTIN_MINERS, PairsSettings
from stage1kit.testing import make_plugin_distribution
from tests.data.crafted import judged_run

#: A critic that always prefers the second answer: every mined negative "beats" the chosen one.
CONTRARIAN_CRITIC = '''
from stage1kit.hookspecs import hookimpl
from stage1kit.protocols import PairVerdict


class Contrarian:
    def compare(self, model, queries):
        return [PairVerdict(-1.0, 0.2, 0.6, True) for _ in queries]

    def score_instructions(self, model, instructions):
        return [0.5 for _ in instructions]

    def describe(self):
        return {"name": "contrarian", "version": "1"}


@hookimpl
def register_critics(register):
    register("contrarian", Contrarian)
'''


@pytest.fixture
def contrarian(tmp_path, monkeypatch, registry_with):
    root = make_plugin_distribution(tmp_path / "site", "contrarian-critic", {"contrarian_critic.py": CONTRARIAN_CRITIC}, {"contrarian": "contrarian_critic"})
    monkeypatch.syspath_prepend(str(root))
    return registry_with("contrarian-critic")


@pytest.mark.parametrize("miner", BUILTIN_MINERS)
def test_negatives_the_critic_prefers_are_dropped_and_counted(tmp_path, contrarian, loaded, miner):
    run_dir = judged_run(tmp_path / "run", pivot=True)
    settings = PairsSettings(miners=[miner], strategy="worst", max_negatives_per_instruction=7)
    outcome = run_stage(
        "pairs", settings, run_dir=run_dir, loaded=loaded, registry=contrarian,
        critic=CriticSettings("contrarian"), evaluate=EvaluateSettings(heldout=0),
    )
    qc = outcome.stats["dpo"]
    negatives = qc["negatives"]
    assert negatives["mined"].get(miner), f"{miner} mined nothing from the crafted judgements"
    beat = negatives["beat_chosen"]
    assert list(beat) == [miner] and 0 < beat[miner] <= negatives["mined"][miner]
    assert qc["dropped"]["negative-beat-chosen"] == beat[miner]
    assert negatives["kept"] == {} and not [r for r in read_records(run_dir.dataset("dpo")) if r["source"] == "negative"]
