"""Which certificate authorities a connection trusts, decided by the connection alone.

``extra.verify`` true means the certifi bundle that ``requests`` ships with, on both transports: never
the OpenSSL default paths, which ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` in a worker's environment can
change, nor ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``.

Both transports get their TLS context from :func:`tls_context`, built by hand: ``ssl.create_default_context``
and urllib3's own contexts read ``SSLKEYLOGFILE`` and would write every session's keys (and with them the
IAM password and the tokens) wherever the worker's environment says.
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Literal

from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs.exceptions import SdrsConfigError


def ca_bundle(settings: SdrsSettings) -> str | Literal[False]:
    """The CA bundle file to verify servers with, or ``False`` when verification is off."""
    if settings.verify is False:
        return False
    if isinstance(settings.verify, str):
        return settings.verify
    import certifi

    return certifi.where()


_CONTEXTS: dict[tuple[object, ...], ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()
# Distinct bundles a process keeps contexts for; a worker talks to a handful of connections.
_MAX_CONTEXTS = 32


def tls_context(settings: SdrsSettings) -> ssl.SSLContext:
    """A client TLS context that trusts the connection's CA bundle only (or verifies nothing for
    ``verify=false``) and never logs session keys.

    Contexts are shared per bundle file and version of it: loading a bundle costs milliseconds, and
    every hook would pay it.

    :raises SdrsConfigError: the bundle can no longer be read as certificates.
    """
    bundle = ca_bundle(settings)
    if bundle is False:
        key: tuple[object, ...] = (False,)
    else:
        try:
            stat = os.stat(bundle)
        except OSError as error:
            raise SdrsConfigError(
                "extra.verify", f"cannot be read: {error.strerror}", conn_id=settings.conn_id
            ) from None
        key = (bundle, stat.st_mtime_ns, stat.st_size)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
    if context is not None:
        return context
    context = _build(bundle, settings.conn_id)
    with _CONTEXTS_LOCK:
        if len(_CONTEXTS) >= _MAX_CONTEXTS:
            _CONTEXTS.clear()
        _CONTEXTS[key] = context
    return context


def _build(bundle: str | Literal[False], conn_id: str) -> ssl.SSLContext:
    # SSLContext() itself reads no environment variable, unlike ssl.create_default_context().
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.hostname_checks_common_name = False
    if bundle is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        context.load_verify_locations(cafile=bundle)
    except (OSError, ssl.SSLError) as error:
        raise SdrsConfigError(
            "extra.verify", f"is not a readable bundle of PEM certificates ({error})", conn_id=conn_id
        ) from None
    return context
