"""``tabpipe``: one command with a subcommand per pipeline stage and per tool.

``dvc repro`` runs the stages (``python -m tabpipe.pipeline.<stage>``); this entry point runs the
same code by hand, e.g. ``tabpipe validate`` while editing the contract. Tools that are
not pipeline stages (onboarding, ingestion, monitoring, serving...) register in TOOLS.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

from tabpipe.core import threads

STAGES = ("validate", "split", "train", "evaluate", "export", "profile", "gate")

# subcommand -> module with a ``main(argv) -> int``; a stage's module is tabpipe.pipeline.<stage>
TOOLS: dict[str, str] = {
    "check": "tabpipe.core.check",
    "init": "tabpipe.onboarding.init",
    "template-update": "tabpipe.onboarding.update",
    "families": "tabpipe.core.project",
    "pull": "tabpipe.ci.remote",
    "champion": "tabpipe.release.champion",
    "registry": "tabpipe.release.registry",
    "bundle": "tabpipe.release.bundle",
    "serve": "tabpipe.serving.app",
    "predict": "tabpipe.release.predict",
    "infra-validate": "tabpipe.release.infra_validate",
    "simulate": "tabpipe.monitoring.simulate",
    "ingest": "tabpipe.monitoring.ingest",
    "drift": "tabpipe.monitoring.drift",
    "degradation": "tabpipe.monitoring.degradation",
    "monitor": "tabpipe.monitoring.monitor",
    "alert": "tabpipe.monitoring.alert",
    "record": "tabpipe.release.run_record",
    "sweep": "tabpipe.ci.sweep",
}


def stage_module(stage: str) -> str:
    """The module ``dvc.yaml`` runs for a stage: ``python -m tabpipe.pipeline.<stage>``."""
    return f"tabpipe.pipeline.{stage}"


def _module(command: str) -> str:
    return TOOLS[command] if command in TOOLS else stage_module(command)


def _main_of(command: str) -> Callable[[Sequence[str] | None], int]:
    return import_module(_module(command)).main


def _summary(command: str) -> str:
    """The first line of the command module's docstring, read without importing the module
    (help stays instant), minus its reStructuredText name prefix."""
    spec = find_spec(_module(command))
    if spec is None or spec.origin is None:
        return ""
    doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    first = re.sub(r"^(Stage )?``[^`]+``: ", "", first)
    return first[:1].upper() + first[1:]


def main(argv: Sequence[str] | None = None) -> int:
    threads.configure()  # before any command imports numpy, scikit-learn or onnxruntime
    args = list(sys.argv[1:] if argv is None else argv)
    commands = [*STAGES, *TOOLS]
    if not args or args[0] in {"-h", "--help"}:
        print("usage: tabpipe <command> [options]   (tabpipe <command> --help for details)")
        width = max(map(len, commands)) + 2
        print("\npipeline stages (dvc repro runs them in this order):")
        for name in STAGES:
            print(f"  {name:<{width}}{_summary(name)}")
        print("\ntools:")
        for name in TOOLS:
            print(f"  {name:<{width}}{_summary(name)}")
        return 0 if args else 2
    if args[0] not in commands:
        print(
            f"tabpipe: unknown command {args[0]!r}; choose one of {', '.join(commands)}",
            file=sys.stderr,
        )
        return 2
    return _main_of(args[0])(args[1:])


if __name__ == "__main__":
    sys.exit(main())
