"""The one rule both transports read response headers by."""

from __future__ import annotations

import pytest

from airflow_provider_sdrs._core.http import read_head


def merge_headers(pairs):
    headers, problem = read_head(200, pairs)
    assert problem is None
    return headers


def framing_problem(status, pairs):
    return read_head(status, pairs)[1]


def test_a_repeated_header_is_joined_as_http_combines_it():
    pairs = [("X-Request-Id", "first"), ("x-request-id", "second"), ("Content-Encoding", "gzip")]
    assert merge_headers(pairs) == {"x-request-id": "first, second", "content-encoding": "gzip"}


def test_a_folded_header_reads_as_one_line():
    assert merge_headers([("X-Request-Id", "a\r\n b")]) == {"x-request-id": "a b"}
    assert framing_problem(200, [("X-Request-Id", "a\r\n b")]) is None


@pytest.mark.parametrize(
    ("status", "pairs"),
    [
        (101, []),
        (103, []),
        (0, []),
        (1000, []),
        (200, [("Content-Length", "-1")]),
        (200, [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]),
        (200, [("Content-Length", "3"), ("Content-Length", "5")]),
        (200, [("Content-Length", "3, 5")]),
        # Equal repeated lengths: HTTP lets a client take them as one, aiohttp refuses them, so both paths do.
        (200, [("Content-Length", "5"), ("Content-Length", "5")]),
        (200, [("Content-Length", "5, 5")]),
        (200, [("X-Request-Id", "a\x00b")]),
        (200, [("X-Request-Id", "a\x1b[31m")]),
        (200, [("X-Request-Id", "a\rb")]),
    ],
)
def test_an_answer_one_http_library_refuses_is_refused(status, pairs):
    assert framing_problem(status, pairs)


@pytest.mark.parametrize(
    ("status", "pairs"),
    [
        (200, [("Content-Length", "5")]),
        (204, []),
        (599, [("X-Request-Id", "caf\xe9\tbar")]),
        (600, []),
    ],
)
def test_a_valid_answer_passes(status, pairs):
    assert framing_problem(status, pairs) is None


def test_a_control_character_is_found_in_any_header_whatever_comes_before_it():
    printable = [(f"X-Header-{index}", "caf\xe9 value") for index in range(20)]
    assert framing_problem(200, printable) is None
    for bad in ("a\x7fb", "a\x0bb", "a\x1bb"):
        problem = framing_problem(200, [*printable, ("X-Last", bad)])
        assert problem and "X-Last" in problem
    # A tab and a folded line are text, not control characters.
    assert framing_problem(200, [*printable, ("X-Last", "a\tb\r\n c")]) is None
