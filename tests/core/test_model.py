"""The model's input frame and preprocessing."""

import numpy as np
import pandas as pd
import pytest

from tabpipe.core.config import FeatureParams
from tabpipe.core.model import MISSING_CATEGORY, category_strings, model_frame, preprocessor

FEATURES = FeatureParams(numeric=["age", "income"], categorical=["job"])


def test_model_frame_selects_features_in_order_with_model_types():
    raw = pd.DataFrame(
        {"job": ["a", None], "other": [1, 2], "income": [1.5, None], "age": [30, 40]}
    )
    out = model_frame(raw, FEATURES)
    assert list(out.columns) == ["age", "income", "job"]
    assert out["age"].dtype == np.float32
    assert np.isnan(out.loc[1, "income"]), "numeric missing stays NaN for the imputer"
    assert out["job"].tolist() == ["a", MISSING_CATEGORY], "categorical missing becomes ''"


def test_model_frame_names_missing_feature_columns():
    with pytest.raises(KeyError, match="job"):
        model_frame(pd.DataFrame({"age": [1], "income": [2]}), FEATURES)


def test_only_linear_models_get_scaled_features():
    scaled = preprocessor(FEATURES, scale_numeric=True)
    unscaled = preprocessor(FEATURES, scale_numeric=False)
    assert "scale" in dict(scaled.transformers[0][1].steps)
    assert "scale" not in dict(unscaled.transformers[0][1].steps)


def test_preprocessing_imputes_and_one_hot_encodes_unknown_categories_to_zero():
    train = model_frame(
        pd.DataFrame({"age": [20, 40, None], "income": [1, 2, 3], "job": ["a", "b", None]}),
        FEATURES,
    )
    pre = preprocessor(FEATURES, scale_numeric=False).fit(train)
    out = pre.transform(
        model_frame(pd.DataFrame({"age": [None], "income": [5], "job": ["zzz"]}), FEATURES)
    )
    assert out[0, 0] == 30.0, "age imputed with the training median"
    assert out[0, 2:].sum() == 0, "an unseen category encodes to all zeros, not an error"
    assert not np.isnan(out).any()


def test_ordinal_encoding_numbers_categories_in_order_and_an_unknown_one_is_missing():
    train = model_frame(
        pd.DataFrame({"age": [20, 40, 30], "income": [1, 2, 3], "job": ["b", "a", None]}),
        FEATURES,
    )
    pre = preprocessor(FEATURES, scale_numeric=False, encode_categories="ordinal").fit(train)
    out = pre.transform(
        model_frame(
            pd.DataFrame({"age": [1, 2, 3, 4], "income": [1] * 4, "job": ["a", "b", None, "zzz"]}),
            FEATURES,
        )
    )
    assert out.shape == (4, 3), "one column per categorical feature"
    assert out[:3, 2].tolist() == [1.0, 2.0, 0.0], "sorted: '' (missing) < 'a' < 'b'"
    assert np.isnan(out[3, 2]), "an unseen category is a missing value for the trees"


