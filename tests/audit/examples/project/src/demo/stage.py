"""A stage written the wrong way: every line below the imports is a finding."""

import subprocess

import transformers as tf
from trl import maybe_apply_chat_template

from demo.loader import load


def generate(name: str, prompts: list[str]) -> list[str]:
    model, tokenizer = load(name)  # fine: through the loader
    judge = tf.AutoModelForCausalLM.from_pretrained("judge", trust_remote_code=True)
    messages = [{"role": "user", "content": p} for p in prompts]
    subprocess.run(["python", "scripts/generate_stage1_data.py"], check=True)
    return [maybe_apply_chat_template(m, tokenizer) for m in messages] + [judge]
