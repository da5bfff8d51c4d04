"""Faults to inject: what they are, which requests they hit, and the answers they give instead.

A fault is counted down as it hits; ``probability`` draws from a generator seeded at every reset, so a
run with the same requests meets the same faults.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from airflow_provider_sdrs.testing.simulator.responses import error

SEED = 20261128
#: answered by the hostile transports of :mod:`.transport`, which control the connection itself
TRANSPORT_KINDS = frozenset({"oversized", "gzip_bomb", "trickle", "black_hole", "set_cookie"})
#: answered with the usual document made hostile
HOSTILE_DOCUMENT_KINDS = frozenset({"non_finite", "deep", "huge_sub_jobs", "control_chars"})
#: act on the request as usual and change only what the client receives
AFTER_ANSWER_KINDS = frozenset({"lost_answer", "reshape"})


@dataclass
class Fault:
    """A failure to inject, ``count`` times, into the requests it matches.

    :param kind: ``status`` (answer ``status`` with an SDRS error body), ``throttle`` (429, with
        ``Retry-After: retry_after`` when given), ``html`` (``status`` with an HTML page), ``reset``
        (drop the connection without answering), ``delay`` (wait ``delay`` seconds, then answer
        normally), ``malformed`` (200 with broken JSON), ``empty`` (200 with no body), ``revoke_tokens``
        (revoke every IAM token, then authenticate as usual, so a token request gets a 401),
        ``lost_answer`` (act on the request as usual, then drop the connection instead of answering: the
        client cannot tell whether SDRS acted), ``reshape`` (answer as usual, without the keys in ``drop`` and
        with the keys of ``add``: a job document that changed shape), ``gateway_404`` (HTTP 404 from the API
        gateway with code ``code`` or ``APIGW.0101``: a route the gateway does not know right now, which says
        nothing about the job), ``other_job`` (a job read answered with the document of another job: job
        ``other_id`` when the simulator has it, else this job's document under the id ``other_id`` or a
        fresh one with fresh entity ids; a protection group or DR drill read answered with the document of
        ``other_id`` or a fresh id).
        Hostile documents, answered instead of the job (or the request's) document: ``echo`` (HTTP ``status``
        with an error body whose message echoes the request's headers and body, as a WAF or debug page
        does: the token, the security token and an IAM request's password come back), ``non_finite`` (the
        job document with ``number``, such as ``NaN``, ``Infinity`` or ``1e999``, in its entities),
        ``deep`` (the job document with an entity nested ``depth`` levels deep), ``huge_sub_jobs`` (the job
        document with ``sub_jobs`` sub-jobs), ``control_chars`` (the job document with CR/LF, ANSI escapes and
        other control characters in ``job_type``, ``error_code``, ``fail_reason`` and a sub-job, and a
        ``fail_reason`` of ``text_size`` characters).
    :param target: ``job`` (job reads), ``iam`` (token requests), ``api`` (every ``/v1`` request),
        ``submit`` (``/v1`` requests that change something: POST, PUT, DELETE) or ``any``.
    :param job_id: only requests for this job.
    :param count: how many matching requests it hits; ``-1`` for all of them until cleared.
    :param probability: the chance that it hits a matching request (drawn from the simulator's seeded
        random generator, so a run can be repeated).
    :param other_id: for ``other_job``, the id of the other job, group or drill.
    :param after: how many matching requests it lets through before it hits (for example to fail a
        job read once the job was seen).
    :param number: for ``non_finite``, the literal put in the document.
    :param depth: for ``deep``, how many arrays are nested.
    :param sub_jobs: for ``huge_sub_jobs``, how many sub-jobs the document lists.
    :param text_size: for ``control_chars``, the length of ``fail_reason``.
    :param size: bytes of the body of ``oversized`` and ``gzip_bomb`` (after decompression), and of
        ``trickle`` when not 0.
    :param part: what ``trickle`` sends slowly: ``headers`` or ``body``.
    :param body_status: the HTTP status of ``oversized``, ``gzip_bomb`` and ``trickle`` answers.
    :param cookie: the ``Set-Cookie`` value of ``set_cookie``.

    Hostile transports: ``oversized`` (a body of ``size`` bytes, streamed lazily: a JSON object, or an HTML
    page when ``body_status`` is an error), ``gzip_bomb`` (a gzip body that inflates to ``size`` bytes,
    compressed as it is sent), ``trickle`` (a complete answer whose ``part`` comes one byte every
    ``delay`` seconds), ``black_hole`` (read the request and never answer, for ``delay`` seconds or until
    the client hangs up; 300 s when ``delay`` is 0), ``set_cookie`` (answer as usual, with
    ``Set-Cookie: cookie``). Each stops as soon as the client hangs up.
    """

    kind: str
    target: str = "job"
    job_id: str | None = None
    count: int = 1
    status: int = 503
    code: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    drop: tuple[str, ...] = ()
    add: dict[str, Any] | None = None
    probability: float = 1.0
    other_id: str | None = None
    after: int = 0
    number: str = "NaN"
    depth: int = 100_000
    sub_jobs: int = 100_000
    text_size: int = 1_000_000
    size: int = 0
    part: str = "body"
    body_status: int = 200
    cookie: str = "sdrs-simulated-session=abc123; Path=/"

    KINDS = (
        "status",
        "throttle",
        "html",
        "reset",
        "delay",
        "malformed",
        "empty",
        "revoke_tokens",
        "lost_answer",
        "reshape",
        "gateway_404",
        "other_job",
        "echo",
        "non_finite",
        "deep",
        "huge_sub_jobs",
        "control_chars",
        "oversized",
        "gzip_bomb",
        "trickle",
        "black_hole",
        "set_cookie",
    )
    TARGETS = ("job", "iam", "api", "submit", "any")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"fault kind must be one of {self.KINDS}, got {self.kind!r}")
        if self.target not in self.TARGETS:
            raise ValueError(f"fault target must be one of {self.TARGETS}, got {self.target!r}")

    def matches(self, route: str, job_id: str | None, method: str = "GET") -> bool:
        if self.count == 0:
            return False
        if self.target == "any":
            hit = True
        elif self.target == "api":
            hit = route != "iam"
        elif self.target == "submit":
            hit = route == "api" and method in ("POST", "PUT", "DELETE")
        else:
            hit = self.target == route
        return hit and (self.job_id is None or self.job_id == job_id)


class FaultBook:
    """The faults in force, in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._random = random.Random(SEED)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._random = random.Random(SEED)

    def take(self, route: str, job_id: str | None, method: str) -> Fault | None:
        """The first fault that hits this request, counted down; ``None`` when none does."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(route, job_id, method) and (
                    fault.probability >= 1.0 or self._random.random() < fault.probability
                ):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    if fault.count > 0:
                        fault.count -= 1
                    return fault
        return None


def plain_answer(fault: Fault) -> web.Response:
    """The answer of a fault that needs nothing from the request: an error status, a throttle, a broken body."""
    kind = fault.kind
    if kind == "throttle":
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return error(429, "APIGW.0308", "The throttling threshold has been reached.", headers=headers)
    if kind == "html":
        page = f"<html><head><title>{fault.status} Bad Gateway</title></head><body><h1>{fault.status}</h1></body>"
        return web.Response(status=fault.status, text=page, content_type="text/html")
    if kind == "malformed":
        return web.Response(status=200, text='{"status": "RUNNING", "job_id": ', content_type="application/json")
    if kind == "empty":
        return web.Response(status=200, body=b"", content_type="application/json")
    if kind == "gateway_404":
        return error(404, fault.code or "APIGW.0101", "The API does not exist or has not been published.")
    return error(fault.status, fault.code or "SDRS.0013", "Internal error (injected by the simulator).")


def reshaped(response: web.StreamResponse, fault: Fault) -> web.StreamResponse:
    document = json_body(response)
    if document is None:
        return response
    for key in fault.drop:
        document.pop(key, None)
    document.update(fault.add or {})
    # The other headers stay: an IAM answer keeps its X-Subject-Token.
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return web.json_response(document, status=response.status, headers=headers)


async def echo(request: web.Request, fault: Fault) -> web.Response:
    """An error page that quotes the request back: its headers, its body, and the headers form-encoded."""
    body = (await request.read()).decode("utf-8", errors="replace")
    lines = [f"{request.method} {request.raw_path}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    quoted = urlencode(list(request.headers.items()))
    text = "\n".join([*lines, "", body, "", f"headers={quoted}"])
    document = {"error": {"code": fault.code or "WAF.0403", "message": f"Request blocked. Your request was:\n{text}"}}
    return web.json_response(document, status=fault.status)


_PLACEHOLDER = "__sdrs_simulator_placeholder__"


def hostile_document(document: dict[str, Any], fault: Fault) -> web.Response:
    """``document`` turned into one of the hostile answers of :class:`Fault`."""
    document = dict(document)
    entities = dict(document.get("entities") or {})
    literal = ""
    if fault.kind == "non_finite":
        entities["progress"] = _PLACEHOLDER
        literal = fault.number
    elif fault.kind == "deep":
        entities["nested"] = _PLACEHOLDER
        literal = "[" * fault.depth + "]" * fault.depth
    elif fault.kind == "huge_sub_jobs":
        status = document.get("status") or "RUNNING"
        failed = status == "FAIL"
        # As small as a sub-job can be, so that 100,000 of them fit in a few megabytes.
        subs: list[dict[str, Any]] = []
        for index in range(fault.sub_jobs):
            sub_status = ("FAIL" if index == fault.sub_jobs - 1 else "SUCCESS") if failed else status
            sub: dict[str, Any] = {"job_id": f"{index:x}", "status": sub_status}
            if sub_status == "FAIL":
                sub.update(error_code="SDRS.0206", fail_reason="The sub-job failed.")
            subs.append(sub)
        entities["sub_jobs"] = subs
    elif fault.kind == "control_chars":
        forged = (
            "\r\n[2026-01-01T00:00:00.000+0000] {sdrs.py:1} INFO - forged line\x1b[31m\x1b[2J\x00\x07\x7f\x85\u2028"
        )
        document["job_type"] = "createDisasterRecoveryDrill" + forged
        document["error_code"] = "SDRS.0206" + forged
        reason = "The drill failed." + forged
        document["fail_reason"] = reason + "x" * max(0, fault.text_size - len(reason))
        entities["sub_jobs"] = [
            {"job_id": "sub\nforged", "job_type": "drill" + forged, "status": "FAIL", "fail_reason": forged}
        ]
    document["entities"] = entities
    text = json.dumps(document, separators=(",", ":"))
    if literal:
        text = text.replace(json.dumps(_PLACEHOLDER), literal)
    return web.Response(status=200, text=text, content_type="application/json")


def json_body(response: web.StreamResponse) -> Any:
    """The JSON document of an answer built in memory, ``None`` for a streamed or empty one."""
    if not isinstance(response, web.Response) or response.body is None:
        return None
    return json.loads(bytes(response.body))  # type: ignore[arg-type]
