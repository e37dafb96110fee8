"""The modules CI jobs run before installing the project import only the standard library.

The comment, record, deploy-wait and alert jobs run them with a bare Python and
``PYTHONPATH=src``; a third-party import at module level would fail there, not here. So
each is imported in a fresh interpreter where every module outside the standard library
(scikit-learn, pandas, pandera, numpy, PyYAML, pydantic...) refuses to import.
"""

import subprocess
import sys

import pytest

STDLIB_ONLY = (
    "tabpipe.ci.actions",
    "tabpipe.ci.workflow",
    "tabpipe.ci.comment",
    "tabpipe.ci.github",
    "tabpipe.release.deploy",
    "tabpipe.release.registry",
    "tabpipe.monitoring.alert",
    "tabpipe.core.git",
    "tabpipe.core.paths",
    "tabpipe.core.dvcfiles",
)

BLOCKER = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in sys.stdlib_module_names and top != "tabpipe":
            raise ImportError(f"{name} is not in the standard library")
        return None
sys.meta_path.insert(0, Refuse())
import importlib
importlib.import_module(sys.argv[1])
"""


def import_bare(module: str, root) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, module],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("module", STDLIB_ONLY)
def test_a_ci_module_imports_with_the_standard_library_alone(module, root):
    done = import_bare(module, root)
    assert done.returncode == 0, done.stderr


def test_the_check_refuses_a_module_that_needs_a_third_party_library(root):
    done = import_bare("tabpipe.core.config", root)  # pydantic and PyYAML
    assert done.returncode != 0
    assert "is not in the standard library" in done.stderr
