"""Derived features inside the model: a scikit-learn transformer and its ONNX converter.

:class:`DerivedColumns` computes the project's ``DERIVED`` expressions (see
:mod:`tabpipe.core.expressions`) from the numeric columns they read, in float32, and turns
every non-finite result into NaN so the imputer after it treats it as missing. The
converter registered by :func:`register_converter` emits the same operations as ONNX nodes
(``Gather`` a column, ``Add``/``Sub``/``Mul``/``Div``/``Abs``/``Sqrt``/``Log``/``Exp``,
``IsInf`` -> NaN), so the exported model takes raw columns and computes the derived ones
itself. A power ``x ** n`` is multiplied out in both, so both round the same way.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from tabpipe.core.expressions import BINARY, UNARY_FUNCTIONS, Expression, column_name, parse

_NUMPY_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
}
_NUMPY_UNARY: dict[str, Callable[[Any], Any]] = {
    "abs": np.abs,
    "sqrt": np.sqrt,
    "log": np.log,
    "exp": np.exp,
}


def inputs_of(expressions: Mapping[str, Expression]) -> list[str]:
    """Every column the expressions read, in order of first use."""
    seen: dict[str, None] = {}
    for expression in expressions.values():
        seen.update(dict.fromkeys(expression.columns))
    return list(seen)


def evaluate(expression: Expression, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """The expression over float32 columns, in float32; non-finite results become NaN."""

    def walk(node: ast.expr) -> Any:
        name = column_name(node)
        if name is not None:
            return columns[name]
        if isinstance(node, ast.Constant):
            return np.float32(float(node.value))  # type: ignore[arg-type]
        if isinstance(node, ast.UnaryOp):
            value = walk(node.operand)
            return np.negative(value) if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            base = walk(node.left)
            result = base
            for _ in range(int(node.right.value) - 1):  # type: ignore[attr-defined]
                result = np.multiply(result, base)
            return result
        if isinstance(node, ast.BinOp):
            return _NUMPY_BINARY[type(node.op)](walk(node.left), walk(node.right))
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return _NUMPY_UNARY[node.func.id](walk(node.args[0]))

    with np.errstate(all="ignore"):
        out = np.asarray(walk(expression.tree), dtype=np.float32)
        out = np.broadcast_to(out, next(iter(columns.values())).shape).copy()
    out[~np.isfinite(out)] = np.nan
    return out


class DerivedColumns(TransformerMixin, BaseEstimator):
    """Compute named expressions over the numeric columns ``inputs`` (in that order)."""

    def __init__(self, expressions: Mapping[str, str] | None = None, inputs: Sequence[str] = ()):
        self.expressions = expressions
        self.inputs = inputs

    def _parsed(self) -> dict[str, Expression]:
        return {name: parse(text) for name, text in (self.expressions or {}).items()}

    def fit(self, X: Any, y: Any = None) -> DerivedColumns:
        self.n_features_in_ = len(self.inputs)
        return self

    def transform(self, X: Any) -> np.ndarray:
        values = np.asarray(X, dtype=np.float32).reshape(-1, len(self.inputs))
        columns = {name: values[:, i] for i, name in enumerate(self.inputs)}
        derived = [evaluate(e, columns) for e in self._parsed().values()]
        return np.stack(derived, axis=1) if derived else np.empty((len(values), 0), np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(list(self.expressions or {}), dtype=object)


def _shape_calculator(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([rows, len(operator.raw_operator.expressions)])


def _converter(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    model: DerivedColumns = operator.raw_operator
    source = operator.inputs[0].full_name
    index = {name: i for i, name in enumerate(model.inputs)}

    def constant(value: float, dtype: int = TensorProto.FLOAT) -> str:
        name = scope.get_unique_variable_name("derived_const")
        container.add_initializer(name, dtype, [], [value])
        return name

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        out = scope.get_unique_variable_name(f"derived_{op.lower()}")
        container.add_node(op, inputs, [out], name=scope.get_unique_operator_name(op), **attrs)
        return out

    @functools.cache
    def gather(column: str) -> str:
        at = scope.get_unique_variable_name("derived_index")
        container.add_initializer(at, TensorProto.INT64, [1], [index[column]])
        return node("Gather", [source, at], axis=1)

    def walk(tree: ast.expr) -> str:
        name = column_name(tree)
        if name is not None:
            return gather(name)
        if isinstance(tree, ast.Constant):
            return constant(float(tree.value))  # type: ignore[arg-type]
        if isinstance(tree, ast.UnaryOp):
            value = walk(tree.operand)
            return node("Neg", [value]) if isinstance(tree.op, ast.USub) else value
        if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Pow):
            base = result = walk(tree.left)
            for _ in range(int(tree.right.value) - 1):  # type: ignore[attr-defined]
                result = node("Mul", [result, base])
            return result
        if isinstance(tree, ast.BinOp):
            return node(BINARY[type(tree.op)], [walk(tree.left), walk(tree.right)])
        assert isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)
        return node(UNARY_FUNCTIONS[tree.func.id], [walk(tree.args[0])])

    columns = [walk(expression.tree) for expression in model._parsed().values()]
    joined = node("Concat", columns, axis=1) if len(columns) > 1 else columns[0]
    infinite = node("IsInf", [joined])
    container.add_node(
        "Where",
        [infinite, constant(float("nan")), joined],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Where"),
    )


@functools.cache
def register_converter() -> None:
    """Teach skl2onnx to convert :class:`DerivedColumns` (once per process)."""
    from skl2onnx import update_registered_converter

    update_registered_converter(
        DerivedColumns, "TabpipeDerivedColumns", _shape_calculator, _converter
    )
