"""The one place that loads models: exempt from SK100, SK200 and SK400."""

from transformers import AutoModelForCausalLM, AutoTokenizer


def load(name: str):
    tokenizer = AutoTokenizer.from_pretrained(name)
    tokenizer.chat_template = None  # neutralise the template
    return AutoModelForCausalLM.from_pretrained(name), tokenizer
