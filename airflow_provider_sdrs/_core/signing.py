"""SDK-HMAC-SHA256 request signing (AK/SK), as the SDRS API gateway verifies it.

The algorithm, step by step:

1. canonical request = ``METHOD\\nURI\\nQUERY\\nHEADERS\\nSIGNED_HEADERS\\nhex(sha256(body))`` where URI is
   each path segment percent-encoded (only ``~`` left as is) and always ends in ``/``; QUERY is the
   parameters sorted and encoded the same way; HEADERS is ``name:value\\n`` per signed header, names
   lower-cased and sorted;
2. string to sign = ``SDK-HMAC-SHA256\\n{X-Sdk-Date}\\n{hex(sha256(canonical request))}``;
3. signature = ``hex(HMAC-SHA256(secret key, string to sign))``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


# Text that percent-encoding leaves as it is: unreserved characters (letters, digits, "-", ".", "_", "~").
# Ids and fixed words, which make up every path and most queries, are such text.
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*", re.ASCII)
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9._~/-]*", re.ASCII)
# The date of the current second, written once per second rather than once per request.
_DATES: dict[int, str] = {}


def sdk_date(now: datetime | None = None) -> str:
    """The ``X-Sdk-Date`` value for ``now`` (UTC)."""
    if now is None:
        second = int(time.time())
        text = _DATES.get(second)
        if text is None:
            text = time.strftime(DATE_FORMAT, time.gmtime(second))
            _DATES.clear()
            _DATES[second] = text
        return text
    moment = now
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(DATE_FORMAT)


def encode(value: str) -> str:
    """Percent-encode as the signer does: everything but unreserved characters and ``~``."""
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """The path as signed: each segment decoded then re-encoded, with a trailing ``/``."""
    if _UNRESERVED_PATH.fullmatch(path):
        # No "%" to decode and nothing to encode: the path is its own canonical form.
        return path if path.endswith("/") else path + "/"
    segments = [encode(segment) for segment in unquote(path).split("/")]
    uri = "/".join(segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Query parameters sorted by key then value, each encoded, joined with ``&``."""
    return "&".join(f"{encode(key)}={encode(value)}" for key, value in sorted(params))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    # The gateway ignores header names with an underscore when it verifies a signature.
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes | None,
) -> tuple[str, list[str]]:
    """Return the canonical request and the list of signed header names."""
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    names = signed_header_names(headers)
    header_block = "".join(f"{name}:{lowered[name]}\n" for name in names)
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    text = "\n".join(
        [method.upper(), canonical_uri(path), canonical_query(query), header_block, ";".join(names), body_hash]
    )
    return text, names


def signature(secret_key: str, date: str, canonical: str) -> str:
    return signature_with_key(secret_key.encode("utf-8"), date, canonical)


def signature_with_key(key: bytes, date: str, canonical: str) -> str:
    string_to_sign = f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    return hmac.digest(key, string_to_sign.encode("utf-8"), "sha256").hex()


def authorization(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes | None,
) -> str:
    """The ``Authorization`` header value for a request whose headers already hold ``X-Sdk-Date``.

    :param headers: every header to sign (``Host``, ``X-Sdk-Date``, ``X-Project-Id``...).
    """
    date = next((v for k, v in headers.items() if k.lower() == DATE_HEADER.lower()), None)
    if date is None:
        raise ValueError(f"{DATE_HEADER} must be set before signing")
    canonical, names = canonical_request(method, path, query, headers, body)
    sig = signature(secret_key, date, canonical)
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={sig}"


class RequestSigner:
    """Signs the provider's own requests for one connection: :func:`authorization`, with its constants
    worked out once.

    Every request the provider signs carries the same signed headers: ``Host`` (the connection's),
    ``X-Project-Id``, ``X-Sdk-Date``, ``X-Security-Token`` when the connection has one, and
    ``Content-Type`` with a body. Their canonical block is written straight out, in the order
    :func:`canonical_request` sorts them into; the result is the same ``Authorization`` value.

    :param host: the ``Host`` header value.
    """

    __slots__ = ("_access", "_host", "_key", "_names", "_names_with_body", "_token")

    def __init__(self, *, access_key: str, secret_key: str, host: str, security_token: str | None = None) -> None:
        self._access = access_key
        self._key = secret_key.encode("utf-8")
        self._host = f"host:{host.strip()}\n"
        self._token = f"x-security-token:{security_token.strip()}\n" if security_token else ""
        names = ["host", "x-project-id", "x-sdk-date"] + (["x-security-token"] if security_token else [])
        self._names = ";".join(names)
        self._names_with_body = ";".join(sorted([*names, "content-type"]))

    def authorization(
        self, method: str, path: str, query: Iterable[tuple[str, str]], project_id: str, date: str, body: bytes | None
    ) -> str:
        """The ``Authorization`` value for a request with this connection's headers, ``X-Project-Id``
        ``project_id``, ``X-Sdk-Date`` ``date`` and, with a body, ``Content-Type`` :data:`JSON_CONTENT_TYPE`."""
        common = f"x-project-id:{project_id.strip()}\nx-sdk-date:{date.strip()}\n{self._token}"
        if body:
            headers = f"content-type:{JSON_CONTENT_TYPE}\n{self._host}{common}"
            names = self._names_with_body
            body_hash = hashlib.sha256(body).hexdigest()
        else:
            headers = f"{self._host}{common}"
            names = self._names
            body_hash = EMPTY_BODY_SHA256
        canonical = (
            f"{method.upper()}\n{canonical_uri(path)}\n{canonical_query(query)}\n{headers}\n{names}\n{body_hash}"
        )
        sig = signature_with_key(self._key, date, canonical)
        return f"{ALGORITHM} Access={self._access}, SignedHeaders={names}, Signature={sig}"


def parse_authorization(value: str) -> dict[str, str] | None:
    """Split an ``Authorization`` header into ``Access``, ``SignedHeaders`` and ``Signature``."""
    prefix = ALGORITHM + " "
    if not value.startswith(prefix):
        return None
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = val
    if not {"Access", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields
