"""Reading and validating an ``sdrs`` Airflow connection."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from string import Formatter
from typing import Any, Literal
from urllib.parse import urlsplit

from airflow_provider_sdrs._core.body import DEFAULT_MAX_RESPONSE_BYTES
from airflow_provider_sdrs._core.connection_form import CONN_FIELDS
from airflow_provider_sdrs._core.signing import RequestSigner
from airflow_provider_sdrs._core.trust import bundle_context
from airflow_provider_sdrs.exceptions import SdrsConfigError

AuthType = Literal["aksk", "password"]

AUTH_TYPES: tuple[str, ...] = ("aksk", "password")
DEFAULT_REGION = "eu-de"
DEFAULT_HTTP_TIMEOUT = 30.0


@dataclass(frozen=True)
class CloudProfile:
    """Where a cloud serves SDRS, IAM and its web console."""

    sdrs: str
    iam: str
    console: str


CLOUDS: dict[str, CloudProfile] = {
    "otc": CloudProfile(
        sdrs="https://sdrs.{region}.otc.t-systems.com",
        iam="https://iam.{region}.otc.t-systems.com/v3",
        console="https://console.otc.t-systems.com",
    ),
    "huaweicloud": CloudProfile(
        sdrs="https://sdrs.{region}.myhuaweicloud.com",
        iam="https://iam.{region}.myhuaweicloud.com/v3",
        console="https://console-intl.huaweicloud.com",
    ),
}

_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+){1,3}", re.ASCII)
_PROJECT_ID = re.compile(r"[A-Za-z0-9-]{1,64}", re.ASCII)
# Bounds of extra.max_response_bytes: room for a large job document, and far below a worker's memory.
MIN_RESPONSE_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 1024 * 1024 * 1024


def _strip_prefix(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Accept both ``region`` and the older form-field style ``extra__sdrs__region``."""
    cleaned: dict[str, Any] = {}
    for key, value in extra.items():
        name = key[len("extra__sdrs__") :] if key.startswith("extra__sdrs__") else key
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        cleaned[name] = value
    return cleaned


def _as_text(extra: Mapping[str, Any], key: str, conn_id: str) -> str | None:
    value = extra.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SdrsConfigError(f"extra.{key}", f"must be a string, got {type(value).__name__}", conn_id=conn_id)
    return value.strip()


def _endpoint(value: str, field_name: str, conn_id: str, *, port: int | None = None) -> str:
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SdrsConfigError(
            field_name,
            f"must be an http(s) URL such as https://sdrs.eu-de.otc.t-systems.com, got {value!r}",
            conn_id=conn_id,
        )
    if parts.username or parts.password:
        raise SdrsConfigError(field_name, "must not contain user credentials", conn_id=conn_id)
    if parts.query or parts.fragment:
        raise SdrsConfigError(field_name, "must not contain a query or fragment", conn_id=conn_id)
    netloc = parts.netloc
    if port is not None and parts.port is None:
        netloc = f"{netloc}:{port}"
    # The default port is left out, as HTTP clients leave it out of the Host header.
    default = {"https": ":443", "http": ":80"}[parts.scheme]
    if netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _verify(value: Any, conn_id: str) -> bool | str:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        # Loaded now, so that a directory or a file without certificates is named here, the same for both
        # transports, rather than failing each request differently; the context is kept for them.
        bundle_context(value, conn_id)
        return value
    raise SdrsConfigError("extra.verify", f"must be a boolean or a path, got {type(value).__name__}", conn_id=conn_id)


# Characters that cannot travel in an HTTP header, or that would end it and start another one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NOT_HEADER_TEXT = re.compile(r"[^\x20-\x7e]")


def _plain_text(value: str | None, field_name: str, conn_id: str, *, header: bool = False) -> None:
    """Refuse a control character in ``value`` (a pasted line break), and, for a value sent in an HTTP
    header, anything but printable ASCII: the two transports would encode it differently, or not at all.

    The message gives the position, never the value, which may be a secret.
    """
    if not value:
        return
    found = (_NOT_HEADER_TEXT if header else _CONTROL).search(value)
    if found is None:
        return
    char = found.group()
    kind = (
        "a line break"
        if char in "\r\n"
        else "a control character"
        if _CONTROL.fullmatch(char)
        else "a character outside printable ASCII"
    )
    where = " (it is sent in an HTTP header)" if header else ""
    raise SdrsConfigError(field_name, f"contains {kind} at position {found.start() + 1}{where}", conn_id=conn_id)


