"""Helpers for stage1kit's tests and for plugin authors' tests, all offline.

:func:`build_tiny_model` writes the built-in tiny checkpoint (:mod:`stage1kit.tiny_model`), and with
``chat_template=...`` ships a template the way chat checkpoints do, so the loader's stripping can be
tested; the rest doctor tokenizers in the ways the loader must refuse, and install a plugin as a real
distribution. The family kit (:mod:`stage1kit.testing_families`) reproduces real base families.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stage1kit import tiny_model
from stage1kit.tiny_model import BOS, EOS, build_tiny_tokenizer, pretrain, tiny_corpus

__all__ = ["BOS", "EOS", "CHATML_TEMPLATE", "build_tiny_model", "build_tiny_tokenizer", "pretrain", "tiny_corpus"]

#: A template in the style chat checkpoints ship. Tests use it to prove the loader strips it.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_model(path: str | Path, seed: int = 0, chat_template: str | None = None, **options: Any) -> Path:
    """:func:`stage1kit.tiny_model.build_tiny_model`, optionally shipping ``chat_template`` (in
    ``tokenizer_config.json`` and ``chat_template.jinja``, as chat checkpoints do)."""
    out = tiny_model.build_tiny_model(path, seed, **options)
    if chat_template is not None:
        ship_chat_template(out, chat_template)
    return out


def ship_chat_template(path: str | Path, template: str = CHATML_TEMPLATE) -> None:
    """Add a chat template to a saved checkpoint the two ways hub checkpoints carry one."""
    out = Path(path)
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["chat_template"] = template  # stage1kit: allow[SK200] reason: the test kit plants a template so the loader's stripping is tested
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    (out / "chat_template.jinja").write_text(template, encoding="utf-8")


def add_special_marker(path: str | Path, marker: str = "<|im_start|>") -> None:
    """Doctor a saved tokenizer so ``marker`` becomes a special token (the loader must refuse it)."""
    out = Path(path)
    tok_path = out / "tokenizer.json"
    data = json.loads(tok_path.read_text(encoding="utf-8"))
    next_id = max(t["id"] for t in data["added_tokens"]) + 1
    next_id = max(next_id, len(data["model"]["vocab"]))
    data["added_tokens"].append(
        {"id": next_id, "content": marker, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
    )
    tok_path.write_text(json.dumps(data), encoding="utf-8")


def inject_marker_post_processor(path: str | Path, marker: str = "<|im_start|>") -> None:
    """Doctor a saved tokenizer so its post-processor puts ``marker`` after BOS in every encoding.

    Such a tokenizer opens a chat turn whatever the text: the loader must refuse it.
    """
    add_special_marker(path, marker)
    tok_path = Path(path) / "tokenizer.json"
    data = json.loads(tok_path.read_text(encoding="utf-8"))
    ids = {t["content"]: t["id"] for t in data["added_tokens"]}
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"SpecialToken": {"id": marker, "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {
            BOS: {"id": BOS, "ids": [ids[BOS]], "tokens": [BOS]},
            marker: {"id": marker, "ids": [ids[marker]], "tokens": [marker]},
        },
    }
    tok_path.write_text(json.dumps(data), encoding="utf-8")


def make_plugin_distribution(
    root: str | Path,
    name: str,
    modules: dict[str, str],
    entry_points: dict[str, str],
    version: str = "0.0.1",
) -> Path:
    """Write a real installed-looking distribution under ``root`` (put ``root`` on ``sys.path``).

    ``modules`` maps a module file name (``"my_miner.py"``) to its source; ``entry_points`` maps an
    entry-point name to ``"module"`` in the ``stage1kit`` group. ``importlib.metadata`` discovers
    it exactly as it discovers a pip-installed plugin, so tests exercise real discovery.
    """
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    for filename, source in modules.items():
        (base / filename).write_text(source, encoding="utf-8")
    dist_info = base / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    lines = ["[stage1kit]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return base
