"""Which certificate authorities a connection trusts, decided by the connection alone.

``extra.verify`` true means the certifi bundle that ``requests`` ships with, on both transports: never
the OpenSSL default paths, which ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` in a worker's environment can
change, nor ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``.
"""

from __future__ import annotations

from typing import Literal

from airflow_provider_sdrs._core.settings import SdrsSettings


def ca_bundle(settings: SdrsSettings) -> str | Literal[False]:
    """The CA bundle file to verify servers with, or ``False`` when verification is off."""
    if settings.verify is False:
        return False
    if isinstance(settings.verify, str):
        return settings.verify
    import certifi

    return certifi.where()
