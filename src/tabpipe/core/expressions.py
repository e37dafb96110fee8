"""Arithmetic over columns, for derived features: parsed once, evaluated by numpy or ONNX.

A derived feature (``features.derived`` in params.yaml) is an expression such as
``Amount / Price`` or ``log(col("Income (EUR)") + 1)``: ``+ - * /``, ``**`` with a
whole-number power, numbers, parentheses, ``abs``, ``sqrt``, ``log`` and ``exp``, over
numeric features; ``col("...")`` names a column that is not a Python name.

Python's own parser reads it (``ast``, in eval mode) and only a small, closed set of nodes
is accepted, so an expression can be computed the same way in float32 by numpy during
training and by ONNX operators inside the exported model. Nothing is ever ``eval``-ed.

Written here rather than taken from a library: numexpr and similar evaluate with numpy only
and say nothing about ONNX, and the ONNX side needs the same closed grammar.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# Python operator node -> ONNX operator
BINARY = {ast.Add: "Add", ast.Sub: "Sub", ast.Mult: "Mul", ast.Div: "Div"}
UNARY_FUNCTIONS = {"abs": "Abs", "sqrt": "Sqrt", "log": "Log", "exp": "Exp"}
MAX_POWER = 8


class ExpressionError(ValueError):
    """The text is not an expression the pipeline can compute in both numpy and ONNX."""


@dataclass(frozen=True)
class Expression:
    text: str
    tree: ast.expr
    columns: tuple[str, ...]  # the columns it reads, in order of first use


def column_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "col"
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _check(node: ast.expr, columns: list[str]) -> None:
    name = column_name(node)
    if name is not None:
        if isinstance(node, ast.Name) and name in {*UNARY_FUNCTIONS, "col"}:
            raise ExpressionError(f"{name!r} is a function: call it, e.g. {name}(x)")
        if name not in columns:
            columns.append(name)
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExpressionError(f"{node.value!r}: only numbers can be constants")
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, columns)
        return
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        _check(node.left, columns)
        _check(node.right, columns)
        return
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        power = node.right
        if not (
            isinstance(power, ast.Constant)
            and isinstance(power.value, int)
            and not isinstance(power.value, bool)
            and 1 <= power.value <= MAX_POWER
        ):
            raise ExpressionError(f"** needs a whole-number power from 1 to {MAX_POWER}")
        _check(node.left, columns)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in UNARY_FUNCTIONS:
            known = ", ".join([*UNARY_FUNCTIONS, "col"])
            raise ExpressionError(f"unknown function {node.func.id!r}; use one of {known}")
        if len(node.args) != 1:
            raise ExpressionError(f"{node.func.id}() takes one argument")
        _check(node.args[0], columns)
        return
    raise ExpressionError(
        f"{ast.unparse(node)!r} is not allowed (use + - * /, ** n, numbers, functions)"
    )


def parse(text: str) -> Expression:
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"{text!r} is not a valid expression: {exc.msg}") from None
    columns: list[str] = []
    _check(tree, columns)
    if not columns:
        raise ExpressionError(f"{text!r} reads no column")
    return Expression(text, tree, tuple(columns))
