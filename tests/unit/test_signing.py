"""Our AK/SK signatures must equal those of the reference signer (huaweicloudsdkcore)."""

from __future__ import annotations

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from airflow_provider_sdrs._core import signing
from airflow_provider_sdrs._core.exchange import ApiCall, build_api_request
from airflow_provider_sdrs._core.settings import SdrsSettings

AK, SK = "HPUAEXAMPLEACCESSKEY", "qE9xEXAMPLEsecretKEY/with+chars="
DATE = "20260401T120000Z"

CASES = [
    ("GET", "/v1/0123456789abcdef0123456789abcdef/jobs/0000000062db92d70162db9d200f000a", [], None, {}),
    ("GET", "/v1/p/server-groups", [("limit", "10"), ("offset", "0"), ("name", "a b&c=d")], None, {}),
    ("GET", "/v1/p/disaster-recovery-drills", [("server_group_id", "x"), ("a", "2"), ("a", "1")], None, {}),
    ("GET", "/v1/p/reserved/%3A%40%21%24%26%27%28%29%2A%2B%2C%3B%3D", [], None, {}),
    ("GET", "/v1/p/unicode/%C3%BCber-%E7%81%BE%E5%A4%87", [("q", "Zürich 灾备")], None, {}),
    ("GET", "/v1/p/tilde~and-dash_/", [("k~", "v~*")], None, {}),
    ("POST", "/v1/p/disaster-recovery-drills", [], b'{"disaster_recovery_drill":{"name":"drill-1"}}', {}),
    ("DELETE", "/v1/p/protected-instances/abc", [], b'{"delete_target_server":false}', {}),
    (
        "POST",
        "/v1/p/server-groups/g/action",
        [],
        '{"name":"ünïcode"}'.encode(),
        {"X-Security-Token": "tmp-token-value"},
    ),
]


def reference_authorization(method, path, query, body, extra_headers, *, host="sdrs.eu-de.otc.t-systems.com"):
    headers = {"X-Sdk-Date": DATE, "Host": host, "X-Project-Id": "p", **extra_headers}
    if body:
        headers["Content-Type"] = "application/json;charset=UTF-8"
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=dict(headers),
        body=body or "",
    )
    Signer(BasicCredentials(ak=AK, sk=SK)).sign(request)
    return request.header_params["Authorization"], headers


@pytest.mark.parametrize(("method", "path", "query", "body", "extra"), CASES)
def test_signature_matches_reference_signer(method, path, query, body, extra):
    expected, headers = reference_authorization(method, path, query, body, extra)
    ours = signing.authorization(
        access_key=AK, secret_key=SK, method=method, path=path, query=query, headers=headers, body=body
    )
    assert ours == expected


def test_a_different_secret_gives_a_different_signature():
    expected, headers = reference_authorization(*CASES[0])
    ours = signing.authorization(
        access_key=AK, secret_key=SK + "x", method="GET", path=CASES[0][1], query=[], headers=headers, body=None
    )
    assert ours != expected


@pytest.mark.parametrize("security_token", [None, "temporary-security-token"])
def test_hook_requests_are_signed_like_the_reference(security_token):
    settings = SdrsSettings.from_fields(
        conn_id="c",
        host="https://sdrs.eu-de.otc.t-systems.com:8443",
        port=None,
        login=AK,
        password=SK,
        extra={"project_id": "0123456789abcdef0123456789abcdef", "security_token": security_token},
    )
    call = ApiCall(
        "GET", ("disaster-recovery-drills",), "list drills", query=(("server_group_id", "g-1"), ("limit", "5"))
    )
    from datetime import datetime, timezone

    request = build_api_request(
        settings, call, project_id=settings.project_id, token=None, now=datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)
    )
    assert request.headers["X-Sdk-Date"] == DATE
    assert request.url.endswith(
        "/v1/0123456789abcdef0123456789abcdef/disaster-recovery-drills?limit=5&server_group_id=g-1"
    )
    signed_headers = {k: v for k, v in request.headers.items() if k not in ("Authorization", "User-Agent", "Accept")}
    sdk = SdkRequest(
        method="GET",
        schema="https",
        host="sdrs.eu-de.otc.t-systems.com:8443",
        resource_path="/v1/0123456789abcdef0123456789abcdef/disaster-recovery-drills",
        query_params=[("server_group_id", "g-1"), ("limit", "5")],
        header_params=dict(signed_headers),
        body="",
    )
    Signer(BasicCredentials(ak=AK, sk=SK)).sign(sdk)
    assert request.headers["Authorization"] == sdk.header_params["Authorization"]
    assert ("X-Security-Token" in request.headers) == bool(security_token)
    if security_token:
        assert "x-security-token" in request.headers["Authorization"]


