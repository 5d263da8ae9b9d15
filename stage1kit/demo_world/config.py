"""The demo's run config: the world's prompt formats in every stage, sizes for two CPU cores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from stage1kit.demo_world import world
from stage1kit.records import atomic_write_text

MODEL_DIR = Path(__file__).resolve().parent / "model"
#: run sizes for the small build (:data:`stage1kit.demo_world.build.SMALL`): fewer instructions than
#: the world has questions, so most of its 40 stay held out for exact accuracy
SMALL_RUN = {"target": 24}


def _q(text: str) -> str:
    return json.dumps(text)


def demo_config_text(
    model: str,
    seed_file: str,
    *,
    target: int = 40,
    k: int = 8,
    sft_steps: int = 40,
    dpo_steps: int = 30,
    accuracy_heldout: int = 200,
) -> str:
    """A short, commented TOML config; every key not set here keeps its default (`stage1kit init` lists them).

    The keywords size the run (instructions, candidates per instruction, training steps, questions
    exact accuracy is measured on); their defaults are the shipped demo's.
    """
    return f"""\
# stage1kit demo on the sums world (stage1kit/demo_world/world.py): a tiny base model that judges sums
# better than it answers them. Every stage uses the world's own prompt formats; the evaluator checks
# answers exactly against reference.jsonl, on questions the run never trained on.

[run]
dir = "run"

[model]
id = {_q(model)}

[critic]
name = "logprob"
settings = {{ instruction_template = {_q(world.INSTRUCTION_TEMPLATE)}, pair_template = {_q(world.PAIR_TEMPLATE)}, calibration_text = "", batch_size = 64 }}

[instructions]
target = {target}
generator_settings = {{ seed_file = {_q(seed_file)}, prompt_template = {_q(world.SELF_INSTRUCT_TEMPLATE)}, min_words = 4, max_new_tokens = 48, min_new_tokens = 2, similarity_threshold = 0.95, quality_threshold = 0.5, batch_size = 16, prompts_per_round = 16, max_rounds = 10 }}

# The one question-and-answer format: what the model samples under, what the critic judges, what SFT
# and DPO train on and what the evaluators ask (the world's forum documents are written in it).
[prompt]
template = {_q(world.ANSWER_TEMPLATE)}

# No few-shot header: the world's model learned the format from its forum.
[responses]
k = {k}
generator_settings = {{ preamble = "", examples = [], max_new_tokens = 6, temperature = 1.0, top_p = 1.0, batch_size = 64 }}

# Answers are single numbers: no mined negatives (truncating or shuffling "14" says nothing), and the
# absolute SFT bar against "I don't know." is off (the world's graders never saw that answer).
[pairs]
miners = []
min_sft_score = 0.0

# {sft_steps} short steps: no warmup and a linear decay (the defaults' warmup and cosine tail would spend a
# third of them at a fraction of the rate).
[train.sft]
max_steps = {sft_steps}
warmup_ratio = 0.0
lr_scheduler = "linear"
learning_rate = 0.002
batch_size = 8
logging_steps = 5

# DPO continues the SFT adapter gently: at learning_rate = 0.001 and beta = 0.1 it lowered the chosen
# answers' likelihood with the rejected ones, the model stopped closing its answers, and accuracy fell
# from 0.94 to 0.44.
[train.dpo]
max_steps = {dpo_steps}
warmup_ratio = 0.0
lr_scheduler = "linear"
learning_rate = 0.0001
batch_size = 8
beta = 1.0
logging_steps = 5

[evaluate]
heldout = 8
max_new_tokens = 6
evaluators = ["accuracy", "win-rate"]
verifier = "exact-match"
verifier_settings = {{ reference = "reference.jsonl" }}
accuracy_heldout = {accuracy_heldout}
"""


def write_demo(directory: Path, *, model: Path = MODEL_DIR, sums: world.World = world.DEMO, **sizes: int) -> Path:
    """Copy the model (default: the shipped one), write the world's reference, seed tasks and config
    into ``directory``; returns the config. ``sizes`` go to :func:`demo_config_text`."""
    directory.mkdir(parents=True, exist_ok=True)
    model_dir = directory / "sums-model"
    if not (model_dir / "config.json").exists():
        shutil.copytree(model, model_dir, dirs_exist_ok=True)
    sums.write_reference(directory / "reference.jsonl")
    sums.write_seed_tasks(directory / "seed_tasks.jsonl")
    config = directory / "stage1kit.toml"
    if not config.exists():
        atomic_write_text(config, demo_config_text("sums-model", str((directory / "seed_tasks.jsonl").resolve()), **sizes))
    return config
