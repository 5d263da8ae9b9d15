"""SK200: chat-template use or toggling."""

from __future__ import annotations

import libcst as cst

from ..resolver import leaf, root, string_value
from ..vocabulary import TEMPLATE_CALLS, TEMPLATE_KEYS
from .base import Rule, positional_args

# Methods that write a key given as their first string argument.
KEY_WRITERS = frozenset({"__setattr__", "__setitem__", "setdefault"})

INSTEAD = "base-model prompts must be plain text; build them with stage1kit.prompting and load through CleanModelLoader"


def is_message(node: cst.Dict) -> bool:
    """A dict literal with both ``role`` and ``content`` keys: a chat message."""
    keys = {string_value(e.key) for e in node.elements if isinstance(e, cst.DictElement)}
    return "role" in keys and "content" in keys


class ChatTemplateUse(Rule):
    """Applying, reading the default of, or toggling a chat template; literal chat messages.

    Any of these lets a template reach the base model. Reading ``tokenizer.chat_template`` (to
    check that it is None) is allowed. Keys are matched as spelled: escapes are not evaluated.
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
    ]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self._covered: set[int] = set()  # message dicts already reported as part of a list

    def on_attribute(self, node: cst.Attribute, store: bool) -> None:
        attr = node.attr.value
        if attr in TEMPLATE_CALLS:
            self.report(node, f"`.{attr}` applies or exposes a chat template; {INSTEAD}")
        elif store and attr in TEMPLATE_KEYS:
            self.report(node, f"assigning `.{attr}` toggles the chat template; {INSTEAD}")

    def on_name(self, node: cst.Name) -> None:
        for qname in self.resolver.resolve_name(node.value):
            if leaf(qname) in TEMPLATE_CALLS and root(qname) in ("trl", "transformers"):
                self.report(node, f"`{qname}` applies a chat template; {INSTEAD}")
                return

    def on_call(self, node: cst.Call) -> None:
        keywords = set()
        for arg in node.args:
            if arg.keyword is not None:
                keywords.add(arg.keyword.value)
                if arg.keyword.value in TEMPLATE_KEYS:
                    self.report(arg, f"`{arg.keyword.value}=` sets a chat template; {INSTEAD}")
        if "role" in keywords and "content" in keywords:
            self.report(node, f"a chat message (role/content) makes libraries apply a template; {INSTEAD}")
        self._check_key_writes(node)

    def _check_key_writes(self, node: cst.Call) -> None:
        func = node.func
        writer = isinstance(func, cst.Attribute) and func.attr.value in KEY_WRITERS
        if not writer:
            resolved = self.resolver.resolve(func)
            writer = "builtins.setattr" in resolved or "builtins.delattr" in resolved
        if not writer:
            return
        for arg in positional_args(node)[:2]:
            key = string_value(arg.value)
            if key in TEMPLATE_KEYS:
                self.report(node, f"writing `{key}` toggles the chat template; {INSTEAD}")
                return

    def on_subscript(self, node: cst.Subscript, store: bool) -> None:
        if not store:
            return
        for element in node.slice:
            if isinstance(element.slice, cst.Index):
                key = string_value(element.slice.value)
                if key in TEMPLATE_KEYS:
                    self.report(node, f"writing `[{key!r}]` toggles the chat template; {INSTEAD}")

    def on_dict(self, node: cst.Dict) -> None:
        for element in node.elements:
            if isinstance(element, cst.DictElement) and string_value(element.key) in TEMPLATE_KEYS:
                self.report(element, f"a `{string_value(element.key)}` key sets a chat template; {INSTEAD}")
        if is_message(node) and id(node) not in self._covered:
            self.report(node, f"a chat message (role/content) makes libraries apply a template; {INSTEAD}")

    def on_sequence(self, node: cst.List | cst.Tuple | cst.Set) -> None:
        messages = [e.value for e in node.elements if isinstance(e.value, cst.Dict) and is_message(e.value)]
        if messages:
            self._covered.update(id(m) for m in messages)
            self.report(node, f"a list of chat messages (role/content) makes libraries apply a template; {INSTEAD}")
