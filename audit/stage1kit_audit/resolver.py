"""Qualified-name resolution in one pass over CPython's ``ast``.

Names are tracked per scope as sets of dotted names: ``import transformers as tf`` binds ``tf`` to
``{"transformers"}``, ``M = tf.AutoModel`` binds ``M`` to ``{"transformers.AutoModel"}``, and a
dict or list of resolved values binds ``NAME[]`` to the union of its values. The result of calling
something is written ``name()``. Bindings only ever grow (flow-insensitive), which errs towards
findings: an alias that *may* name a model class is treated as one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from .vocabulary import LOAD_METHODS, TEMPLATE_CALLS

EMPTY: frozenset[str] = frozenset()

# ``resolve`` results by node id, valid until the next binding: the rules resolve the same callee
# several times per call. One walk runs at a time in a process, so one table serves; it holds the
# node too, so that no id is reused while its entry lives.
_MEMO: dict[int, tuple[ast.AST, frozenset[str]]] = {}

# Builtins whose use the rules care about; an unbound name in this set resolves to ``builtins.NAME``.
BUILTINS = frozenset(
    {"eval", "exec", "getattr", "setattr", "delattr", "vars", "__import__", "dict", "object", "compile"}
)

# Attributes kept even on a receiver that cannot be resolved, so an alias of them is still known
# when called: ``fn = tok.apply_chat_template``, ``load = getattr(cls, "from_pretrained")``.
WATCHED_ATTRIBUTES = TEMPLATE_CALLS | LOAD_METHODS

#: What a name bound to a literal resolves to: ``NAME = "gpt2"`` or ``TRC = True`` at any scope.
STRING_LITERAL = "<str>"
TRUE_LITERAL = "<True>"
#: A class defined in the file with no base class: its methods are its own.
LOCAL_CLASS = "<class>"
#: A function defined in the file: a local helper, whatever its name.
LOCAL_FUNCTION = "<def>"
#: The receiver of a watched attribute that cannot be resolved.
UNKNOWN = "?"


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
        _MEMO.clear()  # what any expression resolves to may have changed


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def string_value(node: ast.AST | None) -> str | None:
    """The value of a string literal, else None.

    CPython has already evaluated escapes (``"\\x63hat_template"``) and joined implicit
    concatenations (``"chat_" "template"``); literals joined with ``+`` are joined here
    (``"apply_" + "chat_template"`` is still a literal). f-strings are not known.
    """
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = string_value(node.left), string_value(node.right)
        return None if left is None or right is None else left + right
    return None


def is_string(node: ast.AST | None) -> bool:
    """True for any string literal, including f-strings."""
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr)


def is_constant(node: ast.AST | None, *values: object) -> bool:
    """``True``/``False``/``None`` literals (compared by identity, so ``1`` is not ``True``)."""
    return isinstance(node, ast.Constant) and any(node.value is v for v in values)


def annotation_expressions(node: ast.AST) -> list[ast.AST]:
    """The class expressions an annotation names: ``X``, ``X | None``, ``Optional[X]``, ``"X"``."""
    if isinstance(node, (ast.Name, ast.Attribute)):
        return [node]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return annotation_expressions(node.left) + annotation_expressions(node.right)
    if isinstance(node, ast.Subscript) and dotted(node.value) in ("Optional", "typing.Optional"):
        return annotation_expressions(node.slice)
    text = string_value(node)
    if text is not None and text.replace(".", "").isidentifier():
        return annotation_expressions(ast.parse(text, mode="eval").body)
    return []


class Resolver:
    """Binds names as the walk meets them and resolves expressions to dotted names."""

    def __init__(self) -> None:
        self.module_scope = Scope()
        self.scope = self.module_scope
        _MEMO.clear()
        # Names ever bound to something whose last part is a template function (any scope): only
        # these (and the functions' own names, through star imports) can resolve to one.
        self.template_names: set[str] = set()

    # -- scopes -------------------------------------------------------------------------------

    def push(self, *, is_class: bool = False, bases: tuple[frozenset[str], ...] = ()) -> None:
        self.scope = Scope(self.scope, is_class=is_class, bases=bases)
        _MEMO.clear()

    def pop(self) -> None:
        assert self.scope.parent is not None
        self.scope = self.scope.parent
        _MEMO.clear()

    def class_scope(self) -> Scope | None:
        """The class whose body (or method) is being walked, if any."""
        scope: Scope | None = self.scope
        while scope is not None and not scope.is_class:
            scope = scope.parent
        return scope

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

    def _bind(self, scope: Scope, name: str, values: frozenset[str]) -> None:
        scope.bind(name, values)
        if any(leaf(v) in TEMPLATE_CALLS for v in values):
            self.template_names.add(name)

    def bind_import(self, node: ast.Import) -> list[str]:
        """Bind ``import a.b [as c]``; return the imported module names."""
        modules = []
        for alias in node.names:
            modules.append(alias.name)
            if alias.asname:
                self._bind(self.scope, alias.asname, frozenset({alias.name}))
            else:
                top = alias.name.split(".")[0]
                self._bind(self.scope, top, frozenset({top}))
        return modules

    def bind_import_from(self, node: ast.ImportFrom) -> list[str]:
        """Bind ``from m import x [as y]`` (and ``*``); return the imported dotted names."""
        base = "." * (node.level or 0) + (node.module or "")
        imported = []
        for alias in node.names:
            if alias.name == "*":
                self.scope.star_modules.append(base)
                imported.append(base)
                continue
            full = f"{base}.{alias.name}" if base and not base.endswith(".") else f"{base}{alias.name}"
            imported.append(full)
            self._bind(self.scope, alias.asname or alias.name, frozenset({full}))
        return imported

    def bind_target(self, target: ast.AST, values: frozenset[str]) -> None:
        """Bind an assignment target; tuples and lists bind each name to ``values``."""
        if isinstance(target, ast.Name):
            self._bind(self.scope, target.id, values)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind_target(element, values)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, values)
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            self._bind(self.scope, target.value.id + "[]", values)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
            # ``self.llm = LLM(...)`` in one method, ``self.llm.chat(...)`` in another.
            owner = self.class_scope()
            if owner is not None:
                self._bind(owner, f"self.{target.attr}", values)

    def bind_assign(self, target: ast.AST, value: ast.AST) -> None:
        """Bind ``target = value``, pairing tuple elements and recording container contents."""
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
            if len(target.elts) == len(value.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self.bind_assign(t, v)
                return
        self.bind_target(target, self.resolve(value))
        if isinstance(target, ast.Name):
            contents = self.contents(value)
            if contents:
                self._bind(self.scope, target.id + "[]", contents)

    def interesting_names(self, words: Iterable[str]) -> set[str]:
        """Module-level names bound to something that contains one of ``words``."""
        words = tuple(words)
        out = set()
        for name, values in self.module_scope.bindings.items():
            if any(word in value for value in values for word in words):
                out.add(name.removesuffix("[]"))
        return out

    def bind_names(self, names: Iterable[str]) -> None:
        """Bind names to nothing (unknown values): they shadow outer ones."""
        for name in names:
            self._bind(self.scope, name, EMPTY)

    def bind_function(self, name: str) -> None:
        """``def name(...)``: calls of it are calls of a local helper, not of a library."""
        self._bind(self.scope, name, frozenset({LOCAL_FUNCTION}))

    def bind_parameter(self, name: str, annotation: ast.AST | None) -> None:
        """A parameter is unknown, unless annotated with a class: then it is an instance of it."""
        values: set[str] = set()
        if annotation is not None:
            for expression in annotation_expressions(annotation):
                values.update(f"{q}()" for q in self.resolve(expression) if not q.startswith("<"))
        self._bind(self.scope, name, frozenset(values))

    def class_bases(self, node: ast.ClassDef) -> tuple[frozenset[str], ...]:
        return tuple(self.resolve(base) for base in node.bases)

    def bind_class(self, name: str, bases: tuple[frozenset[str], ...]) -> None:
        """A class defined here resolves to its bases (a subclass of a model class loads like one)."""
        if not bases:
            self._bind(self.scope, name, frozenset({LOCAL_CLASS}))
        elif all(bases):
            self._bind(self.scope, name, frozenset().union(*bases))
        else:
            self._bind(self.scope, name, EMPTY)

    # -- resolving ----------------------------------------------------------------------------

    def contents(self, node: ast.AST) -> frozenset[str]:
        """What a container literal (or a name bound to one) may yield when indexed or iterated."""
        if isinstance(node, ast.Dict):
            out: set[str] = set()
            for key, value in zip(node.keys, node.values, strict=True):
                if key is not None:
                    out |= self.resolve(value)
            return frozenset(out)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            out = set()
            for element in node.elts:
                out |= self.resolve(element.value if isinstance(element, ast.Starred) else element)
            return frozenset(out)
        if isinstance(node, ast.Name):
            return self.lookup(node.id + "[]") or EMPTY
        return EMPTY

    def resolve_name(self, name: str) -> frozenset[str]:
        found = self.lookup(name)
        if found is not None:
            return found
        guesses = {f"{m}.{name}" for m in self._stars()}
        if name in BUILTINS:
            guesses.add(f"builtins.{name}")
        return frozenset(guesses)

    def resolve(self, node: ast.AST) -> frozenset[str]:
        """The dotted names ``node`` may evaluate to; empty when unknown.

        String literals and ``True`` resolve to markers, so a name bound to one can be followed.
        """
        entry = _MEMO.get(id(node))
        if entry is None:
            entry = _MEMO[id(node)] = (node, self._resolve(node))
        return entry[1]

    def _resolve(self, node: ast.AST) -> frozenset[str]:
        kind = type(node)
        if kind is ast.Name:
            return self.resolve_name(node.id)  # type: ignore[attr-defined]
        if kind is ast.Attribute:
            return self._resolve_attribute(node)  # type: ignore[arg-type]
        if kind is ast.Call:
            return self.resolve_call(node)  # type: ignore[arg-type]
        if kind is ast.Constant:
            value = node.value  # type: ignore[attr-defined]
            if isinstance(value, str):
                return frozenset({STRING_LITERAL})
            return frozenset({TRUE_LITERAL}) if value is True else EMPTY
        if kind is ast.JoinedStr:
            return frozenset({STRING_LITERAL})
        if kind is ast.BinOp and string_value(node) is not None:
            return frozenset({STRING_LITERAL})
        if kind is ast.IfExp:
            # ``torch.load if legacy else safe_load``: either may be what is called.
            return self.resolve(node.body) | self.resolve(node.orelse)  # type: ignore[attr-defined]
        if kind is ast.BoolOp:
            return frozenset().union(*(self.resolve(v) for v in node.values))  # type: ignore[attr-defined]
        if kind is ast.Subscript and isinstance(node.value, ast.Name):  # type: ignore[attr-defined]
            return self.lookup(node.value.id + "[]") or EMPTY  # type: ignore[attr-defined]
        return EMPTY

    def _resolve_attribute(self, node: ast.Attribute) -> frozenset[str]:
        attr = node.attr
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            owner = self.class_scope()
            bound = owner.bindings.get(f"self.{attr}") if owner is not None else None
            if bound:
                return bound
        receiver = self.resolve(node.value)
        if not receiver and attr in WATCHED_ATTRIBUTES:
            return frozenset({f"{UNKNOWN}.{attr}"})
        return frozenset(f"{q}.{attr}" for q in receiver)

    def resolve_call(self, node: ast.Call) -> frozenset[str]:
        funcs = self.resolve(node.func)
        if not funcs:
            return EMPTY
        args = node.args
        if "builtins.getattr" in funcs and len(args) >= 2:
            name = string_value(args[1])
            if name is not None:
                receiver = self.resolve(args[0])
                if not receiver and name in WATCHED_ATTRIBUTES:
                    return frozenset({f"{UNKNOWN}.{name}"})
                return frozenset(f"{q}.{name}" for q in receiver)
        if ("importlib.import_module" in funcs or "builtins.__import__" in funcs) and args:
            name = string_value(args[0])
            if name is not None:
                return frozenset({name})
        return frozenset(f"{q}()" for q in funcs)


def root(qname: str) -> str:
    return qname.split(".", 1)[0]


def leaf(qname: str) -> str:
    return qname.rsplit(".", 1)[-1]
