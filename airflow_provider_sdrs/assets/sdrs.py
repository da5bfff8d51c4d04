"""The ``sdrs://`` asset URI scheme, and helpers that build SDRS assets.

An SDRS asset names one protection group or DR drill, or all the protection groups of a project::

    sdrs://{region}/{project_id}/server-groups/{server_group_id}
    sdrs://{region}/{project_id}/disaster-recovery-drills/{drill_id}
    sdrs://{region}/{project_id}/server-groups

Airflow calls :func:`sanitize_uri` (registered under ``asset-uris`` in the provider info) whenever an
``Asset`` with this scheme is made: it lower-cases the region, the project id and UUID-shaped resource ids,
accepts ``protection-groups`` and ``drills`` for the collection names, and refuses (``ValueError``, which
Airflow reports as an import error of the DAG file) a URI that cannot name an SDRS resource. So two spellings
of one group are one asset, and a DAG scheduled on it runs whichever spelling the producer used.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Asset

__all__ = ["SCHEME", "drill_asset", "is_sdrs_uri", "protection_group_asset", "sanitize_uri", "sdrs_uri"]

SCHEME = "sdrs"
GROUPS = "server-groups"
DRILLS = "disaster-recovery-drills"
#: Collection names accepted in a URI, and the one each is written as.
_COLLECTIONS = {
    GROUPS: GROUPS,
    "protection-groups": GROUPS,
    DRILLS: DRILLS,
    "drills": DRILLS,
}
# eu-de, eu-nl, eu-ch2, ap-southeast-1, cn-north-4...: what a connection's region may be.
_REGION = re.compile(r"[a-z]{2}(?:-[a-z0-9]+){1,3}", re.ASCII)
# IAM project ids are 32 hexadecimal characters.
_PROJECT = re.compile(r"[0-9a-f]{32}")
_RESOURCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SHOWN = 100


def _refuse(uri: str, why: str) -> ValueError:
    shown = uri if len(uri) <= _SHOWN else uri[:_SHOWN] + "..."
    return ValueError(
        f"invalid SDRS asset URI {shown!r}: {why}; expected sdrs://{{region}}/{{project_id}}/server-groups/{{id}} "
        "or sdrs://{region}/{project_id}/disaster-recovery-drills/{id}"
    )


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Normalise an ``sdrs://`` URI, or raise ``ValueError`` saying what is wrong with it (Airflow's
    asset-URI handler contract: a ``SplitResult`` in, a ``SplitResult`` out)."""
    text = uri.geturl()
    if uri.scheme.lower() != SCHEME:
        raise _refuse(text, f"the scheme must be {SCHEME!r}")
    if "@" in uri.netloc or ":" in uri.netloc:
        raise _refuse(text, "the host part is the region alone: no user, password or port")
    if uri.query:
        raise _refuse(text, "no query is allowed")
    region = uri.netloc.lower()
    if not _REGION.fullmatch(region):
        raise _refuse(text, f"{uri.netloc!r} is not a region such as eu-de")
    parts = uri.path.strip("/").split("/") if uri.path.strip("/") else []
    if len(parts) not in (2, 3):
        raise _refuse(text, "the path must be /{project_id}/{collection}[/{id}]")
    project_id = parts[0].lower()
    if not _PROJECT.fullmatch(project_id):
        raise _refuse(text, f"{parts[0]!r} is not a project id (32 hexadecimal characters)")
    collection = _COLLECTIONS.get(parts[1].lower())
    if collection is None:
        raise _refuse(text, f"{parts[1]!r} is not server-groups or disaster-recovery-drills")
    path = [project_id, collection]
    if len(parts) == 3:
        resource_id = parts[2]
        if not _RESOURCE_ID.fullmatch(resource_id):
            raise _refuse(text, f"{resource_id!r} is not a resource id")
        path.append(resource_id.lower() if _UUID.fullmatch(resource_id) else resource_id)
    elif collection != GROUPS:
        raise _refuse(text, "only server-groups may be named without an id (every group of the project)")
    return uri._replace(scheme=SCHEME, netloc=region, path="/" + "/".join(path), query="", fragment="")


def sdrs_uri(*, region: str, project_id: str, server_group_id: str | None = None, drill_id: str | None = None) -> str:
    """The normalised URI of a protection group, a DR drill, or (neither id given) every group of a project.

    :raises ValueError: the parts cannot make an SDRS asset URI; the message says which.
    """
    if server_group_id is not None and drill_id is not None:
        raise ValueError("give server_group_id or drill_id, not both")
    for field, value in (("server_group_id", server_group_id), ("drill_id", drill_id)):
        # Checked before the URI is built: an empty id would name every group, and "id#x" the group "id".
        if value is not None and not (isinstance(value, str) and _RESOURCE_ID.fullmatch(value)):
            raise ValueError(f"{field} must be an SDRS id (letters, digits, '-' and '_'), got {value!r:.100}")
    if drill_id is not None:
        tail = f"{DRILLS}/{drill_id}"
    elif server_group_id is not None:
        tail = f"{GROUPS}/{server_group_id}"
    else:
        tail = GROUPS
    return sanitize_uri(urlsplit(f"{SCHEME}://{region}/{project_id}/{tail}")).geturl()


def is_sdrs_uri(uri: object) -> bool:
    """Whether ``uri`` is a string with the ``sdrs`` scheme (what the operators give outlet extras to)."""
    return isinstance(uri, str) and uri[: len(SCHEME) + 3].lower() == f"{SCHEME}://"


def protection_group_asset(
    server_group_id: str, *, region: str, project_id: str, name: str | None = None, **asset_kwargs: Any
) -> Asset:
    """An ``Asset`` for one protection group, named ``sdrs-group-{id}`` unless ``name`` is given.

    :param asset_kwargs: passed to ``Asset`` (``watchers``, ``group``, ``extra``).
    """
    from airflow.sdk import Asset

    uri = sdrs_uri(region=region, project_id=project_id, server_group_id=server_group_id)
    return Asset(name=name or f"sdrs-group-{uri.rsplit('/', 1)[1]}", uri=uri, **asset_kwargs)


def drill_asset(drill_id: str, *, region: str, project_id: str, name: str | None = None, **asset_kwargs: Any) -> Asset:
    """An ``Asset`` for one DR drill, named ``sdrs-drill-{id}`` unless ``name`` is given."""
    from airflow.sdk import Asset

    uri = sdrs_uri(region=region, project_id=project_id, drill_id=drill_id)
    return Asset(name=name or f"sdrs-drill-{uri.rsplit('/', 1)[1]}", uri=uri, **asset_kwargs)