def _timeout(value: Any, conn_id: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise SdrsConfigError("extra.timeout", "must be a number of seconds, got a boolean", conn_id=conn_id)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SdrsConfigError("extra.timeout", f"must be a number of seconds, got {value!r}", conn_id=conn_id) from None
    if not 0 < seconds <= 600:
        raise SdrsConfigError("extra.timeout", f"must be between 0 and 600 seconds, got {value!r}", conn_id=conn_id)
    return seconds


def _max_response_bytes(value: Any, conn_id: str) -> int:
    if value is None:
        return DEFAULT_MAX_RESPONSE_BYTES
    number: Any = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if (
        not isinstance(number, int)
        or isinstance(number, bool)
        or not MIN_RESPONSE_BYTES <= number <= MAX_RESPONSE_BYTES
    ):
        raise SdrsConfigError(
            "extra.max_response_bytes",
            f"must be a whole number of bytes from {MIN_RESPONSE_BYTES} to {MAX_RESPONSE_BYTES}, got {value!r}",
            conn_id=conn_id,
        )
    return number


def normalise_proxy(value: str | None, conn_id: str) -> str | None:
    """The proxy URL both transports use, or ``None``.

    A proxy must name its scheme: ``host:port`` alone is read differently by different HTTP clients.
    """
    if not value:
        return None
    if "://" not in value:
        raise SdrsConfigError(
            "extra.proxy", "must be a URL with its scheme, such as http://proxy.example.com:3128", conn_id=conn_id
        )
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise SdrsConfigError(
            "extra.proxy", "has a port that is not a number from 1 to 65535", conn_id=conn_id
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SdrsConfigError("extra.proxy", "must be an http(s) proxy URL with a host name", conn_id=conn_id)
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise SdrsConfigError("extra.proxy", "must not contain a path, query or fragment", conn_id=conn_id)
    return f"{parts.scheme.lower()}://{parts.netloc}"


#: Placeholders a ``console_url`` template may use.
CONSOLE_PLACEHOLDERS = ("region", "project_id", "resource_type", "resource_id", "job_id")
_CONSOLE_SAMPLE = {name: "x" for name in CONSOLE_PLACEHOLDERS}


def check_console_url(value: str, conn_id: str) -> str:
    """Validate ``extra.console_url``: a base URL, or a template with :data:`CONSOLE_PLACEHOLDERS`.

    :raises SdrsConfigError: not an http(s) URL, or a placeholder that is not one of ours.
    """
    text = value.strip()
    if "{" in text or "}" in text:
        try:
            names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
        except ValueError as error:
            raise SdrsConfigError("extra.console_url", f"is not a valid template: {error}", conn_id=conn_id) from None
        unknown = sorted(names - set(CONSOLE_PLACEHOLDERS))
        if unknown:
            raise SdrsConfigError(
                "extra.console_url",
                f"uses unknown placeholders {unknown}; known: {', '.join(CONSOLE_PLACEHOLDERS)}",
                conn_id=conn_id,
            )
        sample = text.format(**_CONSOLE_SAMPLE)
    else:
        sample = text
    parts = urlsplit(sample)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise SdrsConfigError(
            "extra.console_url",
            f"must be an http(s) URL such as https://console.otc.t-systems.com, got {value!r}",
            conn_id=conn_id,
        )
    return text if "{" in text else text.rstrip("/")


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SdrsSettings:
    """Everything the provider needs from an ``sdrs`` connection, validated.

    Secrets are excluded from ``repr`` so that the settings can be logged safely.
    """

    conn_id: str
    auth_type: AuthType
    cloud: str
    region: str
    endpoint: str
    iam_endpoint: str
    console_url: str
    login: str
    secret: str = field(repr=False)
    project_id: str | None = None
    project_name: str | None = None
    domain_name: str | None = None
    security_token: str | None = field(default=None, repr=False)
    verify: bool | str = True
    timeout: float = DEFAULT_HTTP_TIMEOUT
    proxy: str | None = field(default=None, repr=False)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    @classmethod
    def from_connection(
        cls, conn: Any, *, extra: Mapping[str, Any] | None = None, timeout: float | None = None
    ) -> SdrsSettings:
        """Read an Airflow ``Connection`` (or anything with its attributes).

        :param conn: the connection.
        :param extra: the connection's extra, already decoded; on an event loop pass what
            ``get_async_extra_dejson`` returned, since ``conn.extra_dejson`` blocks there.
        :param timeout: a timeout that overrides the connection's ``extra.timeout``.
        :raises SdrsConfigError: a field is missing or unusable; the message names it.
        """
        conn_id = str(getattr(conn, "conn_id", None) or "sdrs_default")
        raw_extra: Any = extra
        if raw_extra is None:
            raw_extra = getattr(conn, "extra_dejson", None)
        if raw_extra is None:
            raw_extra = getattr(conn, "extra", None) or {}
        if isinstance(raw_extra, str):
            try:
                raw_extra = json.loads(raw_extra) if raw_extra.strip() else {}
            except ValueError:
                raise SdrsConfigError("extra", "is not valid JSON", conn_id=conn_id) from None
        if not isinstance(raw_extra, Mapping):
            raise SdrsConfigError("extra", "must be a JSON object", conn_id=conn_id)
        return cls.from_fields(
            conn_id=conn_id,
            host=getattr(conn, "host", None),
            port=getattr(conn, "port", None),
            login=getattr(conn, "login", None),
            password=getattr(conn, "password", None),
            extra=raw_extra,
            timeout=timeout,
        )

    @classmethod
    def from_fields(
        cls,
        *,
        conn_id: str,
        host: str | None,
        port: int | None,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any],
        timeout: float | None = None,
    ) -> SdrsSettings:
        extra = _strip_prefix(extra)
        auth_type = (_as_text(extra, "auth_type", conn_id) or "aksk").lower()
        if auth_type not in AUTH_TYPES:
            raise SdrsConfigError(
                "extra.auth_type", f"must be one of {', '.join(AUTH_TYPES)}, got {auth_type!r}", conn_id=conn_id
            )
        cloud = (_as_text(extra, "cloud", conn_id) or "otc").lower()
        if cloud not in CLOUDS:
            raise SdrsConfigError(
                "extra.cloud", f"must be one of {', '.join(sorted(CLOUDS))}, got {cloud!r}", conn_id=conn_id
            )
        region = _as_text(extra, "region", conn_id) or DEFAULT_REGION
        if not _REGION.fullmatch(region):
            raise SdrsConfigError(
                "extra.region",
                f"must be a region name such as eu-de or ap-southeast-1, got {region!r}",
                conn_id=conn_id,
            )
        profile = CLOUDS[cloud]

        login_text = (login or "").strip()
        secret = password or ""
        login_label = "login (access key)" if auth_type == "aksk" else "login (IAM user name)"
        secret_label = "password (secret key)" if auth_type == "aksk" else "password (IAM password)"
        if not login_text:
            raise SdrsConfigError(login_label, f"is required for auth_type {auth_type}", conn_id=conn_id)
        if not secret:
            raise SdrsConfigError(secret_label, f"is required for auth_type {auth_type}", conn_id=conn_id)

        # The access key and the security token travel in headers (Authorization, X-Security-Token); the
        # IAM user, domain and project names travel in a JSON body, where only control characters are wrong.
        _plain_text(login_text, login_label, conn_id, header=auth_type == "aksk")
        if auth_type == "aksk":
            _plain_text(secret, secret_label, conn_id)

        project_id = _as_text(extra, "project_id", conn_id)
        if project_id is not None and not _PROJECT_ID.fullmatch(project_id):
            raise SdrsConfigError(
                "extra.project_id", "must be 1-64 letters, digits or '-' (a 32-character hex id)", conn_id=conn_id
            )
        domain_name = _as_text(extra, "domain_name", conn_id)
        project_name = _as_text(extra, "project_name", conn_id)
        security_token = _as_text(extra, "security_token", conn_id)
        _plain_text(domain_name, "extra.domain_name", conn_id)
        _plain_text(project_name, "extra.project_name", conn_id)
        _plain_text(security_token, "extra.security_token", conn_id, header=True)
        if auth_type == "aksk":
            if not project_id:
                raise SdrsConfigError("extra.project_id", "is required for auth_type aksk", conn_id=conn_id)
        else:
            if not domain_name:
                raise SdrsConfigError(
                    "extra.domain_name",
                    "(the IAM account name) is required for auth_type password",
                    conn_id=conn_id,
                )
            if security_token:
                raise SdrsConfigError(
                    "extra.security_token",
                    "only applies to auth_type aksk (temporary access keys)",
                    conn_id=conn_id,
                )
            if not project_id and not project_name:
                project_name = region

        endpoint = (
            _endpoint(host, "host", conn_id, port=port) if host and host.strip() else profile.sdrs.format(region=region)
        )
        iam_text = _as_text(extra, "iam_endpoint", conn_id)
        iam_endpoint = (
            _endpoint(iam_text, "extra.iam_endpoint", conn_id) if iam_text else profile.iam.format(region=region)
        )
        console_text = _as_text(extra, "console_url", conn_id)
        console_url = check_console_url(console_text, conn_id) if console_text else profile.console
        proxy = normalise_proxy(_as_text(extra, "proxy", conn_id), conn_id)
        effective_timeout = timeout if timeout is not None else _timeout(extra.get("timeout"), conn_id)
        return cls(
            conn_id=conn_id,
            auth_type=auth_type,  # type: ignore[arg-type]
            cloud=cloud,
            region=region,
            endpoint=endpoint,
            iam_endpoint=iam_endpoint,
            console_url=console_url,
            login=login_text,
            secret=secret,
            project_id=project_id,
            project_name=project_name,
            domain_name=domain_name,
            security_token=security_token,
            verify=_verify(extra.get("verify"), conn_id),
            timeout=effective_timeout if effective_timeout is not None else DEFAULT_HTTP_TIMEOUT,
            proxy=proxy,
            max_response_bytes=_max_response_bytes(extra.get("max_response_bytes"), conn_id),
        )

    @cached_property
    def endpoint_parts(self) -> EndpointParts:
        parts = urlsplit(self.endpoint)
        return EndpointParts(f"{parts.scheme}://{parts.netloc}", parts.path, parts.netloc)

    @cached_property
    def signer(self) -> RequestSigner:
        """Signs this connection's AK/SK requests, with what every request shares worked out once."""
        return RequestSigner(
            access_key=self.login,
            secret_key=self.secret,
            host=self.endpoint_parts.netloc,
            security_token=self.security_token,
        )

    @property
    def cleartext_endpoints(self) -> list[str]:
        """The fields whose plain-http URL is not on loopback, so credentials would cross a network unencrypted."""
        fields = [("host", self.endpoint)]
        if self.auth_type == "password":
            fields.append(("extra.iam_endpoint", self.iam_endpoint))
        return [name for name, url in fields if url.startswith("http://") and not _is_loopback(urlsplit(url).hostname)]

    @cached_property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value of the connection, to register with the secret masker (read on every request)."""
        values = [self.secret, self.security_token or "", self.proxy or ""]
        return tuple(v for v in values if v)

    @cached_property
    def token_key(self) -> tuple[str, ...]:
        """Identifies the credentials an IAM token was issued for, without holding the password."""
        digest = hashlib.sha256(self.secret.encode("utf-8")).hexdigest()
        return (  # read on every request: computed once
            self.iam_endpoint,
            self.domain_name or "",
            self.login,
            digest,
            self.project_id or "",
            self.project_name or "",
        )


@dataclass(frozen=True)
class EndpointParts:
    origin: str
    """``scheme://host[:port]``"""
    base_path: str
    """a path prefix before ``/v1`` (usually empty)"""
    netloc: str
    """the ``Host`` header value"""


def unknown_extra_keys(extra: Mapping[str, Any]) -> list[str]:
    """Extra keys the provider does not read (not fields of the connection form); reported as a warning,
    since they may be typos."""
    return sorted(set(_strip_prefix(extra)) - CONN_FIELDS.keys())
