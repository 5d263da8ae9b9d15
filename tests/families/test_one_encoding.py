"""stage1kit.encoding is the only way the toolkit turns text into ids, and nothing decodes with special
tokens skipped: a guard over the project's own source, so a new call site cannot bypass the rule."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("stage1kit", "plugins") for p in sorted((ROOT / folder).rglob("*.py"))]
ENCODING = ROOT / "stage1kit" / "encoding.py"
TOKENIZER_NAMES = {"tokenizer", "tok", "processing_class"}
ENCODE_METHODS = {"encode", "encode_plus", "batch_encode_plus", "encode_batch", "tokenize"}


def _receiver(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def encoding_calls(source: str) -> list[str]:
    """``line: call`` for every tokenizer call that encodes text, or decodes skipping special tokens."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        direct = _receiver(func) in TOKENIZER_NAMES
        method = isinstance(func, ast.Attribute) and func.attr in ENCODE_METHODS and _receiver(func.value) in TOKENIZER_NAMES
        skips = any(k.arg == "skip_special_tokens" and getattr(k.value, "value", False) is True for k in node.keywords)
        if direct or method or skips:
            found.append(f"{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_the_guard_finds_the_calls_it_is_there_to_find():
    assert encoding_calls("ids = tokenizer(texts)['input_ids']")
    assert encoding_calls("ids = loaded.tokenizer(texts)")
    assert encoding_calls("ids = model.tokenizer.encode(text)")
    assert encoding_calls("text = tok.decode(ids, skip_special_tokens=True)")
    assert not encoding_calls("ids = encode_data(tokenizer, texts, bos=True)")
    assert not encoding_calls("text = tokenizer.decode(ids, skip_special_tokens=False)")


def test_only_the_encoding_module_encodes_text():
    offenders = {
        str(path.relative_to(ROOT)): calls
        for path in SOURCES
        if path != ENCODING and (calls := encoding_calls(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "encode with stage1kit.encoding.encode_data / encode_pairs instead"