def test_with_many_categories_ordinal_trees_learn_what_one_hot_trees_miss():
    """Why HistGradientBoosting offers numbered categories: on mpg (234 cars, the class
    decided by a 38-valued model name) its test accuracy was 0.66 one-hot against 0.94."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    from tests.support.factories import named_models_table

    rows = named_models_table()
    label = rows.pop("y").to_numpy()
    X = model_frame(rows, FEATURES)
    scores = {}
    for encoding in ("one_hot", "ordinal"):
        model = Pipeline(
            [
                ("pre", preprocessor(FEATURES, scale_numeric=False, encode_categories=encoding)),
                ("model", HistGradientBoostingClassifier(random_state=0)),
            ]
        ).fit(X[:300], label[:300])
        scores[encoding] = float((model.predict(X[300:]) == label[300:]).mean())
    assert scores["ordinal"] >= 0.8 and scores["ordinal"] > scores["one_hot"] + 0.3, scores


def test_booleans_and_integer_codes_become_the_strings_the_model_and_service_share():
    from tabpipe.core.model import category_strings

    booleans = pd.Series([True, False, None], dtype="boolean")
    assert category_strings(booleans).tolist() == ["True", "False", ""]
    assert category_strings(pd.Series([True, False])).tolist() == ["True", "False"]
    # A CSV reader stores codes with a missing cell as floats: still "2", as the service sends.
    assert category_strings(pd.Series([1.0, 2.0, np.nan])).tolist() == ["1", "2", ""]
    assert category_strings(pd.Series([1, 2], dtype="Int64")).tolist() == ["1", "2"]
    assert category_strings(pd.Series([0.5, 2.0])).tolist() == ["0.5", "2.0"]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["owner", None, "rent", "owner"], dtype="str"),
        pd.Series(pd.Categorical(["b", None, "a"])),
        pd.Series([1, 2, None, 2], dtype="Int64"),
        pd.Series([1.0, np.nan, 2.5]),
        pd.Series([True, False, True]),
        pd.Series(["x", 3, None, 3.0], dtype=object),  # 3 and 3.0 hash alike, print apart
    ],
)
def test_categories_become_the_strings_each_value_prints_as(column):
    by_row = column.astype(object).where(column.notna(), MISSING_CATEGORY).astype(str)
    converted = category_strings(column)
    assert converted.dtype == object and converted.index.equals(column.index)
    assert converted.tolist() == by_row.tolist()
    assert all(type(value) is str for value in converted)


def test_a_column_missing_in_every_training_row_is_kept_and_onnx_agrees():
    """A derived column that is always undefined (x / 0) or a feature empty in the training
    split: scikit-learn's imputer would drop it, the ONNX graph would not."""
    from tabpipe.core.onnx_model import convert, run, session
    from tabpipe.pipeline.train import fit
    from tests.support.factories import quick_family, synthetic, synthetic_params

    frame = synthetic("binary", rows=200)
    frame["x2"] = np.nan
    params = synthetic_params("binary", quick_family())
    raw = params.model_dump(mode="json")
    raw["features"]["derived"] = {"never": "x1 / (x1 - x1)"}
    params = type(params).model_validate(raw)
    model = fit(frame, params)
    X = model_frame(frame, params.features)
    assert model.named_steps["preprocess"].transform(X).shape[1] == len(
        model.named_steps["preprocess"].get_feature_names_out()
    )
    proto = convert(model, params.features, params.data.task, params.export.opset)
    out = run(session(proto.SerializeToString()), frame, params.features)
    np.testing.assert_allclose(out.proba, model.predict_proba(X), atol=1e-5)
    assert (out.labels == model.predict(X).astype(str)).all()


@pytest.mark.parametrize("classes", [2, 3])
def test_labels_and_probabilities_are_predict_and_predict_proba_bit_for_bit(classes):
    """One pass over HistGradientBoosting's trees gives what its two calls give, exactly;
    a scikit-learn release that changes either rule, or the private scores, fails here."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    from tabpipe.core.model import labels_and_probabilities

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3_000, 5))
    y = np.array([f"c{k}" for k in (X[:, 0] * 2 + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)])
    y = y if classes == 3 else np.where(y == "c2", "c1", y)
    assert len(set(y)) == classes
    for model in (
        HistGradientBoostingClassifier(max_iter=30, random_state=0),
        RandomForestClassifier(n_estimators=5, random_state=0),
    ):
        model.fit(X[:2_000], y[:2_000])
        labels, proba = labels_and_probabilities(model, X[2_000:])
        assert np.array_equal(labels, model.predict(X[2_000:])), type(model).__name__
        assert np.array_equal(proba, model.predict_proba(X[2_000:])), type(model).__name__
        assert labels.dtype == model.predict(X[:5]).dtype
    # A row whose score is exactly 0 goes to the first class, as predict sends it.
    if classes == 2:
        tied = np.zeros((1, 1))
        fitted = HistGradientBoostingClassifier(max_iter=2).fit(X[:200], y[:200])
        fitted._raw_predict = lambda features: tied  # type: ignore[method-assign]
        assert labels_and_probabilities(fitted, X[:1])[0][0] == fitted.classes_[0]
