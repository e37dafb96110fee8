"""``tabpipe``: one command with a subcommand per pipeline stage.

``dvc repro`` runs the stages (``python -m tabpipe.<stage>``); this entry point runs the
same code by hand, e.g. ``tabpipe validate`` while editing the contract.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib import import_module

STAGES = ("validate", "split", "train", "evaluate", "export")


def _stage_main(name: str) -> Callable[[Sequence[str] | None], int]:
    return import_module(f"tabpipe.{name}").main


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print("usage: tabpipe <command> [--params PARAMS]\n\ncommands:")
        for name in STAGES:
            doc = (import_module(f"tabpipe.{name}").__doc__ or "").strip().splitlines()[0]
            print(f"  {name:<10} {doc}")
        return 0 if args else 2
    if args[0] not in STAGES:
        print(
            f"tabpipe: unknown command {args[0]!r}; choose one of {', '.join(STAGES)}",
            file=sys.stderr,
        )
        return 2
    return _stage_main(args[0])(args[1:])


if __name__ == "__main__":
    sys.exit(main())
