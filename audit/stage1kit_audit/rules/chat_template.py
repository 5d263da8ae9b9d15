"""SK200: chat-template use or toggling."""

from __future__ import annotations

import ast

from ..resolver import UNKNOWN, is_constant, leaf, root, string_value
from ..vocabulary import ENGINE_CHAT, ENGINE_LIBRARIES, TEMPLATE_CALLS, TEMPLATE_KEYS, TEMPLATE_SWITCHES
from .base import Rule, positional_args

# Methods that write a key given as their first string argument.
KEY_WRITERS = frozenset({"__setattr__", "__setitem__", "setdefault"})
# A dict given to these declares keys and their types; it sets nothing.
TYPED_DICTS = frozenset({"typing.TypedDict", "typing_extensions.TypedDict"})
# ``apply_chat_template`` read as a setting (``if cfg.apply_chat_template:``) is not a call; the
# name ``default_chat_template`` exposes a template however it is read.
SETTING_NAMES = TEMPLATE_CALLS - {"default_chat_template"}

INSTEAD = "base-model prompts must be plain text; build them with stage1kit.prompting and load through CleanModelLoader"


def is_message(node: ast.Dict) -> bool:
    """A dict literal with both ``role`` and ``content`` keys: a chat message."""
    keys = {string_value(k) for k in node.keys if k is not None}
    return "role" in keys and "content" in keys


