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
from typing import TYPE_CHECKING, Literal

from airflow_provider_sdrs.exceptions import SdrsConfigError

if TYPE_CHECKING:
    from airflow_provider_sdrs._core.settings import SdrsSettings

# A CA bundle far larger than any real one (certifi's is about 300 KB) is not read into memory.
MAX_CA_BUNDLE_BYTES = 16 * 1024 * 1024
_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


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

    :raises SdrsConfigError: the bundle can no longer be read as certificates.
    """
    return bundle_context(ca_bundle(settings), settings.conn_id)


def bundle_context(bundle: str | Literal[False], conn_id: str) -> ssl.SSLContext:
    """The TLS context for ``bundle`` (a CA file, or ``False`` for no verification), shared per file and
    version of it: loading a bundle costs milliseconds, and every hook would pay it.

    :raises SdrsConfigError: naming ``extra.verify``, when ``bundle`` is not a readable file of PEM
        certificates (a directory, another kind of file, one too large).
    """
    if bundle is False:
        key: tuple[object, ...] = (False,)
    else:
        try:
            stat = os.stat(bundle)
        except OSError:
            raise _not_a_bundle(f"no file at {bundle!r}", conn_id) from None
        key = (bundle, stat.st_mtime_ns, stat.st_size)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
    if context is not None:
        return context
    context = _build(bundle, conn_id)
    with _CONTEXTS_LOCK:
        if len(_CONTEXTS) >= _MAX_CONTEXTS:
            _CONTEXTS.clear()
        _CONTEXTS[key] = context
    return context


def _not_a_bundle(problem: str, conn_id: str) -> SdrsConfigError:
    return SdrsConfigError(
        "extra.verify", f"must be true, false or the path of a CA bundle file; {problem}", conn_id=conn_id
    )


def _build(bundle: str | Literal[False], conn_id: str) -> ssl.SSLContext:
    # SSLContext() itself reads no environment variable, unlike ssl.create_default_context().
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.hostname_checks_common_name = False
    if bundle is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if not os.path.isfile(bundle):
        raise _not_a_bundle(f"{bundle!r} is not a file (a directory of certificates is not supported)", conn_id)
    try:
        with open(bundle, "rb") as handle:
            data = handle.read(MAX_CA_BUNDLE_BYTES + 1)
    except OSError as error:
        raise _not_a_bundle(f"{bundle!r} cannot be read ({error.strerror})", conn_id) from None
    if len(data) > MAX_CA_BUNDLE_BYTES:
        raise _not_a_bundle(f"{bundle!r} is larger than {MAX_CA_BUNDLE_BYTES} bytes", conn_id)
    if _PEM_CERTIFICATE not in data:
        raise _not_a_bundle(f"{bundle!r} holds no PEM certificate ({_PEM_CERTIFICATE.decode()})", conn_id)
    try:
        context.load_verify_locations(cafile=bundle)
    except (OSError, ssl.SSLError) as error:
        raise _not_a_bundle(f"{bundle!r} is not a valid bundle of PEM certificates ({error})", conn_id) from None
    return context