def test_canonical_uri_always_ends_with_a_slash():
    assert signing.canonical_uri("/v1/p/jobs/1") == "/v1/p/jobs/1/"
    assert signing.canonical_uri("/v1/p/jobs/1/") == "/v1/p/jobs/1/"


def test_parse_authorization_rejects_other_schemes():
    assert signing.parse_authorization("Bearer abc") is None
    assert signing.parse_authorization("SDK-HMAC-SHA256 Access=a, SignedHeaders=host") is None
    fields = signing.parse_authorization("SDK-HMAC-SHA256 Access=a, SignedHeaders=host;x-sdk-date, Signature=ff")
    assert fields == {"Access": "a", "SignedHeaders": "host;x-sdk-date", "Signature": "ff"}


@pytest.mark.parametrize(("method", "path", "query", "body", "extra"), CASES)
def test_the_connection_signer_signs_like_the_reference(method, path, query, body, extra):
    # The hook signs with RequestSigner, which writes the canonical headers out itself: it must agree
    # with the reference signer on every kind of request, with and without a security token.
    expected, _ = reference_authorization(method, path, query, body, extra, host="sdrs.example.test:8443")
    signer = signing.RequestSigner(
        access_key=AK,
        secret_key=SK,
        host="sdrs.example.test:8443",
        security_token=extra.get("X-Security-Token"),
    )
    assert signer.authorization(method, path, query, "p", DATE, body) == expected


def test_a_post_built_by_the_hook_is_signed_like_the_reference():
    settings = SdrsSettings.from_fields(
        conn_id="c",
        host="https://sdrs.eu-de.otc.t-systems.com",
        port=None,
        login=AK,
        password=SK,
        extra={"project_id": "0123456789abcdef0123456789abcdef", "security_token": "tmp-token-value"},
    )
    call = ApiCall("POST", ("server-groups", "g-1", "action"), "fail over", body={"failover": {}}, idempotent=False)
    from datetime import datetime, timezone

    request = build_api_request(
        settings, call, project_id=settings.project_id, token=None, now=datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)
    )
    signed = {k: v for k, v in request.headers.items() if k not in ("Authorization", "User-Agent", "Accept")}
    assert set(signed) == {"Host", "X-Sdk-Date", "X-Project-Id", "X-Security-Token", "Content-Type"}
    sdk = SdkRequest(
        method="POST",
        schema="https",
        host="sdrs.eu-de.otc.t-systems.com",
        resource_path="/v1/0123456789abcdef0123456789abcdef/server-groups/g-1/action",
        query_params=[],
        header_params=dict(signed),
        body=request.body,
    )
    Signer(BasicCredentials(ak=AK, sk=SK)).sign(sdk)
    assert request.headers["Authorization"] == sdk.header_params["Authorization"]


def test_the_date_is_that_of_the_current_second():
    import time

    before = time.strftime(signing.DATE_FORMAT, time.gmtime())
    date = signing.sdk_date()
    after = time.strftime(signing.DATE_FORMAT, time.gmtime())
    assert before <= date <= after
