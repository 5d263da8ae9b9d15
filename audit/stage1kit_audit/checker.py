"""The single walk over a libcst tree that feeds the resolver and the rules.

libcst's own ``visit`` rebuilds every node and its metadata providers deep-copy the tree; this
walker only reads fields, skips whitespace and annotations, and dispatches on node type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import libcst as cst

from .config import AuditConfig
from .resolver import Resolver
from .rules.base import Rule

# Fields that never hold code the rules look at (whitespace, punctuation) or that are handled by
# the parent's own handler (the ``attr`` of an Attribute, a keyword's name, binding names).
_SKIP_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header",
        "footer", "newline", "trailing_whitespace", "operator", "equal", "colon", "dot", "star",
        "asynchronous", "default_equal", "whitespace", "lbracket", "rbracket", "lbrace", "rbrace",
        "first_line", "empty_lines", "encoding", "default_indent", "default_newline",
        "has_trailing_newline", "indent", "prefix", "quote", "value_str", "raw",
    }
)
_SKIP_BY_TYPE: dict[type, frozenset[str]] = {
    cst.Attribute: frozenset({"attr"}),
    cst.Arg: frozenset({"keyword"}),
    cst.FunctionDef: frozenset({"name", "params", "body", "returns", "type_parameters"}),
    cst.ClassDef: frozenset({"name", "body", "type_parameters"}),
    cst.Lambda: frozenset({"params", "body"}),
    cst.Param: frozenset({"name", "annotation"}),
}
_OPAQUE = (
    cst.Annotation, cst.Import, cst.ImportFrom, cst.Global, cst.Nonlocal, cst.AsName,
    cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.TrailingWhitespace, cst.EmptyLine,
    cst.Newline, cst.Comma, cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis, cst.Pass, cst.Break,
    cst.Continue,
)
_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        skip = _SKIP_FIELDS | _SKIP_BY_TYPE.get(cls, frozenset())
        try:
            names = [f.name for f in dataclasses.fields(cls)]
        except TypeError:  # not a node
            names = []
        fields = _FIELDS[cls] = tuple(n for n in names if n not in skip and not n.startswith("whitespace"))
    return fields


# Field values that are never nodes.
_SCALARS = frozenset({str, bool, int, float, cst.MaybeSentinel})


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
_SEQUENCES = (cst.List, cst.Tuple, cst.Set)


class Checker:
    """Walks one module once, keeping scopes up to date and calling the rules' hooks."""

    def __init__(self, rules: Sequence[type[Rule]], config: AuditConfig) -> None:
        self.resolver = Resolver()
        # (node, rule code, message, enclosing statements from the top, piece) per finding
        self.raw: list[tuple[cst.CSTNode, str, str, tuple[cst.CSTNode, ...], int]] = []
        self.statements: list[cst.CSTNode] = []
        self.piece = 0  # which parsed piece of the file is being walked
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
        self._dispatch: dict[type, Callable[[Any], None]] = {opaque: self._opaque for opaque in _OPAQUE}
        self._dispatch.update({
            cst.Name: self._name,
            cst.SimpleString: self._string,
            cst.Call: self._call,
            cst.Attribute: self._attribute,
            cst.Subscript: self._subscript,
            cst.Dict: self._dict,
            cst.List: self._sequence,
            cst.Tuple: self._sequence,
            cst.Set: self._sequence,
            cst.Import: self._import,
            cst.ImportFrom: self._import_from,
            cst.Assign: self._assign,
            cst.AnnAssign: self._ann_assign,
            cst.AugAssign: self._aug_assign,
            cst.Del: self._del,
            cst.For: self._for,
            cst.NamedExpr: self._named_expr,
            cst.FunctionDef: self._function,
            cst.ClassDef: self._class,
            cst.Lambda: self._lambda,
            cst.ListComp: self._comprehension,
            cst.SetComp: self._comprehension,
            cst.GeneratorExp: self._comprehension,
            cst.DictComp: self._comprehension,
            cst.WithItem: self._with_item,
            cst.ExceptHandler: self._except,
            cst.IndentedBlock: self._block,
            cst.If: self._if,
            cst.While: self._if,
            cst.IfExp: self._if,
            cst.Assert: self._if,
            cst.Comparison: self._comparison,
            cst.BooleanOperation: self._boolean_operation,
            cst.UnaryOperation: self._unary,
        })

    def record(self, node: cst.CSTNode, code: str, message: str) -> None:
        self.raw.append((node, code, message, tuple(self.statements), self.piece))

    def run(self, module: cst.Module) -> list[tuple[cst.CSTNode, str, str, tuple[cst.CSTNode, ...], int]]:
        """Check a whole module; findings are (node, code, message, statement chain, piece)."""
        self.prebind(module)
        self.walk_module(module, 0)
        return self.raw

    def prebind(self, module: cst.Module) -> None:
        """Bind module-level imports and assignments first, so functions see later imports."""
        self._prebind(module.body)

    def walk_module(self, module: cst.Module, piece: int) -> None:
        self.piece = piece
        self._statements(module.body)

    def _statements(self, body: Sequence[cst.CSTNode]) -> None:
        """Walk a body, keeping the chain of enclosing statements (used to locate findings)."""
        stack = self.statements
        for statement in body:
            stack.append(statement)
            self.walk(statement)
            stack.pop()

    def _block(self, node: cst.IndentedBlock) -> None:
        self._statements(node.body)

    def _prebind(self, statements: Sequence[cst.CSTNode]) -> None:
        for statement in statements:
            if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                self._prebind_small(statement.body)
            elif isinstance(statement, (cst.If, cst.Else, cst.With, cst.Try, cst.ExceptHandler, cst.Finally)):
                self._prebind([statement.body])
                if isinstance(statement, cst.If) and statement.orelse is not None:
                    self._prebind([statement.orelse])
                if isinstance(statement, cst.Try):
                    self._prebind([*statement.handlers, *filter(None, (statement.orelse, statement.finalbody))])
            elif isinstance(statement, cst.IndentedBlock):
                self._prebind(statement.body)

    def _prebind_small(self, smalls: Sequence[cst.BaseSmallStatement]) -> None:
        for small in smalls:
            if isinstance(small, cst.Import):
                self.resolver.bind_import(small)
            elif isinstance(small, cst.ImportFrom):
                self.resolver.bind_import_from(small)
            elif isinstance(small, cst.Assign):
                for target in small.targets:
                    self.resolver.bind_assign(target.target, small.value)

    # -- generic walk ---------------------------------------------------------------------------

    def walk(self, node: cst.CSTNode) -> None:
        handler = self._dispatch.get(type(node))
        if handler is None:
            self.children(node)
        else:
            handler(node)

    def children(self, node: cst.CSTNode) -> None:
        walk = self.walk
        for name in _child_fields(type(node)):
            value = getattr(node, name)
            kind = type(value)
            if kind is tuple or kind is list:
                for item in value:
                    walk(item)
            elif value is not None and kind not in _SCALARS:
                walk(value)

    # -- events ---------------------------------------------------------------------------------------

    def _name(self, node: cst.Name) -> None:
        for hook in self.on_name:
            hook(node)

    def _string(self, node: cst.SimpleString) -> None:
        for hook in self.on_string:
            hook(node)

    def _call(self, node: cst.Call) -> None:
        for hook in self.on_call:
            hook(node)
        self.children(node)

    def _attribute(self, node: cst.Attribute) -> None:
        for hook in self.on_attribute:
            hook(node, False)
        self.children(node)

    def _subscript(self, node: cst.Subscript) -> None:
        for hook in self.on_subscript:
            hook(node, False)
        self.children(node)

    def _dict(self, node: cst.Dict) -> None:
        for hook in self.on_dict:
            hook(node)
        self.children(node)

    def _sequence(self, node: cst.List | cst.Tuple | cst.Set) -> None:
        for hook in self.on_sequence:
            hook(node)
        self.children(node)

    # -- values read as true or false (``if cfg.apply_chat_template:``) ---------------------------

    def _boolean(self, node: cst.CSTNode) -> None:
        for hook in self.on_boolean:
            hook(node)

    def _if(self, node: cst.If | cst.While | cst.IfExp | cst.Assert) -> None:
        self._boolean(node.test)
        self.children(node)

    def _comparison(self, node: cst.Comparison) -> None:
        self._boolean(node.left)
        for target in node.comparisons:
            self._boolean(target.comparator)
        self.children(node)

    def _boolean_operation(self, node: cst.BooleanOperation) -> None:
        self._boolean(node.left)
        self._boolean(node.right)
        self.children(node)

    def _unary(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._boolean(node.expression)
        self.children(node)

    @staticmethod
    def _opaque(node: cst.CSTNode) -> None:
        """Whitespace, punctuation, annotations: nothing to check. Imports have their own handler."""

    # -- targets ----------------------------------------------------------------------------------

    def target(self, node: cst.BaseExpression) -> None:
        """Walk an assignment/deletion target: names bind (no event), attributes and items store."""
        if isinstance(node, cst.Name):
            return
        if isinstance(node, (cst.Tuple, cst.List)):
            for element in node.elements:
                self.target(element.value)
        elif isinstance(node, cst.StarredElement):
            self.target(node.value)
        elif isinstance(node, cst.Attribute):
            for hook in self.on_attribute:
                hook(node, True)
            self.walk(node.value)
        elif isinstance(node, cst.Subscript):
            for hook in self.on_subscript:
                hook(node, True)
            self.walk(node.value)
            for element in node.slice:
                self.walk(element)
        else:
            self.walk(node)

    # -- special statements -------------------------------------------------------------------------

    def _import(self, node: cst.Import) -> None:
        names = self.resolver.bind_import(node)
        for hook in self.on_import:
            hook(node, names)

    def _import_from(self, node: cst.ImportFrom) -> None:
        names = self.resolver.bind_import_from(node)
        for hook in self.on_import:
            hook(node, names)

    def _assign(self, node: cst.Assign) -> None:
        if all(isinstance(t.target, cst.Name) for t in node.targets):
            for hook in self.on_bound:  # ``use = args.apply_chat_template``: bound, not yet used
                hook(node.value)
        self.walk(node.value)
        for target in node.targets:
            self.resolver.bind_assign(target.target, node.value)
            self.target(target.target)

    def _ann_assign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.walk(node.value)
            self.resolver.bind_assign(node.target, node.value)
        self.target(node.target)

    def _aug_assign(self, node: cst.AugAssign) -> None:
        self.walk(node.value)
        self.target(node.target)

    def _del(self, node: cst.Del) -> None:
        self.target(node.target)

    def _for(self, node: cst.For) -> None:
        self.walk(node.iter)
        self.resolver.bind_target(node.target, self.resolver.contents(node.iter))
        self.target(node.target)
        self.walk(node.body)
        if node.orelse is not None:
            self.walk(node.orelse)

    def _named_expr(self, node: cst.NamedExpr) -> None:
        self.walk(node.value)
        self.resolver.bind_assign(node.target, node.value)

    def _with_item(self, node: cst.WithItem) -> None:
        self.walk(node.item)
        if node.asname is not None:
            self.resolver.bind_target(node.asname.name, self.resolver.resolve(node.item))

    def _except(self, node: cst.ExceptHandler) -> None:
        if node.type is not None:
            self.walk(node.type)
        if node.name is not None and isinstance(node.name.name, cst.Name):
            self.resolver.bind_names([node.name.name.value])
        self.walk(node.body)

    def _parameters(self, params: cst.Parameters) -> None:
        """Walk defaults in the enclosing scope; the names are bound by the caller's new scope."""
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.default is not None:
                self.walk(param.default)

    def _param_names(self, params: cst.Parameters) -> list[str]:
        names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                names.append(star.name.value)
        return names

    def _function(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            self.walk(decorator)
        self._parameters(node.params)
        self.resolver.bind_function(node.name.value)
        self.resolver.push()
        self._bind_parameters(node.params)
        self.walk(node.body)
        self.resolver.pop()

    def _bind_parameters(self, params: cst.Parameters) -> None:
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            annotation = param.annotation.annotation if param.annotation is not None else None
            self.resolver.bind_parameter(param.name.value, annotation)
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                self.resolver.bind_names([star.name.value])

    def _class(self, node: cst.ClassDef) -> None:
        for decorator in node.decorators:
            self.walk(decorator)
        for arg in (*node.bases, *node.keywords):
            self.walk(arg)
        bases = tuple(self.resolver.resolve(arg.value) for arg in node.bases)
        self.resolver.bind_class(node.name.value, bases)
        self.resolver.push(is_class=True, bases=bases)
        self.walk(node.body)
        self.resolver.pop()

    def _lambda(self, node: cst.Lambda) -> None:
        self._parameters(node.params)
        self.resolver.push()
        self.resolver.bind_names(self._param_names(node.params))
        self.walk(node.body)
        self.resolver.pop()

    def _comprehension(self, node: cst.BaseComp) -> None:
        self.resolver.push()
        for_in: cst.CompFor | None = node.for_in
        while for_in is not None:
            self.walk(for_in.iter)
            self.resolver.bind_target(for_in.target, self.resolver.contents(for_in.iter))
            self.target(for_in.target)
            for condition in for_in.ifs:
                self.walk(condition.test)
            for_in = for_in.inner_for_in
        if isinstance(node, cst.DictComp):
            self.walk(node.key)
            self.walk(node.value)
        else:
            self.walk(node.elt)
        self.resolver.pop()
