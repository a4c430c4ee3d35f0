"""The ``calculate_output`` formula of a multi grader, evaluated without ``eval``.

The formula is parsed with Python's own parser (``ast``) and only a whitelist of node types
is evaluated: numbers, the sub-grader keys, ``+ - * /``, ``^`` (power), parentheses and the
functions ``min max abs floor ceil exp sqrt log`` (natural log; min and max take two or more
arguments). Anything else is a :class:`FormulaError`.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping

FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log": math.log,
}
_ARITY = {"min": (2, None), "max": (2, None), "log": (1, 1)}
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


MAX_FORMULA_DEPTH = 100
"""Nesting of a formula's tree (a chain of N terms nests N deep): evaluation recurses that far."""


class FormulaError(ValueError):
    """The formula cannot be parsed, or names something that is not a sub-grader or function."""


def _depth(tree: ast.AST) -> int:
    """How deeply ``tree`` nests, counted without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def parse_formula(formula: str, variables: set[str] | frozenset[str]) -> ast.expr:
    """Parse and check ``formula``; returns the tree :func:`evaluate_formula` walks."""
    if "**" in formula:
        raise FormulaError("use ^ for powers, not **")
    try:
        tree = ast.parse(formula.replace("^", "**"), mode="eval").body
    except SyntaxError:
        raise FormulaError(f"{formula!r} is not a valid arithmetic expression") from None
    except (RecursionError, MemoryError):  # the parser's own limit on nesting
        raise FormulaError(f"the formula nests too deeply (at most {MAX_FORMULA_DEPTH} levels)") from None
    depth = _depth(tree)
    if depth > MAX_FORMULA_DEPTH:
        raise FormulaError(f"the formula nests {depth} levels deep; at most {MAX_FORMULA_DEPTH}")
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if id(node) not in called:
            _check_node(node, variables)
    return tree


def _check_node(node: ast.AST, variables: set[str] | frozenset[str]) -> None:
    if isinstance(node, ast.BinOp) and type(node.op) not in _BINARY:
        raise FormulaError("only + - * / ^ are allowed")
    if isinstance(node, ast.UnaryOp) and type(node.op) not in _UNARY:
        raise FormulaError("only unary + and - are allowed")
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, bool) or not isinstance(node.value, int | float)
    ):
        raise FormulaError(f"{node.value!r} is not a number")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise FormulaError(f"the functions are {', '.join(FUNCTIONS)}")
        low, high = _ARITY.get(node.func.id, (1, 1))
        if len(node.args) < low or (high is not None and len(node.args) > high):
            raise FormulaError(
                f"{node.func.id}() takes {low if low == high else f'{low} or more'} "
                f"argument{'s' if low != 1 else ''}, got {len(node.args)}"
            )
    elif isinstance(node, ast.Name) and node.id not in variables:
        known = ", ".join(sorted(variables)) or "none"
        raise FormulaError(f"{node.id!r} is not a sub-grader key (the keys are {known})")
    allowed = (
        ast.Expression,
        ast.BinOp,
        ast.UnaryOp,
        ast.Constant,
        ast.Name,
        ast.Call,
        ast.Load,
        *_BINARY,
        *_UNARY,
    )
    if not isinstance(node, allowed):
        raise FormulaError(f"{type(node).__name__} is not allowed in a formula")


def evaluate_formula(tree: ast.expr, values: Mapping[str, float]) -> float:
    """Evaluate a parsed formula; math errors (x/0, log(0)) raise ``ArithmeticError``/``ValueError``."""
    if isinstance(tree, ast.Constant) and isinstance(tree.value, int | float):
        return float(tree.value)
    if isinstance(tree, ast.Name):
        return float(values[tree.id])
    if isinstance(tree, ast.UnaryOp):
        return _UNARY[type(tree.op)](evaluate_formula(tree.operand, values))
    if isinstance(tree, ast.BinOp):
        left, right = evaluate_formula(tree.left, values), evaluate_formula(tree.right, values)
        return float(_BINARY[type(tree.op)](left, right))
    if isinstance(tree, ast.Call):
        assert isinstance(tree.func, ast.Name)
        return float(FUNCTIONS[tree.func.id](*(evaluate_formula(a, values) for a in tree.args)))
    raise FormulaError(f"{type(tree).__name__} is not allowed in a formula")
