"""tabpipe predict: files in, contract checked without the label, predictions with the version."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabpipe.core.config import load_params
from tabpipe.core.paths import PATHS
from tabpipe.release import predict as predict_batch
from tabpipe.serving.runtime import ServingModel
from tests.support.factories import enumerated_column, ranged_numeric
from tests.support.scratch import inside


@pytest.fixture(scope="module")
def unlabelled(pipeline_project) -> pd.DataFrame:
    params = load_params(pipeline_project / "params.yaml")
    frame = pd.read_parquet(pipeline_project / PATHS.test_split).head(120)
    return frame.drop(columns=[params.data.target]).reset_index(drop=True)


def test_a_parquet_file_is_scored_like_the_service_scores_it(
    pipeline_project, bundle_dir, unlabelled, tmp_path
):
    source, out = tmp_path / "new.parquet", tmp_path / "scored.csv"
    unlabelled.assign(applicant_id=range(len(unlabelled))).to_parquet(source)
    with inside(pipeline_project):
        code = predict_batch.main(
            [
                str(source),
                "--out",
                str(out),
                "--model-dir",
                str(bundle_dir),
                "--keep",
                "applicant_id",
            ]
        )
    assert code == 0
    scored = pd.read_csv(out)
    assert len(scored) == len(unlabelled)
    assert scored["applicant_id"].tolist() == list(range(len(unlabelled)))
    assert set(scored["model_version"]) == {"v1.0.0"}
    model = ServingModel(bundle_dir)
    rows = unlabelled.head(5).astype(object).where(unlabelled.head(5).notna(), None)
    expected = model.predict_rows(rows.to_dict(orient="records"))
    if model.is_classifier:
        assert scored["prediction"].head(5).astype(str).tolist() == [p.label for p in expected]
        for cls in model.classes:
            assert scored[f"probability_{cls}"].head(5).tolist() == pytest.approx(
                [p.probabilities[cls] for p in expected], abs=1e-6
            )
    else:
        assert scored["prediction"].head(5).tolist() == pytest.approx([p.value for p in expected])


def test_a_file_that_breaks_the_contract_lists_every_problem_and_writes_nothing(
    pipeline_project, bundle_dir, unlabelled, tmp_path, capsys
):
    params = load_params(pipeline_project / "params.yaml")
    from tabpipe.core.contract import load_contract

    schema = load_contract(pipeline_project / params.data.contract)
    numeric, too_big = ranged_numeric(params, schema)
    enumerated = enumerated_column(params, schema, features_only=True)  # no label here
    broken = unlabelled.astype(object)
    broken.loc[3, numeric] = too_big
    if enumerated is not None:
        broken.loc[5, enumerated[0]] = "castle-in-the-air"
    source, out = tmp_path / "new.csv", tmp_path / "scored.parquet"
    broken.to_csv(source, index=False)
    with inside(pipeline_project):
        code = predict_batch.main([str(source), "--out", str(out), "--model-dir", str(bundle_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"column {numeric!r}: check in_range" in err and "row index 3" in err
    if enumerated is not None:
        assert f"column {enumerated[0]!r}: check isin" in err and "'castle-in-the-air'" in err
    assert not out.exists()


def test_the_label_may_be_present_and_is_kept(pipeline_project, bundle_dir, tmp_path):
    params = load_params(pipeline_project / "params.yaml")
    labelled = pd.read_parquet(pipeline_project / PATHS.test_split).head(10)
    source, out = tmp_path / "labelled.parquet", tmp_path / "scored.parquet"
    labelled.to_parquet(source)
    with inside(pipeline_project):
        scored, _ = predict_batch.run(source, out, bundle_dir, params)
    assert scored[params.data.target].tolist() == labelled[params.data.target].tolist()
    assert pd.read_parquet(out).shape == scored.shape


def test_refusals_name_the_problem(pipeline_project, bundle_dir, unlabelled, tmp_path, capsys):
    source = tmp_path / "new.csv"
    unlabelled.to_csv(source, index=False)
    with inside(pipeline_project):
        assert (
            predict_batch.main([str(source), "--out", str(source), "--model-dir", str(bundle_dir)])
            == 1
        )
        assert "would overwrite the input" in capsys.readouterr().err
        assert (
            predict_batch.main(
                [str(source), "--out", str(tmp_path / "x.json"), "--model-dir", str(bundle_dir)]
            )
            == 1
        )
        assert "write .csv or .parquet" in capsys.readouterr().err
        assert (
            predict_batch.main(
                [
                    str(source),
                    "--out",
                    str(tmp_path / "o.csv"),
                    "--keep",
                    "nope",
                    "--model-dir",
                    str(bundle_dir),
                ]
            )
            == 1
        )
        assert "--keep column(s) not in the file: ['nope']" in capsys.readouterr().err
        assert (
            predict_batch.main(
                [
                    str(tmp_path / "absent.csv"),
                    "--out",
                    str(tmp_path / "o.csv"),
                    "--model-dir",
                    str(bundle_dir),
                ]
            )
            == 1
        )
        assert "file not found" in capsys.readouterr().err


def test_a_small_file_may_have_more_nulls_than_the_training_table_allows(
    pipeline_project, bundle_dir, unlabelled, signature, tmp_path
):
    nullable = [f["name"] for f in signature if f["nullable"]]
    if not nullable:
        pytest.skip("not applicable: the contract allows no nulls in any feature")
    few = unlabelled.head(4).astype(object)
    few[nullable[0]] = None  # 100% missing: over any max_null_fraction, still a valid row each
    source, out = tmp_path / "few.parquet", tmp_path / "scored.parquet"
    few.to_parquet(source)
    with inside(pipeline_project):
        scored, _ = predict_batch.run(source, out, bundle_dir, load_params())
    assert len(scored) == 4 and scored["prediction"].notna().all()


@pytest.mark.parametrize("which", ["project", "every kind"])
def test_batch_feeds_are_the_feeds_the_service_makes_from_json_values(
    which, bundle_dir, kinds_bundle
):
    """predict builds the ONNX inputs column by column; the service, value by value."""
    bundle = bundle_dir if which == "project" else kinds_bundle
    model = ServingModel(bundle)
    frame = pd.read_parquet(bundle.parents[1] / PATHS.test_split).head(200)
    frame = frame.reset_index(drop=True)
    for feature in model.features:  # a missing value in every nullable feature
        if feature.nullable:
            frame.loc[3, feature.name] = None
    as_json = frame.astype(object).where(frame.notna(), None)
    columns = {f.name: as_json[f.name].tolist() for f in model.features}
    expected = model._feeds(columns)
    got = predict_batch.frame_feeds(model, frame)
    assert list(got) == list(expected)
    for name, array in expected.items():
        assert got[name].dtype == array.dtype and got[name].shape == array.shape, name
        if array.dtype == object:
            assert got[name].ravel().tolist() == array.ravel().tolist(), name
        else:
            np.testing.assert_array_equal(got[name], array, err_msg=name)
    kinds = {f.kind for f in model.features}
    if which == "every kind":
        assert kinds == {"numeric", "categorical", "boolean"}, "the table covers every kind"
