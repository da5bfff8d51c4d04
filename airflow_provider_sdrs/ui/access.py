"""Who is asking, and what they may read: Airflow's own authentication and authorization.

Airflow does not protect a plugin's endpoints by itself. Every endpoint depends on :func:`signed_in`
(Airflow's ``get_user``: a JWT from the ``Authorization`` header or the UI's session cookie; none gives
401), and filters what it shows with the auth manager: DAGs the user may read, connections the user may read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends

from airflow_provider_sdrs.ui.settings import UiSettings


def _auth_manager() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


@dataclass
class Access:
    """The signed-in user and what they may read."""

    user: Any
    dag_ids: frozenset[str]

    def can_read_connection(self, conn_id: str) -> bool:
        from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

        return bool(
            _auth_manager().is_authorized_connection(
                method="GET", details=ConnectionDetails(conn_id=conn_id), user=self.user
            )
        )

    def dag_ids_for(self, entity: str) -> frozenset[str]:
        """The DAGs whose ``entity`` (``TASK_INSTANCE``, ``XCOM``) the user may read: none without the right to
        read that entity at all, as Airflow's own list endpoints decide."""
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

        if not self.dag_ids:
            return frozenset()
        allowed = _auth_manager().is_authorized_dag(
            method="GET", access_entity=DagAccessEntity[entity], details=DagDetails(id=None), user=self.user
        )
        return self.dag_ids if allowed else frozenset()

    def can_read_task_instances(self, dag_id: str) -> bool:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

        return dag_id in self.dag_ids and bool(
            _auth_manager().is_authorized_dag(
                method="GET",
                access_entity=DagAccessEntity.TASK_INSTANCE,
                details=DagDetails(id=dag_id),
                user=self.user,
            )
        )


def signed_in(user: GetUserDep) -> Access:
    """FastAPI dependency: the signed-in user (else Airflow's 401 or 403) and the DAGs they may read."""
    dag_ids = _auth_manager().get_authorized_dag_ids(user=user, method="GET")
    return Access(user=user, dag_ids=frozenset(dag_ids))


def connection_ids(settings: UiSettings) -> list[str]:
    """The connections the page shows (before filtering by the user's rights)."""
    if settings.connections:
        return list(settings.connections)
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        found: list[str] = list(
            session.scalars(
                select(Connection.conn_id).where(Connection.conn_type == "sdrs").order_by(Connection.conn_id)
            )
        )
    if "sdrs_default" not in found and _defined_elsewhere("sdrs_default"):
        found.insert(0, "sdrs_default")
    return found


def _defined_elsewhere(conn_id: str) -> bool:
    """Whether a secrets backend or an ``AIRFLOW_CONN_*`` variable defines the connection."""
    from airflow.models.connection import Connection

    try:
        Connection.get_connection_from_secrets(conn_id)
    except Exception:
        return False
    return True


#: The signed-in user and their rights, for a route's parameters.
AccessDep = Annotated[Access, Depends(signed_in)]