class ChatTemplateUse(Rule):
    """Applying, reading the default of, or toggling a chat template; literal chat messages.

    Any of these lets a template reach the base model. Reading ``tokenizer.chat_template`` (to
    check that it is None) is allowed, and so is reading a boolean setting named
    ``apply_chat_template`` in a condition, a class's own ``self.chat_template`` when the class is not
    a tokenizer or processor, and ``chat_template`` as a key of a ``TypedDict`` or an annotation.
    """

    code = "SK200"
    name = "chat-template"
    summary = "chat-template use or toggling"
    loader_exempt = True
    VALID = [
        "assert tokenizer.chat_template is None",
        "tokenizer.add_special_tokens({'pad_token': '[PAD]'})",
        "prompt = 'Instruction: ' + text + '\\nResponse:'",
        "record = {'prompt': p, 'completion': c}",
        "def apply_chat_template(x):\n    '''Not a template: a local helper.'''\n    return x\n",
        "# tokenizer.apply_chat_template(messages)\ntext = 'chat_template'",
        "row = {'role': 'user'}",
        "from typing_extensions import TypedDict\n"
        "EvalResults = TypedDict('EvalResults', {'chat_template': str | None}, total=False)",
        "from typing import Optional\nclass Record:\n    chat_template: Optional[str] = None",
        "if cfg.apply_chat_template is False:\n    prompt = plain(prompt)",
        "if not args.apply_chat_template and args.fewshot_as_multiturn:\n    warn()",
        "use_template = args.apply_chat_template",
        "class Tracker:\n    def log(self, tokenizer):\n        self.chat_template = str(tokenizer.chat_template)",
        "results['chat_template_sha'] = sha",
        "run(model, apply_chat_template=False)",
    ]
    INVALID = [
        "tokenizer.apply_chat_template(messages, tokenize=False)",
        "from trl import maybe_apply_chat_template\n"
        "ds = ds.map(maybe_apply_chat_template, fn_kwargs={'tokenizer': tok})",
        "from trl.data_utils import apply_chat_template as act\nact(example, tok)",
        "import trl\ntrl.clone_chat_template(model, tok, 'Qwen/Qwen3-0.6B')",
        "template = tokenizer.default_chat_template",
        "tokenizer.chat_template = None",
        "setattr(tokenizer, 'chat_template', TEMPLATE)",
        "tokenizer.__setattr__('chat_template', TEMPLATE)",
        "tokenizer.__dict__['chat_template'] = TEMPLATE",
        "vars(tokenizer)['chat_template'] = TEMPLATE",
        "tokenizer.init_kwargs['chat_template'] = TEMPLATE",
        "cfg['chat_template'] = TEMPLATE",
        "processor = make(name, chat_template=TEMPLATE)",
        "processor = make(name, chat_template_path='t.jinja')",
        "kwargs = {'chat_template': TEMPLATE}\nmake(name, **kwargs)",
        "kwargs = dict(chat_template=TEMPLATE)",
        "messages = [{'role': 'user', 'content': 'Hi'}]",
        "pipe([{'role': 'system', 'content': s}, {'role': 'user', 'content': q}])",
        "messages.append(dict(role='user', content=q))",
        # vLLM's LLM.chat (or any engine's .chat) applies the model's template to the messages.
        "from vllm import LLM\nllm = LLM(model=name)\noutputs = llm.chat(conversation)",
        "from vllm import LLM\nclass Gen:\n    def __init__(self):\n        self.llm = LLM(model=name)\n"
        "    def run(self, conversation):\n        return self.llm.chat(conversation)",
        # A template function passed in and called; getattr with a name joined from literals.
        "def encode(example, apply_chat_template):\n    return apply_chat_template(example['messages'])",
        "def run(tok, rows):\n    fn = tok.apply_chat_template\n    return [fn(r) for r in rows]",
        "text = getattr(tokenizer, 'apply_' + 'chat_template')(messages)",
        "setattr(tokenizer, 'chat_' 'template', TEMPLATE)",
        "cfg['\\x63hat_template'] = TEMPLATE",
        # TRL's own relative imports of its template helpers.
        "from .utils import clone_chat_template\nmodel, tok, _ = clone_chat_template(model, tok, source)",
        "from ..data_utils import maybe_apply_chat_template\nds = ds.map(maybe_apply_chat_template)",
        "results = simple_evaluate(model='hf', apply_chat_template=True)",
        "from transformers import PreTrainedTokenizerFast\nclass Tok(PreTrainedTokenizerFast):\n"
        "    def __init__(self, *a, **k):\n        super().__init__(*a, **k)\n        self.chat_template = TEMPLATE",
    ]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self._covered: set[int] = set()  # message dicts already reported as part of a list
        self._settings: set[int] = set()  # ``x.apply_chat_template`` read as a value, not called
        self._declarations: set[int] = set()  # dicts that declare TypedDict keys

    def on_boolean(self, node: ast.AST) -> None:
        if isinstance(node, ast.Attribute):
            self._settings.add(id(node))

    def on_bound(self, node: ast.AST) -> None:
        # ``use = args.apply_chat_template``: if it is the method, calling the name is reported.
        if isinstance(node, ast.Attribute):
            self._settings.add(id(node))

    def on_attribute(self, node: ast.Attribute, store: bool) -> None:
        attr = node.attr
        if attr in TEMPLATE_CALLS:
            if attr in SETTING_NAMES and id(node) in self._settings and not store:
                return
            self.report(node, f"`.{attr}` applies or exposes a chat template; {INSTEAD}")
        elif store and attr in TEMPLATE_KEYS and not self._own_attribute(node):
            self.report(node, f"assigning `.{attr}` toggles the chat template; {INSTEAD}")

    def _own_attribute(self, node: ast.Attribute) -> bool:
        """``self.chat_template = ...`` in a class that is provably not a tokenizer or processor."""
        if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            return False
        owner = self.resolver.class_scope()
        if owner is None:
            return False
        libraries = self.config.model_libraries
        return all(
            base and all(not q.startswith(".") and root(q) not in libraries for q in base) for base in owner.bases
        )

    def on_name(self, node: ast.Name) -> None:
        if node.id not in self.resolver.template_names and node.id not in TEMPLATE_CALLS:
            return  # cannot resolve to a template function: nothing bound it to one
        for qname in self.resolver.resolve_name(node.id):
            if leaf(qname) in TEMPLATE_CALLS and (root(qname) in ("trl", "transformers") or qname.startswith(".")):
                self.report(node, f"`{qname}` applies a chat template; {INSTEAD}")
                return

    def on_call(self, node: ast.Call) -> None:
        keywords = set()
        for keyword in node.keywords:
            if keyword.arg is None:
                continue
            keywords.add(keyword.arg)
            if keyword.arg in TEMPLATE_KEYS:
                self.report(keyword, f"`{keyword.arg}=` sets a chat template; {INSTEAD}")
            elif keyword.arg in TEMPLATE_SWITCHES and not is_constant(keyword.value, False, None):
                self.report(keyword, f"`{keyword.arg}=` switches chat-template use on; {INSTEAD}")
        if "role" in keywords and "content" in keywords:
            self.report(node, f"a chat message (role/content) makes libraries apply a template; {INSTEAD}")
        resolved = self.resolver.resolve(node.func)
        if resolved & TYPED_DICTS or (not resolved and isinstance(node.func, ast.Name) and node.func.id == "TypedDict"):
            self._declarations.update(id(a) for a in node.args if isinstance(a, ast.Dict))
        self._check_called_template(node, resolved)
        self._check_engine_chat(node)
        self._check_key_writes(node)

    def _check_called_template(self, node: ast.Call, resolved: frozenset[str]) -> None:
        """A template function called through a name the audit cannot trace to a library: a
        parameter (``def f(x, apply_chat_template): apply_chat_template(x)``), an alias of a method
        (``fn = tok.apply_chat_template``) or ``getattr(tok, "apply_" + "chat_template")``."""
        func = node.func
        if isinstance(func, ast.Attribute):
            return  # ``tok.apply_chat_template(...)`` is reported at the attribute
        if isinstance(func, ast.Name):
            bound = self.resolver.lookup(func.id)
            if func.id in TEMPLATE_CALLS and bound is not None and not bound:
                self.report(node, f"calling `{func.id}` (given as an argument) applies a chat template; {INSTEAD}")
                return
        for qname in sorted(resolved):
            if root(qname) == UNKNOWN and leaf(qname) in TEMPLATE_CALLS:
                self.report(node, f"calling `{leaf(qname)}` (through an alias or getattr) applies a chat template; {INSTEAD}")
                return

    def _check_engine_chat(self, node: ast.Call) -> None:
        """``llm.chat(messages)`` on an object a model engine made applies the model's template."""
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr == ENGINE_CHAT):
            return
        for qname in sorted(self.resolver.resolve(func.value)):
            if qname.endswith("()") and root(qname) in ENGINE_LIBRARIES:
                self.report(node, f"`{qname[:-2]}(...).chat` applies the model's chat template; {INSTEAD}")
                return

    def _check_key_writes(self, node: ast.Call) -> None:
        func = node.func
        writer = isinstance(func, ast.Attribute) and func.attr in KEY_WRITERS
        if not writer:
            resolved = self.resolver.resolve(func)
            writer = "builtins.setattr" in resolved or "builtins.delattr" in resolved
        if not writer:
            return
        for arg in positional_args(node)[:2]:
            key = string_value(arg)
            if key in TEMPLATE_KEYS:
                self.report(node, f"writing `{key}` toggles the chat template; {INSTEAD}")
                return

    def on_subscript(self, node: ast.Subscript, store: bool) -> None:
        if not store:
            return
        key = string_value(node.slice)
        if key in TEMPLATE_KEYS:
            self.report(node, f"writing `[{key!r}]` toggles the chat template; {INSTEAD}")

    def on_dict(self, node: ast.Dict) -> None:
        if id(node) in self._declarations:
            return
        for key in node.keys:
            if key is not None and string_value(key) in TEMPLATE_KEYS:
                self.report(key, f"a `{string_value(key)}` key sets a chat template; {INSTEAD}")
        if is_message(node) and id(node) not in self._covered:
            self.report(node, f"a chat message (role/content) makes libraries apply a template; {INSTEAD}")

    def on_sequence(self, node: ast.List | ast.Tuple | ast.Set) -> None:
        messages = [e for e in node.elts if isinstance(e, ast.Dict) and is_message(e)]
        if messages:
            self._covered.update(id(m) for m in messages)
            self.report(node, f"a list of chat messages (role/content) makes libraries apply a template; {INSTEAD}")
