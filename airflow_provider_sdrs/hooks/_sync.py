"""Runs core exchanges over ``requests``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from airflow_provider_sdrs._core.exchange import (
    Exchange,
    IamToken,
    NeedToken,
    Send,
    Sleep,
    iam_exchange,
    token_failure,
)
from airflow_provider_sdrs._core.http import FailureKind, HttpRequest, HttpResponse, TransportFailure
from airflow_provider_sdrs._core.logs import Log
from airflow_provider_sdrs._core.retry import RetryPolicy
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.tokens import TOKEN_CACHE
from airflow_provider_sdrs.exceptions import SdrsError


class RequestsTransport:
    """One ``requests.Session`` (and so one connection pool) per hook."""

    def __init__(self, settings: SdrsSettings) -> None:
        self.settings = settings
        self.session = requests.Session()
        self.session.verify = settings.verify
        if settings.proxy:
            self.session.proxies = {"http": settings.proxy, "https": settings.proxy}

    def send(self, request: HttpRequest) -> HttpResponse | TransportFailure:
        try:
            response = self.session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=self.settings.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout as exc:
            return TransportFailure("connect", f"{type(exc).__name__}: {exc}")
        except requests.exceptions.SSLError as exc:
            return TransportFailure("connect", f"TLS error: {exc}")
        except requests.exceptions.ReadTimeout as exc:
            return TransportFailure("timeout", f"no answer within {self.settings.timeout:g} s: {exc}")
        except requests.exceptions.ConnectionError as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            kind: FailureKind = "connect" if isinstance(reason, NewConnectionError) else "reset"
            return TransportFailure(kind, f"{type(exc).__name__}: {exc}")
        except requests.exceptions.RequestException as exc:
            return TransportFailure("protocol", f"{type(exc).__name__}: {exc}")
        headers = {name.lower(): value for name, value in response.headers.items()}
        return HttpResponse(response.status_code, headers, response.content)

    def close(self) -> None:
        self.session.close()


def run_sync(
    exchange: Exchange,
    transport: RequestsTransport,
    get_token: Callable[[IamToken | None], IamToken] | None = None,
) -> Any:
    """Drive ``exchange`` to its result, blocking."""
    result: Any = None
    try:
        while True:
            step = exchange.send(result)
            if isinstance(step, Send):
                result = transport.send(step.request)
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
                result = None
            elif isinstance(step, NeedToken):
                if get_token is None:
                    raise RuntimeError("this exchange needs no token")
                try:
                    result = get_token(step.stale)
                except SdrsError as error:
                    raise token_failure(error, step) from None
            else:  # pragma: no cover - the core yields nothing else
                raise TypeError(f"unknown step {step!r}")
    except StopIteration as done:
        return done.value


def sync_token(
    settings: SdrsSettings,
    transport: RequestsTransport,
    policy: RetryPolicy,
    log: Log,
    on_new_token: Callable[[IamToken], None],
) -> Callable[[IamToken | None], IamToken]:
    """A token source for :func:`run_sync` backed by the process-wide cache."""
    key = settings.token_key

    def get_token(stale: IamToken | None) -> IamToken:
        with TOKEN_CACHE.thread_lock(key):
            if stale is not None:
                TOKEN_CACHE.discard(key, stale)
            token = TOKEN_CACHE.get(key)
            if token is None:
                log.info("Requesting an IAM token for user %r at %s", settings.login, settings.iam_endpoint)
                token = run_sync(iam_exchange(settings, policy, log), transport)
                on_new_token(token)
                TOKEN_CACHE.put(key, token)
            return token

    return get_token
