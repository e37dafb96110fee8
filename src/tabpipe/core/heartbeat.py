"""A line on a stage's output whenever the stage has been quiet for a while.

A stage says what it starts (``[split] splitting 10000000 rows``), but on millions of rows
one step can run for half a minute or more with nothing to say: pandera's checks, pandas'
grouping of identical rows, a predict over the whole training split (`docs/benchmarks.md`,
the scale section: 20-55 s apiece at 10M rows). A log silent that long reads as a hang, in a
terminal and in CI. While a stage's body runs, :func:`beating` keeps a thread that prints
``[split] still working: 30s in, 30s since "splitting 10000000 rows"`` after every
:data:`QUIET` seconds without a line of the stage's own (:func:`said` is told of each).

The thread only sleeps and prints: it takes no measurable CPU from the stage and writes no
file, so no output of the stage changes. Python runs it between the bytecodes of the stage's
thread or while a library call has released the GIL, which numpy, pandas' C loops, pyarrow
and scikit-learn's OpenMP code do; a call that holds the GIL throughout delays the line
until it returns.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

QUIET = 15.0  # seconds without a line before the stage says it is still working
_CHECK_EVERY = 1.0  # how often the thread looks at the clock


def due(now: float, said_at: float, beat_at: float, quiet: float = QUIET) -> bool:
    """Whether to print a line now: quiet for ``quiet`` seconds since the stage's last
    line (``said_at``) and since the last line this module printed (``beat_at``)."""
    return now - max(said_at, beat_at) >= quiet


class _Beat:
    def __init__(self, stage: str, out: TextIO, quiet: float) -> None:
        self.stage, self.out, self.quiet = stage, out, quiet
        self.started = self.said_at = self.beat_at = time.monotonic()
        self.last_line = ""
        self.stopped = threading.Event()

    def said(self, line: str) -> None:
        self.said_at, self.last_line = time.monotonic(), line

    def run(self) -> None:
        while not self.stopped.wait(min(_CHECK_EVERY, self.quiet)):
            now = time.monotonic()
            if due(now, self.said_at, self.beat_at, self.quiet):
                self.beat_at = now
                since = (
                    f', {now - self.said_at:.0f}s since "{self.last_line}"'
                    if self.last_line
                    else ""
                )
                # One write per line, so a line of the stage's own cannot cut into it.
                self.out.write(
                    f"[{self.stage}] still working: {now - self.started:.0f}s in{since}\n"
                )
                self.out.flush()


_current: _Beat | None = None


def said(line: str) -> None:
    """Tell the running stage's heartbeat that the stage printed ``line``."""
    beat = _current
    if beat is not None:
        beat.said(line)


@contextlib.contextmanager
def beating(stage: str, *, quiet: float = QUIET, out: TextIO | None = None) -> Iterator[None]:
    """Print a still-working line after every ``quiet`` seconds of silence until the block
    ends. ``out``: where (the standard output as the block starts, by default: a fit that
    redirects it to read a library's progress does not swallow these lines)."""
    global _current
    beat = _Beat(stage, out if out is not None else sys.stdout, quiet)
    thread = threading.Thread(target=beat.run, name=f"{stage} heartbeat", daemon=True)
    previous, _current = _current, beat
    thread.start()
    try:
        yield
    finally:
        beat.stopped.set()
        thread.join()
        _current = previous
