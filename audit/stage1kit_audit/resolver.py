"""Qualified-name resolution in one pass, without libcst's metadata providers.

Names are tracked per scope as sets of dotted names: ``import transformers as tf`` binds ``tf`` to
``{"transformers"}``, ``M = tf.AutoModel`` binds ``M`` to ``{"transformers.AutoModel"}``, and a
dict or list of resolved values binds ``NAME[]`` to the union of its values. The result of calling
something is written ``name()``. Bindings only ever grow (flow-insensitive), which errs towards
findings: an alias that *may* name a model class is treated as one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

import libcst as cst

from .vocabulary import LOAD_METHODS, TEMPLATE_CALLS

# Attributes kept even on a receiver that cannot be resolved, so an alias of them is still known
# when called: ``fn = tok.apply_chat_template``, ``load = getattr(cls, "from_pretrained")``.
WATCHED_ATTRIBUTES = TEMPLATE_CALLS | LOAD_METHODS

EMPTY: frozenset[str] = frozenset()

# Builtins whose use the rules care about; an unbound name in this set resolves to ``builtins.NAME``.
BUILTINS = frozenset(
    {"eval", "exec", "getattr", "setattr", "delattr", "vars", "__import__", "dict", "object", "compile"}
)


class Scope:
    """One namespace: module, class, function, lambda or comprehension."""

    __slots__ = ("bindings", "parent", "is_class", "star_modules", "bases")

    def __init__(
        self, parent: Scope | None = None, *, is_class: bool = False, bases: tuple[frozenset[str], ...] = ()
    ) -> None:
        self.bindings: dict[str, frozenset[str]] = {}
        self.parent = parent
        self.is_class = is_class
        self.star_modules: list[str] = []
        # For a class: what each base class expression resolves to (empty: unknown).
        self.bases = bases

    def bind(self, name: str, values: frozenset[str]) -> None:
        old = self.bindings.get(name)
        self.bindings[name] = values if old is None else old | values


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def string_value(node: cst.BaseExpression | None) -> str | None:
    """The value of a string literal, else None.

    Escapes are evaluated (``"\\x63hat_template"``), and so are literals joined implicitly
    (``"chat_" "template"``) or with ``+`` (``"apply_" + "chat_template"``): still literals.
    f-strings and bytes are not strings the audit can know.
    """
    if isinstance(node, cst.SimpleString):
        if "b" in node.prefix.lower():
            return None
        raw = node.raw_value
        if "\\" not in raw or "r" in node.prefix.lower():
            return raw
        try:
            value = ast.literal_eval(node.value)
        except (ValueError, SyntaxError):
            return raw
        return value if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        left, right = string_value(node.left), string_value(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        left, right = string_value(node.left), string_value(node.right)
        return None if left is None or right is None else left + right
    return None


def is_string(node: cst.BaseExpression | None) -> bool:
    """True for any string literal, including f-strings and implicit concatenations."""
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))


#: What a name bound to a literal resolves to: ``NAME = "gpt2"`` or ``TRC = True`` at any scope.
STRING_LITERAL = "<str>"
TRUE_LITERAL = "<True>"
#: A class defined in the file with no base class: its methods are its own.
LOCAL_CLASS = "<class>"
#: A function defined in the file: a local helper, whatever its name.
LOCAL_FUNCTION = "<def>"
#: ``x.apply_chat_template`` on a receiver that cannot be resolved, kept so that an alias of it
#: (``fn = tok.apply_chat_template; fn(messages)``) is still known when called.
UNKNOWN = "?"


def annotation_expressions(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The class expressions an annotation names: ``X``, ``X | None``, ``Optional[X]``, ``"X"``."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        return [node]
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return annotation_expressions(node.left) + annotation_expressions(node.right)
    if isinstance(node, cst.Subscript) and dotted(node.value) in ("Optional", "typing.Optional"):
        return [e for element in node.slice if isinstance(element.slice, cst.Index)
                for e in annotation_expressions(element.slice.value)]
    text = string_value(node)
    if text is not None and text.replace(".", "").isidentifier():
        expression = cst.parse_expression(text)
        return annotation_expressions(expression)
    return []


class Resolver:
    """Binds names as the walk meets them and resolves expressions to dotted names."""

    def __init__(self, module_name: str = "") -> None:
        self.module_scope = Scope()
        self.scope = self.module_scope
        self.module_name = module_name

    # -- scopes -------------------------------------------------------------------------------

    def push(self, *, is_class: bool = False, bases: tuple[frozenset[str], ...] = ()) -> None:
        self.scope = Scope(self.scope, is_class=is_class, bases=bases)

    def class_scope(self) -> Scope | None:
        """The class whose body (or method) is being walked, if any."""
        scope: Scope | None = self.scope
        while scope is not None and not scope.is_class:
            scope = scope.parent
        return scope

    def pop(self) -> None:
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def lookup(self, name: str) -> frozenset[str] | None:
        scope: Scope | None = self.scope
        first = True
        while scope is not None:
            if first or not scope.is_class:
                found = scope.bindings.get(name)
                if found is not None:
                    return found
            first = False
            scope = scope.parent
        return None

    def _stars(self) -> list[str]:
        stars: list[str] = []
        scope: Scope | None = self.scope
        while scope is not None:
            stars.extend(scope.star_modules)
            scope = scope.parent
        return stars

    # -- binding ------------------------------------------------------------------------------

    def bind_import(self, node: cst.Import) -> list[str]:
        """Bind ``import a.b [as c]``; return the imported module names."""
        modules = []
        for alias in node.names:
            full = dotted(alias.name) or ""
            modules.append(full)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.scope.bind(alias.asname.name.value, frozenset({full}))
            else:
                top = full.split(".")[0]
                self.scope.bind(top, frozenset({top}))
        return modules

    def bind_import_from(self, node: cst.ImportFrom) -> list[str]:
        """Bind ``from m import x [as y]`` (and ``*``); return the imported dotted names."""
        base = "." * len(node.relative) + (dotted(node.module) if node.module is not None else "")
        if isinstance(node.names, cst.ImportStar):
            self.scope.star_modules.append(base)
            return [base]
        imported = []
        for alias in node.names:
            name = dotted(alias.name) or ""
            full = f"{base}.{name}" if base and not base.endswith(".") else f"{base}{name}"
            imported.append(full)
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.scope.bind(local, frozenset({full}))
        return imported

    def bind_target(self, target: cst.BaseExpression, values: frozenset[str]) -> None:
        """Bind an assignment target; tuples and lists bind each name to ``values``."""
        if isinstance(target, cst.Name):
            self.scope.bind(target.value, values)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.bind_target(element.value, values)
        elif isinstance(target, cst.StarredElement):
            self.bind_target(target.value, values)
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            self.scope.bind(target.value.value + "[]", values)
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
            # ``self.llm = LLM(...)`` in one method, ``self.llm.chat(...)`` in another.
            owner = self.class_scope()
            if owner is not None:
                owner.bind(f"self.{target.attr.value}", values)

    def bind_assign(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """Bind ``target = value``, pairing tuple elements and recording container contents."""
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)):
            if len(target.elements) == len(value.elements):
                for t, v in zip(target.elements, value.elements, strict=True):
                    self.bind_assign(t.value, v.value)
                return
        self.bind_target(target, self.resolve(value))
        if isinstance(target, cst.Name):
            contents = self.contents(value)
            if contents:
                self.scope.bind(target.value + "[]", contents)

    def interesting_names(self, words: Iterable[str]) -> set[str]:
        """Module-level names bound to something that contains one of ``words``."""
        words = tuple(words)
        out = set()
        for name, values in self.module_scope.bindings.items():
            if any(word in value for value in values for word in words):
                out.add(name.removesuffix("[]"))
        return out

    def bind_names(self, names: Iterable[str]) -> None:
        """Bind names to nothing (parameters, function and class names): they shadow outer ones."""
        for name in names:
            self.scope.bind(name, EMPTY)

    def bind_function(self, name: str) -> None:
        """``def name(...)``: calls of it are calls of a local helper, not of a library."""
        self.scope.bind(name, frozenset({LOCAL_FUNCTION}))

    def bind_parameter(self, name: str, annotation: cst.BaseExpression | None) -> None:
        """A parameter is unknown, unless annotated with a class: then it is an instance of it."""
        values: set[str] = set()
        if annotation is not None:
            for expression in annotation_expressions(annotation):
                values.update(f"{q}()" for q in self.resolve(expression) if not q.startswith("<"))
        self.scope.bind(name, frozenset(values))

    def bind_class(self, name: str, bases: tuple[frozenset[str], ...]) -> None:
        """A class defined here resolves to its bases (a subclass of a model class loads like one)."""
        if not bases:
            self.scope.bind(name, frozenset({LOCAL_CLASS}))
        elif all(bases):
            self.scope.bind(name, frozenset().union(*bases))
        else:
            self.scope.bind(name, EMPTY)

    # -- resolving ----------------------------------------------------------------------------

    def contents(self, node: cst.BaseExpression) -> frozenset[str]:
        """What a container literal (or a name bound to one) may yield when indexed or iterated."""
        if isinstance(node, cst.Dict):
            out: set[str] = set()
            for element in node.elements:
                if isinstance(element, cst.DictElement):
                    out |= self.resolve(element.value)
            return frozenset(out)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            out = set()
            for element in node.elements:
                out |= self.resolve(element.value)
            return frozenset(out)
        if isinstance(node, cst.Name):
            return self.lookup(node.value + "[]") or EMPTY
        return EMPTY

    def resolve_name(self, name: str) -> frozenset[str]:
        found = self.lookup(name)
        if found is not None:
            return found
        guesses = {f"{m}.{name}" for m in self._stars()}
        if name in BUILTINS:
            guesses.add(f"builtins.{name}")
        return frozenset(guesses)

    def resolve(self, node: cst.BaseExpression) -> frozenset[str]:
        """The dotted names ``node`` may evaluate to; empty when unknown.

        String literals and ``True`` resolve to markers, so a name bound to one can be followed.
        """
        if is_string(node):
            return frozenset({STRING_LITERAL})
        if isinstance(node, cst.Name):
            if node.value == "True":
                return frozenset({TRUE_LITERAL})
            return self.resolve_name(node.value)
        if isinstance(node, cst.Attribute):
            attr = node.attr.value
            if isinstance(node.value, cst.Name) and node.value.value == "self":
                owner = self.class_scope()
                bound = owner.bindings.get(f"self.{attr}") if owner is not None else None
                if bound:
                    return bound
            receiver = self.resolve(node.value)
            if not receiver and attr in WATCHED_ATTRIBUTES:
                return frozenset({f"{UNKNOWN}.{attr}"})
            return frozenset(f"{q}.{attr}" for q in receiver)
        if isinstance(node, (cst.IfExp, cst.BooleanOperation)):
            # ``torch.load if legacy else safe_load``: either may be what is called.
            left, right = (node.body, node.orelse) if isinstance(node, cst.IfExp) else (node.left, node.right)
            return self.resolve(left) | self.resolve(right)
        if isinstance(node, cst.Call):
            return self.resolve_call(node)
        if isinstance(node, cst.Subscript):
            if isinstance(node.value, cst.Name):
                return self.lookup(node.value.value + "[]") or EMPTY
            return EMPTY
        return EMPTY

    def resolve_call(self, node: cst.Call) -> frozenset[str]:
        funcs = self.resolve(node.func)
        if not funcs:
            return EMPTY
        args = node.args
        if "builtins.getattr" in funcs and len(args) >= 2:
            name = string_value(args[1].value)
            if name is not None:
                receiver = self.resolve(args[0].value)
                if not receiver and name in WATCHED_ATTRIBUTES:
                    return frozenset({f"{UNKNOWN}.{name}"})
                return frozenset(f"{q}.{name}" for q in receiver)
        if ("importlib.import_module" in funcs or "builtins.__import__" in funcs) and args:
            name = string_value(args[0].value)
            if name is not None:
                return frozenset({name})
        return frozenset(f"{q}()" for q in funcs)


def root(qname: str) -> str:
    return qname.split(".", 1)[0]


def leaf(qname: str) -> str:
    return qname.rsplit(".", 1)[-1]
