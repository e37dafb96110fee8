"""tabpipe pull: DVC's failures explained, and `dvc status` read for what is still missing."""

from tabpipe.ci.remote import explain, missing_outputs


def test_credential_and_endpoint_failures_are_translated_into_the_fix():
    assert "AWS_ACCESS_KEY_ID" in explain("ERROR: unexpected error - Unable to locate credentials")
    assert "secret key" in explain("botocore: SignatureDoesNotMatch")
    assert "endpointurl" in explain("Could not connect to the endpoint URL: http://x")
    assert "does not have the data" in explain("ERROR: failed to pull data - Checkout failed")


def test_unknown_failures_keep_dvc_s_last_error_line():
    assert explain("noise\nERROR: first\nmore\nERROR: the real one\n") == "ERROR: the real one"
    assert explain("") == "dvc failed without a message"


def test_dvc_status_entries_become_named_missing_outputs():
    status = {"data.dvc": [{"changed outs": {"data": "deleted"}}], "train": ["always changed"]}
    found = {m.target: m.problems for m in missing_outputs(status)}
    assert found == {"data.dvc": ["data: deleted"], "train": ["always changed"]}
    assert missing_outputs({}) == []
