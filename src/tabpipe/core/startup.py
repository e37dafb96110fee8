"""Imports a stage process can go without: what it skips before its libraries load.

pandera imports Hypothesis whenever it is installed (the dev environment has it, for the
service's property-based HTTP tests) to offer data synthesis (``schema.example()``), which
tabpipe never calls. That import is 0.1 to 0.2 s of CPU in every stage process that loads
the data contract, a fifth of validate's start-up. :func:`skip_unused_imports` marks such
modules absent (``sys.modules[name] = None`` makes ``import name`` raise ImportError), so
pandera takes the path it has for an environment without Hypothesis.

It also spares a stage process the cost of its own shutdown (:func:`finish_stage_process`):
Python's final garbage collections walk every object the libraries created on import
(scikit-learn and scipy leave over a million), 0.3 to 0.4 s of a stage that imported
scikit-learn and 0.2 s of one that imported pandas and pandera, at every exit, against a
stage body of 0.1 to 1.4 s on the bundled data (docs/benchmarks.md). ``gc.freeze()`` once
the stage is done moves those objects out of the collector's sight; the interpreter still
shuts down normally (exit handlers run, streams are flushed, modules are cleared), it only
no longer searches them for reference cycles it would free a moment before the process
ends anyway. Everything a stage writes is closed before its body returns.

Only for a process that runs one stage (``python -m tabpipe.pipeline.<stage>``, see
:func:`is_stage_process`): a test session or a notebook that imports tabpipe may use
Hypothesis itself and runs on after a stage, and a module already imported is never touched.
"""

from __future__ import annotations

import gc
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


# Set by prepare_stage_process: this process runs one stage and ends after it.
_stage_process = False


def prepare_stage_process() -> None:
    """In a stage process, skip the unused imports; anywhere else, nothing."""
    global _stage_process
    if is_stage_process():
        _stage_process = True
        skip_unused_imports()


def finish_stage_process() -> bool:
    """In a stage process whose stage is done, freeze the garbage collector's objects so
    that shutdown does not search them; anywhere else, nothing. True if it froze them."""
    if not _stage_process:
        return False
    gc.freeze()
    return True
