"""Imports a stage process can go without: what it skips before its libraries load.

pandera imports Hypothesis whenever it is installed (the dev environment has it, for the
service's property-based HTTP tests) to offer data synthesis (``schema.example()``), which
tabpipe never calls. That import is 0.1 to 0.2 s of CPU in every stage process that loads
the data contract, a fifth of validate's start-up. :func:`skip_unused_imports` marks such
modules absent (``sys.modules[name] = None`` makes ``import name`` raise ImportError), so
pandera takes the path it has for an environment without Hypothesis.

Only for a process that runs one stage (``python -m tabpipe.pipeline.<stage>``, see
:func:`is_stage_process`): a test session or a notebook that imports tabpipe may use
Hypothesis itself, and a module already imported is never touched.
"""

from __future__ import annotations

import sys

# Optional imports of the stages' libraries that no stage uses (module -> who imports it).
UNUSED = {"hypothesis": "pandera (data synthesis)"}


def is_stage_process() -> bool:
    """True while ``python -m tabpipe.pipeline.<stage>`` locates its module.

    Python sets ``sys.argv[0]`` to ``"-m"`` while it imports the parent packages of the
    module ``-m`` names, and to the module's file once it runs it (the ``-m`` option's
    documented behaviour), so ``tabpipe.pipeline`` sees ``"-m"`` only as such a parent.
    """
    return sys.argv[:1] == ["-m"]


def skip_unused_imports() -> list[str]:
    """Mark every module of :data:`UNUSED` not imported yet as absent; returns their names."""
    skipped = [name for name in UNUSED if name not in sys.modules]
    for name in skipped:
        sys.modules[name] = None  # type: ignore[assignment]  # documented: import raises
    return skipped


def prepare_stage_process() -> None:
    """In a stage process, skip the unused imports; anywhere else, nothing."""
    if is_stage_process():
        skip_unused_imports()
