"""Declared routes: (method, path template) -> handler, matched in order, first match wins.

A template is a path whose ``{name}`` parts match one non-empty segment and whose ``{name:regex}`` parts
match ``regex``; the handler gets them by name. A route's ``name`` is what faults target and what the
simulator's counters count (``iam``, ``job``, ``api``, or the name of a route added by a test or the
benchmark). ``authenticated`` routes pass the gateway's check first (:mod:`.gateway`) and are answered
only for the simulator's project.

A request no route matches gets the gateway's 404 ``APIGW.0101``, without authentication, and counts as
``other``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from aiohttp import web

from airflow_provider_sdrs.testing.simulator import api

if TYPE_CHECKING:
    from airflow_provider_sdrs.testing.simulator.server import SdrsSimulator

#: ``async def handler(simulator, request, params) -> response``
Handler = Callable[["SdrsSimulator", web.Request, dict[str, str]], Awaitable[web.StreamResponse]]
H = TypeVar("H")
_PART = re.compile(r"\{(\w+)(?::([^{}]+))?\}")
UNMATCHED = "other"


@dataclass(frozen=True)
class Route(Generic[H]):
    method: str
    path: str
    handler: H
    name: str = "api"
    authenticated: bool = False
    doc: str = ""
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", compile_path(self.path))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path's parameters when this route answers ``method path``, else ``None``."""
        if self.method not in ("*", method):
            return None
        found = self.regex.fullmatch(path)
        return found.groupdict() if found else None


def compile_path(template: str) -> re.Pattern[str]:
    pattern, end = [], 0
    for part in _PART.finditer(template):
        pattern.append(re.escape(template[end : part.start()]))
        pattern.append(f"(?P<{part.group(1)}>{part.group(2) or '[^/]+'})")
        end = part.end()
    pattern.append(re.escape(template[end:]))
    return re.compile("".join(pattern))


def first_match(routes: Iterable[Route[H]], method: str, path: str) -> tuple[Route[H], dict[str, str]] | None:
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


_PROJECT = "/v1/{project_id}"

#: What the simulator serves, from the IAM and SDRS API references.
SDRS_ROUTES: tuple[Route[Handler], ...] = (
    # The IAM endpoint of a connection may sit under any prefix, so the path is matched by its end.
    Route("POST", "{prefix:.*}/v3/auth/tokens{slash:/*}", api.issue_token, name="iam"),
    Route("GET", _PROJECT + "/jobs/{job_id}", api.get_job, name="job", authenticated=True),
    Route("GET", _PROJECT + "/sdrs/quotas", api.get_quotas, authenticated=True),
    Route("GET", _PROJECT + "/server-groups", api.list_groups, authenticated=True),
    Route("POST", _PROJECT + "/server-groups", api.create_group, authenticated=True),
    Route("GET", _PROJECT + "/server-groups/{group_id}", api.get_group, authenticated=True),
    Route("DELETE", _PROJECT + "/server-groups/{group_id}", api.delete_group, authenticated=True),
    Route("POST", _PROJECT + "/server-groups/{group_id}/action", api.group_action, authenticated=True),
    Route("GET", _PROJECT + "/disaster-recovery-drills", api.list_drills, authenticated=True),
    Route("POST", _PROJECT + "/disaster-recovery-drills", api.create_drill, authenticated=True),
    Route("GET", _PROJECT + "/disaster-recovery-drills/{drill_id}", api.get_drill, authenticated=True),
    Route("GET", _PROJECT + "/task-center/failure-jobs", api.list_failure_jobs, authenticated=True),
    Route("DELETE", _PROJECT + "/disaster-recovery-drills/{drill_id}", api.delete_drill, authenticated=True),
    # Any other path of the project: the gateway still authenticates it before it answers 404.
    Route("*", "/v1/{project_id:[^/]*}{rest:(?:/.*)?}", api.not_found, authenticated=True),
)
