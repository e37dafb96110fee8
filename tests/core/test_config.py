"""params.yaml is loaded once into a typed, validated Params object."""

from pathlib import Path

import pytest
import yaml

from tabpipe.core.config import ConfigError, Task, load_params


def write_params(tmp_path: Path, root: Path, **changes: dict) -> Path:
    raw = yaml.safe_load((root / "params.yaml").read_text())
    for section, values in changes.items():
        raw[section].update(values)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_project_params_load(params):
    assert params.data.task in set(Task)
    assert (params.data.positive_class is not None) == (params.data.task is Task.BINARY)
    assert params.train.family in params.code.families
    assert params.data.target not in params.features.all
    assert params.train.settings() == getattr(params.train, params.train.family)


def test_an_unknown_task_is_rejected_naming_the_key(tmp_path, root):
    path = write_params(tmp_path, root, data={"task": "ranking"})
    with pytest.raises(ConfigError, match=r"data\.task"):
        load_params(path)


def test_an_unknown_key_is_rejected(tmp_path, root):
    path = write_params(tmp_path, root, train={"n_trees": 5})
    with pytest.raises(ConfigError, match=r"train\.n_trees"):
        load_params(path)


def test_a_feature_cannot_be_numeric_and_categorical(tmp_path, root, params):
    if params.features.categorical:
        changed = {"numeric": [*params.features.numeric, params.features.categorical[0]]}
    else:  # a numeric-only project: list a numeric feature as categorical too
        changed = {"categorical": [params.features.numeric[0]]}
    path = write_params(tmp_path, root, features=changed)
    with pytest.raises(ConfigError, match="both numeric and categorical"):
        load_params(path)


def test_the_target_cannot_be_a_feature(tmp_path, root, params):
    with_target = [*params.features.categorical, params.data.target]
    path = write_params(tmp_path, root, features={"categorical": with_target})
    with pytest.raises(ConfigError, match="also listed as a feature"):
        load_params(path)


def test_binary_needs_a_positive_class(tmp_path, root):
    path = write_params(tmp_path, root, data={"task": "binary", "positive_class": None})
    with pytest.raises(ConfigError, match="positive_class"):
        load_params(path)


def test_slices_must_be_categorical_features(tmp_path, root):
    path = write_params(tmp_path, root, evaluate={"slice_by": ["Age"]})
    with pytest.raises(ConfigError, match="slice_by"):
        load_params(path)


def test_a_missing_params_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "params.yaml")


def test_every_unknown_key_is_named_with_its_line_and_the_closest_known_name(tmp_path, root):
    text = (root / "params.yaml").read_text()
    lines = text.splitlines()
    seed = next(i for i, line in enumerate(lines) if line.startswith("  test_size:"))
    lines.insert(seed + 1, "  tset_size: 0.3")
    lines += ["trian:", "  seed: 1"]
    path = tmp_path / "params.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_params(path)
    message = str(caught.value)
    assert f"line {seed + 2}: split.tset_size: unknown key (did you mean 'test_size'?)" in message
    assert f"line {len(lines) - 1}: trian: unknown section (did you mean 'train'?)" in message


def test_a_train_setting_and_another_section_are_both_reported(tmp_path, root, params):
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["train"][params.train.family]["n_trees"] = 3
    raw["evaluate"]["min_slice_sise"] = 3
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_params(path)
    assert f"train.{params.train.family}.n_trees" in str(caught.value)
    assert "evaluate.min_slice_sise" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "the file is a list"),
        ("", "the file is empty"),
        ("data:\n  raw: x\ndata:\n  raw: y\n", r"params.yaml:3: 'data' is given twice \(first on"),
        ("data:\n\traw: x\n", r"params.yaml:2:1: not valid YAML"),
    ],
)  # fmt: skip
def test_a_params_file_that_is_not_a_mapping_of_sections_is_refused(tmp_path, text, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_params(path)
