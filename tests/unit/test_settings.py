from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_sdrs._core.settings import SdrsSettings, unknown_extra_keys
from airflow_provider_sdrs.exceptions import SdrsConfigError

PROJECT = "0123456789abcdef0123456789abcdef"


def settings(host=None, login="AK", password="SK", port=None, **extra):
    return SdrsSettings.from_fields(
        conn_id="sdrs_test", host=host, port=port, login=login, password=password, extra=extra
    )


def test_aksk_defaults_to_open_telekom_cloud_eu_de():
    s = settings(project_id=PROJECT)
    assert s.auth_type == "aksk"
    assert s.endpoint == "https://sdrs.eu-de.otc.t-systems.com"
    assert s.iam_endpoint == "https://iam.eu-de.otc.t-systems.com/v3"
    assert s.verify is True
    assert s.timeout == 30.0


def test_huawei_cloud_endpoints_follow_the_region():
    s = settings(project_id=PROJECT, cloud="huaweicloud", region="ap-southeast-1")
    assert s.endpoint == "https://sdrs.ap-southeast-1.myhuaweicloud.com"
    assert s.iam_endpoint == "https://iam.ap-southeast-1.myhuaweicloud.com/v3"


def test_host_override_keeps_scheme_and_adds_port():
    assert settings("http://127.0.0.1:8080/", project_id=PROJECT).endpoint == "http://127.0.0.1:8080"
    assert settings("sdrs.example.test", port=9443, project_id=PROJECT).endpoint == "https://sdrs.example.test:9443"


def test_password_auth_scopes_to_the_region_by_default():
    s = settings(auth_type="password", domain_name="acme", region="eu-nl")
    assert s.project_id is None
    assert s.project_name == "eu-nl"


def test_form_prefixed_extras_are_understood():
    s = settings(**{"extra__sdrs__project_id": PROJECT, "extra__sdrs__region": "eu-nl"})
    assert (s.project_id, s.region) == (PROJECT, "eu-nl")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"auth_type": "oauth", "project_id": PROJECT}, "extra.auth_type"),
        ({"cloud": "aws", "project_id": PROJECT}, "extra.cloud"),
        ({"region": "EU DE", "project_id": PROJECT}, "extra.region"),
        ({"region": "eu-de/../x", "project_id": PROJECT}, "extra.region"),
        ({}, "extra.project_id"),
        ({"project_id": "a/b"}, "extra.project_id"),
        ({"login": "", "project_id": PROJECT}, "login (access key)"),
        ({"password": "", "project_id": PROJECT}, "password (secret key)"),
        ({"password": None, "auth_type": "password", "domain_name": "d"}, "password (IAM password)"),
        ({"auth_type": "password"}, "extra.domain_name"),
        ({"auth_type": "password", "domain_name": "d", "security_token": "t"}, "extra.security_token"),
        ({"host": "ftp://x", "project_id": PROJECT}, "host"),
        ({"host": "https://user:pw@x", "project_id": PROJECT}, "host"),
        ({"iam_endpoint": "not a url://", "project_id": PROJECT}, "extra.iam_endpoint"),
        ({"verify": "/no/such/ca.pem", "project_id": PROJECT}, "extra.verify"),
        ({"verify": 3, "project_id": PROJECT}, "extra.verify"),
        ({"timeout": "soon", "project_id": PROJECT}, "extra.timeout"),
        ({"timeout": -1, "project_id": PROJECT}, "extra.timeout"),
        ({"proxy": "socks5://p:1080", "project_id": PROJECT}, "extra.proxy"),
        ({"region": 5, "project_id": PROJECT}, "extra.region"),
    ],
)
def test_bad_connections_name_the_field(kwargs, field):
    with pytest.raises(SdrsConfigError) as info:
        settings(**kwargs)
    assert info.value.field == field
    assert f"'{field}'" in str(info.value)
    assert "sdrs_test" in str(info.value)


def test_secrets_stay_out_of_repr():
    s = settings(
        project_id=PROJECT, password="TOPSECRET-sk", security_token="TOPSECRET-st", proxy="http://u:TOPSECRET-p@px:3128"
    )
    assert "TOPSECRET" not in repr(s)
    assert set(s.secrets) == {"TOPSECRET-sk", "TOPSECRET-st", "http://u:TOPSECRET-p@px:3128"}
    assert all("TOPSECRET" not in part for part in s.token_key)


def test_verify_accepts_booleans_strings_and_ca_paths(tmp_path):
    import certifi

    ca = tmp_path / "ca.pem"
    ca.write_bytes(Path(certifi.where()).read_bytes())
    assert settings(project_id=PROJECT, verify="false").verify is False
    assert settings(project_id=PROJECT, verify=True).verify is True
    assert settings(project_id=PROJECT, verify=str(ca)).verify == str(ca)


def test_the_default_port_is_left_out_of_the_endpoint():
    assert settings("https://sdrs.example.test", port=443, project_id=PROJECT).endpoint == "https://sdrs.example.test"
    assert settings("http://127.0.0.1:80/base", project_id=PROJECT).endpoint == "http://127.0.0.1/base"
    assert settings("http://127.0.0.1", port=8080, project_id=PROJECT).endpoint == "http://127.0.0.1:8080"


def test_console_url_may_be_a_deep_link_template_with_known_placeholders_only():
    template = "https://console.example.test/sdrs/?region={region}#/{resource_type}/{resource_id}"
    assert settings(project_id=PROJECT, console_url=template).console_url == template
    with pytest.raises(SdrsConfigError, match=r"extra\.console_url.*password"):
        settings(project_id=PROJECT, console_url="https://console.example.test/{password}")
    with pytest.raises(SdrsConfigError, match=r"extra\.console_url"):
        settings(project_id=PROJECT, console_url="ftp://{region}")


def test_unknown_extra_keys_are_reported():
    assert unknown_extra_keys({"region": "eu-de", "projectid": "x", "extra__sdrs__cloud": "otc"}) == ["projectid"]


def test_from_connection_reads_an_airflow_connection():
    from airflow.providers.common.compat.sdk import Connection

    conn = Connection(
        conn_id="c1", conn_type="sdrs", login="AK", password="SK", extra=json.dumps({"project_id": PROJECT})
    )
    s = SdrsSettings.from_connection(conn, timeout=5)
    assert (s.conn_id, s.login, s.timeout) == ("c1", "AK", 5)


def test_from_connection_refuses_extra_that_is_not_json():
    class Conn:
        conn_id, host, port, login, password, extra = "c2", None, None, "AK", "SK", "{not json"

    with pytest.raises(SdrsConfigError, match="'extra'"):
        SdrsSettings.from_connection(Conn())
