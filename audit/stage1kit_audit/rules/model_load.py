"""SK100: model, tokenizer, processor or adapter loads outside the loader modules."""

from __future__ import annotations

import ast
import re

from ..config import STAGE1KIT_LOADER, STAGE1KIT_PUBLIC_HANDLE
from ..resolver import LOCAL_CLASS, STRING_LITERAL, UNKNOWN, dotted, is_constant, is_string, leaf, root
from ..vocabulary import LOAD_CALLABLES, LOAD_METHODS
from .base import Rule, keyword_args, positional_args

INSTEAD = "get models and tokenizers from stage1kit.loader.CleanModelLoader (or the handle the engine passes you)"
TRAINER_INSTEAD = (
    "pass the model of a handle from stage1kit.loader.CleanModelLoader (`handle.model`, or a parameter "
    "annotated with the loader's handle class), or suppress with a reason"
)


# ``CleanModelLoader(...).load().model`` or ``LoadedModel().model`` (a parameter annotated with it).
_HANDLE_MODEL = re.compile(r"\(\)\.model(?:\.|\(|$)")


def _is_trl_trainer(qname: str) -> bool:
    return root(qname) == "trl" and leaf(qname).endswith("Trainer")


def is_load_result(qname: str) -> bool:
    """``AutoModel.from_pretrained(...)`` or ``vllm.LLM(...)``: an object a reported load made."""
    if not qname.endswith("()"):
        return False
    called = qname[:-2]
    return leaf(called) in LOAD_METHODS or (root(called), leaf(called)) in LOAD_CALLABLES


