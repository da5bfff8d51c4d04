"""The API gateway's authentication of every ``/v1/...`` request, as the SDRS API reference describes it.

A request passes with a valid ``X-Auth-Token``, or with an SDK-HMAC-SHA256 signature that the gateway
recomputes from the request as received:

1. canonical request = ``METHOD\\nURI\\nQUERY\\nHEADERS\\nSIGNED_HEADERS\\nhex(sha256(body))``, where URI is
   the path with each segment percent-encoded (only ``~`` left as is) and a ``/`` at the end, QUERY the
   parameters sorted and encoded alike as ``k=v`` joined by ``&``, HEADERS one ``name:trimmed value\\n``
   per signed header, names lower-cased and sorted, and SIGNED_HEADERS those names joined by ``;``;
2. string to sign = ``SDK-HMAC-SHA256\\n{X-Sdk-Date}\\n{hex(sha256(canonical request))}``;
3. signature = ``hex(HMAC-SHA256(secret key, string to sign))``.

``X-Sdk-Date`` may differ from the gateway's clock by at most 15 minutes. Every refusal is HTTP 401
``APIGW.0301``, except an ``X-Project-Id`` that names another project than the path (403 ``APIGW.0302``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from aiohttp import web

from airflow_provider_sdrs.testing.simulator.credentials import SimulatorCredentials
from airflow_provider_sdrs.testing.simulator.iam import TokenStore
from airflow_provider_sdrs.testing.simulator.responses import error

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SKEW_LIMIT = 15 * 60


def authenticate(
    request: web.Request,
    project_id: str,
    body: bytes,
    *,
    credentials: SimulatorCredentials,
    tokens: TokenStore,
    clock_offset: float,
) -> web.Response | None:
    """The gateway's check of a request for ``project_id``; ``None`` when the request may pass."""
    token = request.headers.get("X-Auth-Token")
    if token is not None:
        if not tokens.valid(token):
            return _refused("token expired or invalid.")
        return None
    authorization = request.headers.get("Authorization")
    if not authorization:
        return _refused("no credentials.")
    fields = parse_authorization(authorization)
    if fields is None:
        return _refused("unsupported Authorization.")
    if fields["Access"] != credentials.access_key:
        return _refused("unknown access key.")
    names = fields["SignedHeaders"].split(";")
    if "host" not in names or "x-sdk-date" not in names:
        return _refused("host and x-sdk-date must be signed.")
    date = request.headers.get(DATE_HEADER, "")
    try:
        sent = datetime.strptime(date, DATE_FORMAT).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return _refused("bad x-sdk-date.")
    if abs(time.time() + clock_offset - sent) > SKEW_LIMIT:
        return _refused("the request time differs from the server time by more than 15 minutes.")
    if credentials.security_token and request.headers.get("X-Security-Token") != credentials.security_token:
        return _refused("bad security token.")
    received = {key.lower() for key in request.headers}
    missing = [name for name in names if name not in received]
    if missing:
        return _refused(f"missing {missing}.")
    raw = urlsplit(request.raw_path)
    canonical = canonical_request(
        request.method,
        raw.path,
        parse_qsl(raw.query, keep_blank_values=True),
        {name: request.headers[name] for name in names},
        body,
    )
    expected = signature(credentials.secret_key, date, canonical)
    if not hmac.compare_digest(expected, fields["Signature"]):
        return _refused("verify aksk signature fail.")
    if request.headers.get("X-Project-Id", project_id) != project_id:
        return error(403, "APIGW.0302", "The X-Project-Id header does not match the project in the path.")
    return None


def parse_authorization(value: str) -> dict[str, str] | None:
    """``SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...`` as a dict; ``None`` if malformed."""
    scheme, _, rest = value.partition(" ")
    if scheme != ALGORITHM or not rest:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = val
    if not {"Access", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields


def canonical_request(method: str, path: str, query: list[tuple[str, str]], signed: dict[str, str], body: bytes) -> str:
    """The canonical request of the steps above, from what the request says it signed."""
    segments = [_encode(segment) for segment in unquote(path).split("/")]
    uri = "/".join(segments)
    if not uri.endswith("/"):
        uri += "/"
    query_text = "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(query))
    # The gateway's proxy drops header names with an underscore, so they cannot take part in a signature.
    values = {name.lower(): value.strip() for name, value in signed.items() if "_" not in name}
    names = sorted(values)
    header_block = "".join(f"{name}:{values[name]}\n" for name in names)
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), uri, query_text, header_block, ";".join(names), body_hash])


def signature(secret_key: str, date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{date}\n{digest}"
    return hmac.new(secret_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _encode(text: str) -> str:
    return quote(text, safe="~")


def _refused(reason: str) -> web.Response:
    return error(401, "APIGW.0301", f"Incorrect IAM authentication information: {reason}")
