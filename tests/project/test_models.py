"""Your model families (src/<package>/models.py): each is well-formed, learns each task,
and exports to ONNX that agrees with scikit-learn.

These tests are yours: they run over whatever FAMILIES holds, so a family you add is
tested as soon as it is registered.
"""

import numpy as np
import pytest

from tabpipe.core.config import Task
from tabpipe.core.model import model_frame
from tabpipe.core.onnx_model import convert, prepare
from tabpipe.pipeline import export
from tabpipe.pipeline.train import fit
from tests.support.factories import family_names, project_code, synthetic, synthetic_params

FAMILIES = family_names()


def test_the_default_family_is_registered():
    code = project_code()
    assert code.default_family in code.families


@pytest.mark.parametrize("family", FAMILIES)
def test_every_setting_has_a_default_and_unknown_settings_are_refused(family):
    settings = project_code().families[family].settings
    assert settings() == settings.model_validate({})
    with pytest.raises(ValueError, match="not_a_setting"):
        settings.model_validate({"not_a_setting": 1})


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task", list(Task))
def test_every_family_learns_every_task_better_than_a_constant(task, family):
    frame = synthetic(task.value, rows=500)
    params = synthetic_params(task.value, family)
    train, test = frame.iloc[:400], frame.iloc[400:]
    model = fit(train, params)
    predicted = model.predict(model_frame(test, params.features))
    if task is Task.REGRESSION:
        residual = ((test.y - predicted) ** 2).mean()
        assert residual < 0.5 * test.y.var()
    else:
        baseline = test.y.value_counts(normalize=True).max()
        assert (predicted == test.y.to_numpy()).mean() > baseline + 0.1
        assert np.isfinite(model.predict_proba(model_frame(test, params.features))).all()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task", list(Task))
def test_parity_holds_for_every_family_and_task(task, family):
    frame = synthetic(task.value, rows=300)
    params = synthetic_params(task.value, family)
    model = fit(frame, params)
    prepare(params)
    proto = convert(model, params.features, task, params.export.opset)
    result = export.parity(model, proto.SerializeToString(), frame, params, tolerance=1e-4)
    assert result.ok, result.describe()
    assert result.rows == 300
