"""SK100: model, tokenizer, processor or adapter loads outside the loader modules."""

from __future__ import annotations

import libcst as cst

from ..resolver import STRING_LITERAL, dotted, is_string, leaf, root
from ..vocabulary import LOAD_CALLABLES, LOAD_METHODS
from .base import Rule, keyword_args, positional_args

INSTEAD = "get models and tokenizers from stage1kit.loader.CleanModelLoader (or the handle the engine passes you)"


def _is_trl_trainer(qname: str) -> bool:
    return root(qname) == "trl" and leaf(qname).endswith("Trainer")


class ModelLoadOutsideLoader(Rule):
    """Loads of models, tokenizers, processors or adapters anywhere but the loader modules.

    A hand-made load skips the loader's neutralisation of chat templates and special tokens, so
    the base model may see a template. ``.from_pretrained``/``.from_config`` are flagged whatever
    the receiver: one that cannot be resolved (a parameter, ``type(x)``, a re-export) is flagged too.
    """

    code = "SK100"
    name = "model-load-outside-loader"
    summary = "model/tokenizer/adapter load outside the loader modules"
    loader_exempt = True
    VALID = [
        "from stage1kit.loader import CleanModelLoader\nhandle = CleanModelLoader('gpt2').load()",
        "tokenizer.add_special_tokens({'pad_token': '[PAD]'})",
        "import json\njson.load(open('x.json'))",
        "def from_pretrained(path):\n    return path",
        "# AutoModel.from_pretrained('gpt2') in a comment\n'AutoModel.from_pretrained in a string'",
        "from trl import SFTTrainer\nSFTTrainer(model=handle.model, train_dataset=ds)",
    ]
    INVALID = [
        "from transformers import AutoModelForCausalLM\nAutoModelForCausalLM.from_pretrained('gpt2')",
        "import transformers as tf\ntf.AutoTokenizer.from_pretrained('gpt2')",
        "from transformers import AutoModel as M\nm = M.from_config(cfg)",
        "def f():\n    from transformers import pipeline\n    return pipeline('text-generation', model='gpt2')",
        "try:\n    from transformers import pipeline as p\nexcept ImportError:\n    p = None\np('text-generation')",
        "from transformers import *\npipe = pipeline('text-generation')",
        "import transformers\ntransformers.models.llama.LlamaForCausalLM.from_pretrained('x')",
        "from transformers import AutoModel\nLOADERS = {'auto': AutoModel}\nLOADERS['auto'].from_pretrained('x')",
        "from transformers import pipeline\nmakers = {'p': pipeline}\nmakers['p']('text-generation')",
        "def load(cls, name):\n    return cls.from_pretrained(name)",
        "from transformers import AutoModel\nloader = getattr(AutoModel, 'from_pretrained')\nloader('gpt2')",
        "from peft import PeftModel\nPeftModel.from_pretrained(base, 'adapter')",
        "from vllm import LLM\nllm = LLM(model='gpt2')",
        "import torch\nstate = torch.load('ckpt.pt')",
        "from safetensors.torch import load_file\nweights = load_file('model.safetensors')",
        "from huggingface_hub import hf_hub_download\nhf_hub_download('gpt2', 'config.json')",
        "from trl import SFTTrainer\nSFTTrainer(model='gpt2', train_dataset=ds)",
        "from trl import DPOTrainer\nBASE = 'gpt2'\nDPOTrainer(model=BASE, train_dataset=ds)",
        "import importlib\ntf = importlib.import_module('transformers')\ntf.pipeline('text-generation')",
    ]

    def on_attribute(self, node: cst.Attribute, store: bool) -> None:
        if store or node.attr.value not in LOAD_METHODS:
            return
        receiver = sorted(self.resolver.resolve(node.value))
        spelled = dotted(node.value)
        if receiver:
            what = f"`{receiver[0]}.{node.attr.value}`"
        else:
            what = f"`{spelled or '<expression>'}.{node.attr.value}` (receiver cannot be resolved)"
        self.report(node, f"{what} loads outside the loader modules; {INSTEAD}")

    def on_call(self, node: cst.Call) -> None:
        direct_method = isinstance(node.func, cst.Attribute) and node.func.attr.value in LOAD_METHODS
        for qname in sorted(self.resolver.resolve(node.func)):
            name = leaf(qname)
            if (name in LOAD_METHODS and not direct_method) or (root(qname), name) in LOAD_CALLABLES:
                self.report(node, f"`{qname}(...)` loads outside the loader modules; {INSTEAD}")
                return
            if _is_trl_trainer(qname) and self._model_is_a_name(node):
                self.report(
                    node,
                    f"`{qname}` given a model name loads the model itself; pass the model from "
                    "stage1kit.loader.CleanModelLoader instead",
                )
                return

    def _model_is_a_name(self, node: cst.Call) -> bool:
        """``model=`` is a string literal, or a name bound to one (``NAME = "gpt2"``)."""
        model = keyword_args(node).get("model")
        if model is None:
            positional = positional_args(node)
            model = positional[0] if positional else None
        return model is not None and (is_string(model.value) or STRING_LITERAL in self.resolver.resolve(model.value))
