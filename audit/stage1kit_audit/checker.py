"""The single walk over a module's ``ast`` that feeds the resolver and the rules.

CPython's parser (C) builds the tree many times faster than libcst could, and its nodes carry
their own positions; the walk reads fields, skips annotations, and dispatches on node type.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

from .config import AuditConfig
from .resolver import Resolver
from .rules.base import Rule

# Fields never walked: annotations (types are not code that runs the rules' concerns), contexts.
_SKIP_FIELDS = frozenset({"ctx", "annotation", "returns", "type_comment", "type_params", "type_ignores"})
_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAVES = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop, ast.Constant, ast.Pass,
           ast.Break, ast.Continue, ast.Global, ast.Nonlocal, ast.alias)

Found = tuple[ast.AST, str, str]


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple(f for f in cls._fields if f not in _SKIP_FIELDS)  # type: ignore[attr-defined]
    return fields


class Checker:
    """Walks one module once, keeping scopes up to date and calling the rules' hooks."""

    def __init__(self, rules: Sequence[type[Rule]], config: AuditConfig) -> None:
        self.resolver = Resolver()
        self.raw: list[Found] = []  # (node, rule code, message) per finding
        instances = [r(self.resolver, config, self.record) for r in rules]

        def hooks(name: str) -> list[Callable]:
            return [getattr(r, name) for r in instances if hasattr(r, name)]

        self.on_call = hooks("on_call")
        self.on_attribute = hooks("on_attribute")
        self.on_name = hooks("on_name")
        self.on_dict = hooks("on_dict")
        self.on_sequence = hooks("on_sequence")
        self.on_subscript = hooks("on_subscript")
        self.on_string = hooks("on_string")
        self.on_import = hooks("on_import")
        self.on_boolean = hooks("on_boolean")
        self.on_bound = hooks("on_bound")
        self._dispatch: dict[type, Callable[[Any], None]] = {leaf: self._leaf for leaf in _LEAVES}
        self._dispatch.update({
            ast.Name: self._name,
            ast.Constant: self._constant,
            ast.Call: self._call,
            ast.Attribute: self._attribute,
            ast.Subscript: self._subscript,
            ast.Dict: self._dict,
            ast.List: self._sequence,
            ast.Tuple: self._sequence,
            ast.Set: self._sequence,
            ast.Import: self._import,
            ast.ImportFrom: self._import_from,
            ast.Assign: self._assign,
            ast.AnnAssign: self._ann_assign,
            ast.AugAssign: self._aug_assign,
            ast.Delete: self._delete,
            ast.For: self._for,
            ast.AsyncFor: self._for,
            ast.NamedExpr: self._named_expr,
            ast.FunctionDef: self._function,
            ast.AsyncFunctionDef: self._function,
            ast.ClassDef: self._class,
            ast.Lambda: self._lambda,
            ast.ListComp: self._comprehension,
            ast.SetComp: self._comprehension,
            ast.GeneratorExp: self._comprehension,
            ast.DictComp: self._comprehension,
            ast.withitem: self._with_item,
            ast.ExceptHandler: self._except,
            ast.If: self._test,
            ast.While: self._test,
            ast.IfExp: self._test,
            ast.Assert: self._test,
            ast.Compare: self._compare,
            ast.BoolOp: self._bool_op,
            ast.UnaryOp: self._unary,
        })

    def record(self, node: ast.AST, code: str, message: str) -> None:
        self.raw.append((node, code, message))

    def run(self, module: ast.Module) -> list[Found]:
        """Check a whole module."""
        self.prebind(module.body)
        self.walk_body(module.body)
        return self.raw

    def prebind(self, statements: Sequence[ast.stmt]) -> None:
        """Bind module-level imports and assignments first, so functions see later imports."""
        for statement in statements:
            kind = type(statement)
            if kind is ast.Import:
                self.resolver.bind_import(statement)  # type: ignore[arg-type]
            elif kind is ast.ImportFrom:
                self.resolver.bind_import_from(statement)  # type: ignore[arg-type]
            elif kind is ast.Assign:
                for target in statement.targets:  # type: ignore[attr-defined]
                    self.resolver.bind_assign(target, statement.value)  # type: ignore[attr-defined]
            elif kind in (ast.If, ast.With, ast.AsyncWith, ast.Try, getattr(ast, "TryStar", ast.Try)):
                self.prebind(statement.body)  # type: ignore[attr-defined]
                self.prebind(getattr(statement, "orelse", []))
                self.prebind(getattr(statement, "finalbody", []))
                for handler in getattr(statement, "handlers", []):
                    self.prebind(handler.body)

    def walk_body(self, body: Sequence[ast.AST]) -> None:
        walk = self.walk
        for statement in body:
            walk(statement)

    # -- generic walk ---------------------------------------------------------------------------

    def walk(self, node: ast.AST) -> None:
        handler = self._dispatch.get(type(node))
        if handler is None:
            self.children(node)
        else:
            handler(node)

    def children(self, node: ast.AST) -> None:
        walk = self.walk
        for name in _child_fields(type(node)):
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if item is not None:
                        walk(item)
            elif isinstance(value, ast.AST):
                walk(value)

    @staticmethod
    def _leaf(node: ast.AST) -> None:
        """Operators, contexts, ``pass``: nothing to check."""

    # -- events ---------------------------------------------------------------------------------------

    def _name(self, node: ast.Name) -> None:
        if type(node.ctx) is ast.Load:  # a name being bound is not a use
            for hook in self.on_name:
                hook(node)

    def _constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            for hook in self.on_string:
                hook(node)

    def _call(self, node: ast.Call) -> None:
        for hook in self.on_call:
            hook(node)
        self.children(node)

    def _attribute(self, node: ast.Attribute) -> None:
        store = isinstance(node.ctx, ast.Store)
        for hook in self.on_attribute:
            hook(node, store)
        self.walk(node.value)

    def _subscript(self, node: ast.Subscript) -> None:
        store = isinstance(node.ctx, ast.Store)
        for hook in self.on_subscript:
            hook(node, store)
        self.walk(node.value)
        self.walk(node.slice)

    def _dict(self, node: ast.Dict) -> None:
        for hook in self.on_dict:
            hook(node)
        self.children(node)

    def _sequence(self, node: ast.List | ast.Tuple | ast.Set) -> None:
        if not isinstance(getattr(node, "ctx", None), ast.Store):
            for hook in self.on_sequence:
                hook(node)
        self.children(node)

    # -- values read as true or false (``if cfg.apply_chat_template:``) ---------------------------

    def _boolean(self, node: ast.AST) -> None:
        for hook in self.on_boolean:
            hook(node)

    def _test(self, node: ast.If | ast.While | ast.IfExp | ast.Assert) -> None:
        self._boolean(node.test)
        self.children(node)

    def _compare(self, node: ast.Compare) -> None:
        self._boolean(node.left)
        for comparator in node.comparators:
            self._boolean(comparator)
        self.children(node)

    def _bool_op(self, node: ast.BoolOp) -> None:
        for value in node.values:
            self._boolean(value)
        self.children(node)

    def _unary(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            self._boolean(node.operand)
        self.children(node)

    # -- special statements -------------------------------------------------------------------------

    def _import(self, node: ast.Import) -> None:
        names = self.resolver.bind_import(node)
        for hook in self.on_import:
            hook(node, names)

    def _import_from(self, node: ast.ImportFrom) -> None:
        names = self.resolver.bind_import_from(node)
        for hook in self.on_import:
            hook(node, names)

    def _assign(self, node: ast.Assign) -> None:
        if all(isinstance(t, ast.Name) for t in node.targets):
            for hook in self.on_bound:  # ``use = args.apply_chat_template``: bound, not yet used
                hook(node.value)
        self.walk(node.value)
        for target in node.targets:
            self.resolver.bind_assign(target, node.value)
            self.walk(target)

    def _ann_assign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.walk(node.value)
            self.resolver.bind_assign(node.target, node.value)
        self.walk(node.target)

    def _aug_assign(self, node: ast.AugAssign) -> None:
        self.walk(node.value)
        self.walk(node.target)

    def _delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.walk(target)

    def _for(self, node: ast.For | ast.AsyncFor) -> None:
        self.walk(node.iter)
        self.resolver.bind_target(node.target, self.resolver.contents(node.iter))
        self.walk(node.target)
        self.walk_body(node.body)
        self.walk_body(node.orelse)

    def _named_expr(self, node: ast.NamedExpr) -> None:
        self.walk(node.value)
        self.resolver.bind_assign(node.target, node.value)

    def _with_item(self, node: ast.withitem) -> None:
        self.walk(node.context_expr)
        if node.optional_vars is not None:
            self.resolver.bind_target(node.optional_vars, self.resolver.resolve(node.context_expr))
            self.walk(node.optional_vars)

    def _except(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.walk(node.type)
        if node.name:
            self.resolver.bind_names([node.name])
        self.walk_body(node.body)

    def _defaults(self, args: ast.arguments) -> None:
        """Walk defaults in the enclosing scope; the names are bound by the new scope."""
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                self.walk(default)

    def _bind_parameters(self, args: ast.arguments) -> None:
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            self.resolver.bind_parameter(arg.arg, arg.annotation)
        for star in (args.vararg, args.kwarg):
            if star is not None:
                self.resolver.bind_names([star.arg])

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.walk(decorator)
        self._defaults(node.args)
        self.resolver.bind_function(node.name)
        self.resolver.push()
        self._bind_parameters(node.args)
        self.walk_body(node.body)
        self.resolver.pop()

    def _class(self, node: ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.walk(decorator)
        for expression in (*node.bases, *(k.value for k in node.keywords)):
            self.walk(expression)
        bases = self.resolver.class_bases(node)
        self.resolver.bind_class(node.name, bases)
        self.resolver.push(is_class=True, bases=bases)
        self.walk_body(node.body)
        self.resolver.pop()

    def _lambda(self, node: ast.Lambda) -> None:
        self._defaults(node.args)
        self.resolver.push()
        self._bind_parameters(node.args)
        self.walk(node.body)
        self.resolver.pop()

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.resolver.push()
        for generator in node.generators:
            self.walk(generator.iter)
            self.resolver.bind_target(generator.target, self.resolver.contents(generator.iter))
            self.walk(generator.target)
            for condition in generator.ifs:
                self.walk(condition)
        if isinstance(node, ast.DictComp):
            self.walk(node.key)
            self.walk(node.value)
        else:
            self.walk(node.elt)
        self.resolver.pop()

    # -- skipping definitions that cannot matter ------------------------------------------------

    def skip_definition(self, node: ast.stmt) -> None:
        """Bind what walking a top-level ``def`` or ``class`` would bind, without walking it."""
        if isinstance(node, ast.ClassDef):
            self.resolver.bind_class(node.name, self.resolver.class_bases(node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.resolver.bind_function(node.name)
