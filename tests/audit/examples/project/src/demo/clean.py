"""Clean code: mentions in docstrings and comments are not findings.

Never call ``AutoTokenizer.from_pretrained`` or ``tokenizer.apply_chat_template`` here.
"""


def prompt(instruction: str) -> str:
    # plain text, no chat template
    return f"Instruction: {instruction}\nResponse:"


def check(tokenizer) -> None:
    assert tokenizer.chat_template is None
