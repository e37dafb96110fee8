"""What the monitoring commands' exit status means, so a workflow can branch on it.

One status per command run; when several triggers fire at once, the one needing the
most attention wins: an error, then schema skew (a human must look; retraining on broken
data would be wrong), then degradation, then drift (both retrain).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitStatus(IntEnum):
    NONE = 0
    ERROR = 1
    SCHEMA_SKEW = 2
    DRIFT = 3
    DEGRADATION = 4

    @property
    def kind(self) -> str:
        """The trigger's name in reports, issue titles and workflow outputs."""
        return self.name.lower().replace("_", "-")

    @property
    def retrain(self) -> bool:
        return self in (ExitStatus.DRIFT, ExitStatus.DEGRADATION)


PRECEDENCE = (
    ExitStatus.ERROR,
    ExitStatus.SCHEMA_SKEW,
    ExitStatus.DEGRADATION,
    ExitStatus.DRIFT,
    ExitStatus.NONE,
)

HELP = (
    "exit status: 0 nothing fired; 1 error (bad arguments, missing files); "
    "2 schema skew: the data breaks the contract (stop, a human must look); "
    "3 drift beyond a threshold (retrain); 4 performance degradation beyond a threshold "
    "(retrain). When several fire, the first of 1, 2, 4, 3 is returned."
)


def combine(statuses: Iterable[ExitStatus]) -> ExitStatus:
    present = set(statuses)
    return next((status for status in PRECEDENCE if status in present), ExitStatus.NONE)
