"""IAM's ``POST /v3/auth/tokens``: project-scoped tokens for the password method ("Obtaining a User Token").

The answer is HTTP 201 with the token in ``X-Subject-Token`` and ``token.expires_at`` in the body.
IAM states times by its own clock, which may differ from the client's (``clock_offset``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator

from aiohttp import web

from airflow_provider_sdrs.testing.simulator.credentials import SimulatorCredentials
from airflow_provider_sdrs.testing.simulator.jobs import iso
from airflow_provider_sdrs.testing.simulator.responses import iam_error


class TokenStore:
    """The tokens issued so far and when each expires; iterating gives the tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self, ttl: float) -> tuple[str, float, float]:
        """A new token, with when it was issued and when it expires (epoch seconds)."""
        token = "MIIsim" + secrets.token_urlsafe(48)
        issued = time.time()
        with self._lock:
            self._expiry[token] = issued + ttl
        return token, issued, issued + ttl

    def valid(self, token: str) -> bool:
        with self._lock:
            expires = self._expiry.get(token)
        return expires is not None and expires >= time.time()

    def revoke_all(self) -> None:
        with self._lock:
            self._expiry.clear()

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._expiry))

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)


async def issue_token(
    request: web.Request, creds: SimulatorCredentials, tokens: TokenStore, *, ttl: float, clock_offset: float
) -> web.Response:
    try:
        document = json.loads(await request.read())
        identity = document["auth"]["identity"]
        user = identity["password"]["user"]
        scope = document["auth"].get("scope", {}).get("project", {})
    except (ValueError, KeyError, TypeError):
        return iam_error(400, "The request body is not a valid token request.")
    if identity.get("methods") != ["password"]:
        return iam_error(400, "Only the password method is supported by the simulator.")
    if (
        user.get("name") != creds.user
        or user.get("password") != creds.password
        or (user.get("domain") or {}).get("name") != creds.domain
    ):
        return iam_error(401, "The username or password is wrong.")
    if scope.get("id") not in (None, creds.project_id) or scope.get("name") not in (None, creds.project_name):
        return iam_error(401, "The project in the scope does not exist or is not accessible.")
    token, issued, expires = tokens.issue(ttl)
    body = {
        "token": {
            "expires_at": iso(expires + clock_offset),
            "issued_at": iso(issued + clock_offset),
            "methods": ["password"],
            "project": {"id": creds.project_id, "name": creds.project_name, "domain": {"name": creds.domain}},
            "user": {"name": creds.user, "domain": {"name": creds.domain}},
        }
    }
    return web.json_response(body, status=201, headers={"X-Subject-Token": token})
