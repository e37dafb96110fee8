"""The parts of `tabpipe init` that touch no dataset: names, memory, renaming, params text."""

from pathlib import Path

import pytest
import yaml

from tabpipe.config import Params
from tabpipe.init_project import (
    InitError,
    ParamsDumper,
    check_fits_in_memory,
    package_name,
    rename_package,
)


@pytest.mark.parametrize(
    ("name", "package"),
    [("Sea Birds 2", "sea_birds_2"), ("credit-risk", "credit_risk"), ("Ça va", "a_va")],
)
def test_project_names_become_package_names(name, package):
    assert package_name(name) == package


@pytest.mark.parametrize("name", ["123abc", "import", "tests", "json", "pandas", "---"])
def test_names_that_would_clash_or_break_are_refused(name):
    with pytest.raises(InitError, match=repr(name)):
        package_name(name)


def test_a_file_too_large_for_memory_is_refused_before_reading(tmp_path):
    data = tmp_path / "big.csv"
    data.write_bytes(b"x" * 10_000)
    with pytest.raises(InitError, match=r"needs about .* GiB of memory"):
        check_fits_in_memory(data, available=1_000)
    check_fits_in_memory(data, available=10**9)


def test_renaming_touches_whole_words_in_text_files_and_moves_the_package(tmp_path):
    (tmp_path / "src" / "oldpkg").mkdir(parents=True)
    (tmp_path / "src" / "oldpkg" / "cli.py").write_text("from oldpkg import x  # oldpkgs stays\n")
    (tmp_path / "dvc.yaml").write_text("cmd: python -m oldpkg.train\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("oldpkg\n")
    changed = rename_package(tmp_path, "oldpkg", "newpkg")
    assert sorted(map(str, changed)) == ["dvc.yaml", "src/oldpkg/cli.py"]
    assert (tmp_path / "src" / "newpkg" / "cli.py").read_text() == (
        "from newpkg import x  # oldpkgs stays\n"
    )
    assert (tmp_path / "dvc.yaml").read_text() == "cmd: python -m newpkg.train\n"
    assert (tmp_path / "data" / "rows.csv").read_text() == "oldpkg\n", "data is never rewritten"


def test_params_are_written_with_block_sections_and_one_line_lists(root):
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["features"]["numeric"] = ["Length (mm)", "Âge"]
    text = yaml.dump(params, Dumper=ParamsDumper, sort_keys=False, allow_unicode=True)
    assert "  numeric: [Length (mm), Âge]" in text
    assert "data:\n  raw:" in text
    assert Params.model_validate(yaml.safe_load(text)).features.numeric == ["Length (mm)", "Âge"]
    assert isinstance(root, Path)
