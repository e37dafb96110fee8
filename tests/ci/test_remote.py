"""tabpipe pull: DVC's failures explained, and `dvc status` read for what is still missing."""

import socket

from tabpipe.ci.remote import (
    Endpoint,
    behind_a_proxy,
    endpoint_of,
    explain,
    missing_outputs,
    unreachable,
)


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


def s3_remote(**settings: str) -> dict[str, object]:
    return {"core": {"remote": "team"}, "remote": {"team": {"url": "s3://b/p", **settings}}}


def test_the_endpoint_probed_is_the_remote_s_endpointurl_or_its_http_url():
    found = endpoint_of(s3_remote(endpointurl="http://minio.lan:9000"), None)
    assert found == Endpoint("team", "endpointurl", "http://minio.lan:9000", "minio.lan", 9000)
    https = {"remote": {"web": {"url": "https://data.example.org/store"}}}
    assert endpoint_of(https, "web") == Endpoint(
        "web", "url", "https://data.example.org/store", "data.example.org", 443
    )


def test_nothing_is_probed_without_a_network_endpoint_of_our_own_to_name():
    assert endpoint_of(s3_remote(), None) is None, "plain s3:// goes to AWS through botocore"
    local = {"core": {"remote": "bundled"}, "remote": {"bundled": {"url": "/srv/dvc"}}}
    assert endpoint_of(local, None) is None
    assert endpoint_of(s3_remote(endpointurl="http://h:9000"), "other") is None, "DVC names it"
    assert endpoint_of({"remote": {}}, None) is None, "no default remote"
    assert endpoint_of(s3_remote(endpointurl="http://h:port"), None) is None


def test_a_proxy_in_the_environment_in_either_case_turns_the_probe_off():
    assert behind_a_proxy({"HTTPS_PROXY": "http://proxy:3128"})
    assert behind_a_proxy({"all_proxy": "socks5://proxy:1080"})
    assert not behind_a_proxy({"HTTPS_PROXY": "", "PATH": "/bin"})


def test_a_listening_port_is_reachable_and_a_closed_one_is_named():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert unreachable(Endpoint("r", "endpointurl", "u", "127.0.0.1", port)) is None
    why = unreachable(Endpoint("r", "endpointurl", "u", "127.0.0.1", port))
    assert why is not None and f"127.0.0.1:{port}" in why


def test_an_unknown_host_is_named(monkeypatch):
    def no_such_host(address, timeout):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_such_host)
    why = unreachable(Endpoint("r", "endpointurl", "u", "minio.typo", 9000))
    assert why == "the host 'minio.typo' is not known"
