"""Running code inside a scratch project folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def inside(path: Path) -> Iterator[None]:
    """Make ``path`` the working directory for the duration (stages use relative paths)."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