class ModelLoadOutsideLoader(Rule):
    """Loads of models, tokenizers, processors or adapters anywhere but the loader modules.

    A hand-made load skips the loader's neutralisation of chat templates and special tokens, so
    the base model may see a template. ``.from_pretrained``/``.from_config`` are flagged unless the
    receiver resolves to a configuration class (``AutoConfig``, ``GenerationConfig``, ``PeftConfig``:
    a config carries no template) or to a class of a library outside ``model-libraries``; one that
    cannot be resolved (a parameter, ``type(x)``, a re-export) is flagged. A TRL trainer loads the
    model itself when given a name, so its ``model=`` must provably come from a loader module.
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
        "from stage1kit.loader import CleanModelLoader\nfrom trl import SFTTrainer\n"
        "handle = CleanModelLoader('gpt2').load()\nSFTTrainer(model=handle.model, train_dataset=ds)",
        "from stage1kit.loader import LoadedModel\nfrom trl import DPOTrainer\n"
        "def train(handle: LoadedModel, ds):\n    return DPOTrainer(model=handle.model, train_dataset=ds)",
        # the public API's name for the same handle class
        "from stage1kit import LoadedModel\nfrom trl import SFTTrainer\n"
        "def train(handle: LoadedModel, ds):\n    return SFTTrainer(model=handle.model, train_dataset=ds)",
        "from transformers import AutoConfig, GenerationConfig\nfrom peft import PeftConfig\n"
        "c = AutoConfig.from_pretrained('gpt2')\ng = GenerationConfig.from_pretrained('gpt2')\n"
        "p = PeftConfig.from_pretrained('adapter')",
        "from lm_eval.api.group import Group\ngroup = Group.from_config(config)",
        "import torch\nembedding = torch.nn.Embedding.from_pretrained(weights)",
        "class Recipe:\n    @classmethod\n    def from_config(cls, c):\n        return cls()\nRecipe.from_config({})",
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
        # A trainer given a name at run time (trl/scripts/sft.py), or anything not provably from the loader.
        "from trl import SFTTrainer\ndef main(model_args):\n"
        "    SFTTrainer(model=model_args.model_name_or_path, train_dataset=ds)",
        "from trl import SFTTrainer\nclass T:\n    def setUp(self):\n        self.model_id = 'org/tiny'\n"
        "    def test(self):\n        SFTTrainer(model=self.model_id, train_dataset=ds)",
        "import pytest\nfrom trl import DPOTrainer\n@pytest.mark.parametrize('model_id', ['org/name'])\n"
        "def test_dpo(model_id):\n    DPOTrainer(model=model_id, train_dataset=ds)",
        "from trl import GRPOTrainer\nGRPOTrainer(model=build_model(), reward_funcs=[f])",
        "from stage1kit.loader import LoadedModel\nfrom trl import SFTTrainer\n"
        "def train(handle: LoadedModel):\n    SFTTrainer(model=handle.model_id)",
        "from trl import RewardTrainer\nfrom stage1kit.loader import CleanModelLoader\n"
        "m = CleanModelLoader('gpt2').load().model if ok else 'gpt2'\nRewardTrainer(model=m)",
        # Engines beyond transformers.
        "from vllm import AsyncLLMEngine\nengine = AsyncLLMEngine.from_engine_args(engine_args)",
        "from vllm.v1.engine.async_llm import AsyncLLM\nllm = AsyncLLM.from_vllm_config(cfg)",
        "from vllm import AsyncLLM\nllm = AsyncLLM(engine_args)",
        "import sglang as sgl\nengine = sgl.Engine(model_path='org/name')",
        "from tensorrt_llm import LLM\nllm = LLM(model='org/name')",
        # torch.load picked in a conditional expression, then called.
        "import pickle, torch\nload = torch.load if path.endswith('.pt') else pickle.load\nstate = load(f)",
        "import torch, json\nstate = (torch.load if binary else json.load)(f)",
        "from transformers import AutoModel\nloader = getattr(AutoModel, 'from_' + 'pretrained')\nloader('gpt2')",
        "load = getattr(model_class, 'from_pretrained')\nload('gpt2')",
        "from transformers import PreTrainedModel\nclass Net(PreTrainedModel):\n    pass\nNet.from_pretrained('x')",
    ]

    def _not_a_load(self, receiver: list[str]) -> bool:
        """A configuration class, or a class of a library that loads no models (or defined here)."""
        libraries = self.config.model_libraries
        for qname in receiver:
            if qname == LOCAL_CLASS or qname.startswith("builtins."):
                continue
            if root(qname) == UNKNOWN:
                return False
            if root(qname) in libraries:
                if not leaf(qname).endswith("Config"):
                    return False
            elif qname.startswith(".") or qname.startswith("<") or not root(qname):
                return False  # a relative import (a re-export) or a literal: unknown
        return bool(receiver)

    def on_attribute(self, node: ast.Attribute, store: bool) -> None:
        if store or node.attr not in LOAD_METHODS:
            return
        receiver = sorted(self.resolver.resolve(node.value))
        if self._not_a_load(receiver):
            return
        spelled = dotted(node.value)
        if receiver:
            what = f"`{receiver[0]}.{node.attr}`"
        else:
            what = f"`{spelled or '<expression>'}.{node.attr}` (receiver cannot be resolved)"
        self.report(node, f"{what} loads outside the loader modules; {INSTEAD}")

    def on_call(self, node: ast.Call) -> None:
        direct_method = isinstance(node.func, ast.Attribute) and node.func.attr in LOAD_METHODS
        resolved = sorted(self.resolver.resolve(node.func))
        for qname in resolved:
            name = leaf(qname)
            if (name in LOAD_METHODS and not direct_method) or (root(qname), name) in LOAD_CALLABLES:
                if name in LOAD_METHODS and self._not_a_load([qname.rsplit(".", 1)[0]]):
                    continue
                self.report(node, f"`{qname}(...)` loads outside the loader modules; {INSTEAD}")
                return
            if _is_trl_trainer(qname):
                self._check_trainer_model(node, qname)
                return

    def _check_trainer_model(self, node: ast.Call, trainer: str) -> None:
        """A trainer's ``model=`` must provably be a model object from a loader module."""
        keyword = keyword_args(node).get("model")
        positional = positional_args(node)
        model = keyword.value if keyword is not None else positional[0] if positional else None
        if model is None or is_constant(model, None):
            return  # no model (``model_init=``): nothing is loaded from a name
        resolved = self.resolver.resolve(model)
        spelled = dotted(model) or "<expression>"
        if is_string(model) or STRING_LITERAL in resolved:
            self.report(node, f"`{trainer}` given a model name (`{spelled}`) loads the model itself; {TRAINER_INSTEAD}")
        elif not resolved or not all(self._from_loader(q) or is_load_result(q) for q in resolved):
            self.report(
                node,
                f"`{trainer}(model={spelled})`: the audit cannot prove `{spelled}` is a model from the loader "
                f"modules, and TRL loads a model itself when given a name; {TRAINER_INSTEAD}",
            )

    def _from_loader(self, qname: str) -> bool:
        """Made by a loader module. A stage1kit handle also holds strings (``handle.model_id``), so
        from ``stage1kit.loader`` only its ``.model`` (and what is derived from it) counts."""
        name = qname.lstrip(".")
        if name == STAGE1KIT_PUBLIC_HANDLE or name.startswith((STAGE1KIT_PUBLIC_HANDLE + ".", STAGE1KIT_PUBLIC_HANDLE + "(")):
            name = STAGE1KIT_LOADER + name[len("stage1kit"):]
        if name.startswith(STAGE1KIT_LOADER + "."):
            return _HANDLE_MODEL.search(name) is not None
        return any(name == m or name.startswith(m + ".") for m in self.config.loader_module_names)
