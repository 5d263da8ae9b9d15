import importlib

from transformers import AutoModel  # stage1kit: allow[SK100] reason: nothing on this line loads


def plugin(name: str):
    return importlib.import_module(name)  # stage1kit: allow[SK300] reason: names come from a fixed registry


def tiny(config):
    # stage1kit: allow[SK100]
    return AutoModel.from_config(config)
