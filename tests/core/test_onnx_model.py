"""The conversion the default family depends on, independent of the project's registry.

skl2onnx's HistGradientBoosting converter broke under protobuf 7 ("AttributeProto.ints:
Expected an int, got a boolean"); pyproject.toml pins protobuf below 7. These tests fail
when a dependency bump breaks the conversion or its agreement with scikit-learn again.
"""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from tabpipe.core.config import Task
from tabpipe.core.model import encode_target, model_frame, preprocessor
from tabpipe.core.onnx_model import convert, prepare
from tabpipe.pipeline import export
from tests.support.factories import synthetic, synthetic_params


@pytest.mark.parametrize("encoding", ["ordinal", "one_hot"])
@pytest.mark.parametrize("task", list(Task))
def test_hist_gradient_boosting_converts_with_parity_on_categories_derived_columns_and_gaps(
    task, encoding
):
    frame = synthetic(task.value, rows=600)
    params = synthetic_params(task.value, "linear")  # only its features: numeric, one-hot, derived
    assert params.features.categorical and params.features.derived
    assert frame[params.features.all].isna().any().sum() >= 2  # gaps in numbers and categories
    estimator = (
        HistGradientBoostingRegressor(max_iter=30, random_state=0)
        if task is Task.REGRESSION
        else HistGradientBoostingClassifier(max_iter=30, random_state=0)
    )
    model = Pipeline(
        [
            (
                "preprocess",
                preprocessor(
                    params.features,
                    scale_numeric=False,
                    derived=params.features.expressions,
                    encode_categories=encoding,
                ),
            ),
            ("model", estimator),
        ]
    )
    model.fit(model_frame(frame, params.features), encode_target(frame.y, task))
    prepare(params)
    proto = convert(model, params.features, task, params.export.opset)
    result = export.parity(model, proto.SerializeToString(), frame, params, tolerance=1e-5)
    assert result.ok, result.describe()
    unseen = frame.copy()  # categories the model never saw: missing values (ordinal), zeros
    for name in params.features.categorical:
        unseen[name] = "never seen"
    result = export.parity(model, proto.SerializeToString(), unseen, params, tolerance=1e-5)
    assert result.ok, result.describe()
    trees = [n for n in proto.graph.node if n.op_type.startswith("TreeEnsemble")]
    assert len(trees) == 1


def test_the_missing_value_flags_are_stored_as_integers():
    """What protobuf 7 refused: numpy booleans in an ints attribute."""
    frame = synthetic("binary", rows=300)
    params = synthetic_params("binary", "linear")
    model = Pipeline(
        [
            ("preprocess", preprocessor(params.features, scale_numeric=False)),
            ("model", HistGradientBoostingClassifier(max_iter=5, random_state=0)),
        ]
    )
    model.fit(model_frame(frame, params.features), encode_target(frame.y, Task.BINARY))
    proto = convert(model, params.features, Task.BINARY, params.export.opset)
    (tree,) = [n for n in proto.graph.node if n.op_type == "TreeEnsembleClassifier"]
    flags = {a.name: list(a.ints) for a in tree.attribute}["nodes_missing_value_tracks_true"]
    assert flags and set(flags) <= {0, 1}
    assert np.asarray(flags).dtype.kind == "i"
