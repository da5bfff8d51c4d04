"""The process-wide caches have one owner, and one reset empties them all."""

from __future__ import annotations

import asyncio
import time

from airflow_provider_sdrs._core import process
from airflow_provider_sdrs._core.process import reset_process_caches
from airflow_provider_sdrs._core.settings import SdrsSettings
from airflow_provider_sdrs._core.tokens import IamToken


def _settings(auth_type: str = "password") -> SdrsSettings:
    extra = {"auth_type": auth_type, "domain_name": "acme", "project_id": "0" * 32}
    return SdrsSettings.from_fields(
        conn_id="sdrs_caches", host="http://127.0.0.1:9", port=None, login="user", password="pw-1234", extra=extra
    )


def test_the_caches_the_hooks_use_are_the_registered_ones():
    from airflow_provider_sdrs.hooks import _async, _sync, sdrs

    registered = process.caches()
    assert set(registered) == {"settings", "tokens", "pools"}
    assert registered["settings"] is sdrs.ASYNC_SETTINGS
    assert registered["tokens"] is _sync.TOKEN_CACHE is _async.TOKEN_CACHE
    assert registered["pools"] is _async.POOLS


def test_reset_empties_every_registered_cache():
    from airflow_provider_sdrs.hooks._async import POOLS

    settings = _settings()
    now = time.time()
    process.TOKEN_CACHE.put(settings.token_key, IamToken("a-token-value", now + 3600, now, "0" * 32))

    async def fill() -> list[object]:
        async def lookup() -> SdrsSettings:
            return settings

        assert await process.ASYNC_SETTINGS.get(("sdrs_caches", None), lookup) is settings
        return [lease.pool for lease in POOLS.acquire(settings).values()]

    def close(pools: list[object]) -> None:
        for pool in pools:
            pool.close()  # type: ignore[attr-defined]

    loop = asyncio.new_event_loop()
    try:
        pools = loop.run_until_complete(fill())
        filled = {name: len(cache) for name, cache in process.caches().items()}
        assert all(filled.values()), filled  # every cache holds something: the reset below has work to do
        assert filled["pools"] == 2  # SDRS and IAM are on different ports of one host
        reset_process_caches()
        assert {name: len(cache) for name, cache in process.caches().items()} == dict.fromkeys(filled, 0)
        assert process.TOKEN_CACHE.get(settings.token_key) is None
        close(pools)
    finally:
        loop.close()


def test_a_registered_cache_is_reset_with_the_others(monkeypatch):
    class Probe(dict[str, int]):
        pass

    monkeypatch.setattr(process, "_CACHES", dict(process._CACHES))
    probe = process.register("probe", Probe(a=1))
    assert process.caches()["probe"] is probe
    reset_process_caches()
    assert len(probe) == 0
