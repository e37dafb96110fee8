"""What a stage process spares itself: imports it never uses, and garbage collections that
find nothing.

pandera imports Hypothesis whenever it is installed (the dev environment has it, for the
service's property-based HTTP tests) to offer data synthesis (``schema.example()``), which
tabpipe never calls. That import is 0.1 to 0.2 s of CPU in every stage process that loads
the data contract, a fifth of validate's start-up. :func:`skip_unused_imports` marks such
modules absent (``sys.modules[name] = None`` makes ``import name`` raise ImportError), so
pandera takes the path it has for an environment without Hypothesis.

The garbage collector: importing pandas, pandera or scikit-learn leaves 100,000 to 160,000
long-lived objects in the collector's care (pandas alone about 107,000, with pandera
157,000) and almost no garbage, yet the collector walks them again and again, during the
imports and in Python's final collections at exit: 0.3 to 0.4 s at the exit of a stage that
imported scikit-learn, 0.2 s for pandas and pandera, and about 0.03 s during the imports,
against stage bodies of 0.1 to 1.4 s on the bundled data (docs/benchmarks.md). So a stage
process collects nothing while its modules load (:func:`prepare_stage_process`), then moves
what they made out of the collector's sight with ``gc.freeze()`` and collects normally
while the stage works (:func:`stage_loaded`), and freezes again once the stage is done
(:func:`finish_stage_process`): the interpreter still shuts down normally (exit handlers
run, streams are flushed, modules are cleared), it only no longer searches objects for
reference cycles a moment before the process ends. The pattern (disable early, freeze) is
the one Python's ``gc.freeze`` documentation gives for long-lived objects. Everything a
stage writes is closed before its body returns.

Only for a process that runs one stage (``python -m tabpipe.pipeline.<stage>``, see
:func:`is_stage_process`): a test session or a notebook that imports tabpipe may use
Hypothesis itself and runs on after a stage, and a module already imported is never touched.
"""

from __future__ import annotations

import gc
import sys

# Optional imports of the stages' libraries that no stage uses (module -> who imports it).
UNUSED = {"hypothesis": "pandera (data synthesis)"}


STAGE_PACKAGE = "tabpipe.pipeline"
_OPTIONS_WITH_VALUES = ("-X", "-W")  # Python's options before -m that take a separate value


def is_stage_process() -> bool:
    """True while ``python -m tabpipe.pipeline.<stage>`` locates its module.

    Python sets ``sys.argv[0]`` to ``"-m"`` while it imports the parent packages of the
    module ``-m`` names, and to the module's file once it runs it (the ``-m`` option's
    documented behaviour), so ``tabpipe.pipeline`` sees ``"-m"`` only as such a parent; and
    the interpreter's own command line (``sys.orig_argv``) must name a module of it, so
    that ``python -m`` of any other module that imports the stages is not taken for one.
    """
    if sys.argv[:1] != ["-m"]:
        return False
    module = module_run_by_m(getattr(sys, "orig_argv", []))
    return module is not None and module.startswith(f"{STAGE_PACKAGE}.")


def module_run_by_m(argv: list[str]) -> str | None:
    """The module an interpreter command line runs with ``-m``, or None (a script, ``-c``)."""
    arguments = iter(argv[1:])
    for argument in arguments:
        if argument in _OPTIONS_WITH_VALUES:
            next(arguments, None)
        elif argument == "-m":
            return next(arguments, None)
        elif argument.startswith("-m"):
            return argument[2:]
        elif argument == "-c" or not argument.startswith("-"):
            return None
    return None


def skip_unused_imports() -> list[str]:
    """Mark every module of :data:`UNUSED` not imported yet as absent; returns their names."""
    skipped = [name for name in UNUSED if name not in sys.modules]
    for name in skipped:
        sys.modules[name] = None  # type: ignore[assignment]  # documented: import raises
    return skipped


# Set by prepare_stage_process: this process runs one stage and ends after it.
_stage_process = False


def prepare_stage_process() -> None:
    """In a stage process, skip the unused imports and pause the garbage collector until
    :func:`stage_loaded`; anywhere else, nothing."""
    global _stage_process
    if is_stage_process():
        _stage_process = True
        skip_unused_imports()
        gc.disable()


def stage_loaded() -> bool:
    """In a stage process whose modules are loaded: freeze what they made, collect again.
    Anywhere else, nothing. True if it froze them."""
    if not _stage_process:
        return False
    gc.freeze()
    gc.enable()
    return True


def finish_stage_process() -> bool:
    """In a stage process whose stage is done, freeze the garbage collector's objects so
    that shutdown does not search them; anywhere else, nothing. True if it froze them."""
    if not _stage_process:
        return False
    gc.freeze()
    return True
