"""The monitoring exit statuses and which one wins when several fire."""

from tabpipe.core.exit_status import HELP, ExitStatus, combine


def test_the_codes_are_the_documented_ones():
    assert [int(s) for s in ExitStatus] == [0, 1, 2, 3, 4]
    for status in ExitStatus:
        assert f"{int(status)} " in HELP
    assert ExitStatus.SCHEMA_SKEW.kind == "schema-skew"


def test_errors_then_schema_skew_then_degradation_then_drift_win():
    assert combine([]) is ExitStatus.NONE
    assert combine([ExitStatus.DRIFT, ExitStatus.DEGRADATION]) is ExitStatus.DEGRADATION
    assert combine([ExitStatus.DRIFT, ExitStatus.SCHEMA_SKEW]) is ExitStatus.SCHEMA_SKEW
    assert combine([ExitStatus.SCHEMA_SKEW, ExitStatus.ERROR]) is ExitStatus.ERROR


def test_only_drift_and_degradation_retrain():
    assert {s for s in ExitStatus if s.retrain} == {ExitStatus.DRIFT, ExitStatus.DEGRADATION}
