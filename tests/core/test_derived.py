"""Derived features: a closed grammar, computed the same by numpy and by the ONNX graph."""

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer

from tabpipe.core.config import FeatureParams
from tabpipe.core.derived import DerivedColumns, evaluate, register_converter
from tabpipe.core.expressions import ExpressionError, parse


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("a / b", ("a", "b")),
        ("log(abs(a) + 1) - sqrt(b) * 2", ("a", "b")),
        ('col("Length (mm)") / col("Âge") ** 2', ("Length (mm)", "Âge")),
        ("-(b - a) + exp(a / 10)", ("b", "a")),
    ],
)
def test_expressions_name_the_columns_they_read_in_order(text, columns):
    assert parse(text).columns == columns


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a +", "not a valid expression"),
        ("__import__('os')", "unknown function"),
        ("a.real", "not allowed"),
        ("a ** 0.5", "whole-number power"),
        ("a ** b", "whole-number power"),
        ("a if b else 1", "not allowed"),
        ("'text'", "only numbers"),
        ("3 * 2", "reads no column"),
        ("log", "is a function"),
        ("log(a, b)", "takes one argument"),
        ("a < b", "not allowed"),
    ],
)
def test_anything_outside_the_grammar_is_refused_and_said_why(text, problem):
    with pytest.raises(ExpressionError, match=problem):
        parse(text)


def test_params_refuse_derived_features_over_missing_or_categorical_columns():
    with pytest.raises(ValueError, match=r"features\.derived\.r.*\['colour'\]"):
        FeatureParams(numeric=["x"], categorical=["colour"], derived={"r": "x / colour"})
    with pytest.raises(ValueError, match="already a feature"):
        FeatureParams(numeric=["x"], derived={"x": "x * 2"})
    with pytest.raises(ValueError, match=r"features\.derived\.r: .*unknown function"):
        FeatureParams(numeric=["x"], derived={"r": "floor(x)"})


def test_undefined_and_infinite_results_become_missing():
    a = np.array([1, 0, -1, np.nan, 4], dtype=np.float32)
    b = np.array([2, 0, 0, 1, 0], dtype=np.float32)
    out = evaluate(parse("a / b"), {"a": a, "b": b})
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(out), [False, True, True, True, True])
    assert out[0] == np.float32(0.5)
    assert np.isnan(evaluate(parse("log(a)"), {"a": np.array([-1.0], np.float32)})).all()


EDGE_ROWS = pd.DataFrame(
    {
        "a": [1.0, 0.0, -3.5, np.nan, 1e30, 7.25, -0.0],
        "b": [2.0, 0.0, 0.0, 1.0, 1e-30, -2.0, 5.0],
    },
    dtype=np.float32,
)
EXPRESSIONS = {
    "ratio": "a / b",
    "poly": "a ** 3 - 2 * a * b + b ** 2",
    "smooth": "log(abs(a) + 1) + sqrt(abs(b)) - exp(-abs(a) / 100)",
    "neg": "-a",
}


def test_the_onnx_graph_computes_what_numpy_computes_on_edge_values():
    register_converter()
    transform = ColumnTransformer(
        [("derived", DerivedColumns(EXPRESSIONS, ["a", "b"]), ["a", "b"])],
        verbose_feature_names_out=False,
    ).fit(EDGE_ROWS)
    expected = transform.transform(EDGE_ROWS)
    proto = convert_sklearn(
        transform,
        initial_types=[("a", FloatTensorType([None, 1])), ("b", FloatTensorType([None, 1]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {name: EDGE_ROWS[[name]].to_numpy(np.float32) for name in ("a", "b")}
    (got,) = session.run(None, feeds)
    assert got.shape == (len(EDGE_ROWS), len(EXPRESSIONS))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)
    assert list(transform.get_feature_names_out()) == list(EXPRESSIONS)
