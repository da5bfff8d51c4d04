"""Error answers in the shapes the cloud uses: the API gateway's, SDRS's and IAM's."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from aiohttp import web

ROUTE_NOT_FOUND = ("APIGW.0101", "The API does not exist or has not been published.")


def error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """An error answer: the gateway's flat ``error_code``/``error_msg`` for ``APIGW`` codes, SDRS's
    ``{"error": {"code", "message"}}`` for the others; both with an ``X-Request-Id``."""
    request_id = hashlib.sha1(f"{time.time_ns()}".encode()).hexdigest()[:32]
    if code.startswith("APIGW"):
        body: dict[str, Any] = {"error_code": code, "error_msg": message, "request_id": request_id}
    else:
        body = {"error": {"code": code, "message": message}}
    return web.json_response(body, status=status, headers={"X-Request-Id": request_id, **(headers or {})})


def route_not_found() -> web.Response:
    """The gateway's 404 for a path or method it has no API for."""
    return error(404, *ROUTE_NOT_FOUND)


def iam_error(status: int, message: str) -> web.Response:
    """IAM (Keystone) error body: ``{"error": {"code": <HTTP status>, "message", "title"}}``."""
    title = {400: "Bad Request", 401: "Unauthorized"}.get(status, "Error")
    return web.json_response({"error": {"code": status, "message": message, "title": title}}, status=status)
