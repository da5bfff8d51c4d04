"""Making text that came from a server safe to log, raise, store and show.

Everything a server sends is hostile: it can forge log lines with CR/LF, repaint a terminal with ANSI
escapes, blow up a message with megabytes, or echo the request (and with it a token or a password) back
in an error page. :func:`clean` escapes control characters and clips; :func:`scrub` removes the
connection's secrets in every form a server may echo them in; :func:`safe` does both, in the order that
leaves no part of a secret behind.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, urlsplit

__all__ = [
    "DEFAULT_LIMIT",
    "clean",
    "forget_secrets",
    "remember_secret",
    "safe",
    "scrub",
    "secret_forms",
]

#: Characters of server text kept in one message, after escaping.
DEFAULT_LIMIT = 1000
# Secrets shorter than this are not scrubbed: replacing every "abc" in a message would garble it.
MIN_SECRET_LENGTH = 4
# Remembered secrets (connection secrets and IAM tokens) kept per process; the oldest are forgotten.
MAX_REMEMBERED = 256

# C0 controls (CR, LF, TAB, ESC...), DEL, C1 controls, the Unicode line and paragraph separators that
# some log viewers also break lines on, and lone surrogates (JSON can carry them; UTF-8 log files cannot).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# The scheme's length is bounded so that the search stays linear on a megabyte of letters.
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,31}://)[^/@\s]+@")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` on one line, with control characters escaped, at most ``limit`` characters long.

    Idempotent: cleaning clean text with the same limit changes nothing, so a value cleaned when it was
    read can be written out and read again unchanged. Clipped text ends with a marker giving the
    original length. The work is bounded by ``limit``, not by the size of ``text``.

    :param text: the text (anything else is turned into text first).
    :param limit: the most characters to return; at least 40.
    """
    if not isinstance(text, str):
        text = str(text)
    limit = max(40, limit)
    # Look at no more than the part that can survive the clipping.
    head = text[: limit + 1]
    escaped = _CONTROL.sub(_escape, head) if _CONTROL.search(head) else head
    if len(text) <= limit and len(escaped) <= limit:
        return escaped
    marker = f"...[clipped, {len(text)} chars]"
    return escaped[: limit - len(marker)] + marker


# -- secrets ------------------------------------------------------------------------------------------


def secret_forms(secret: str) -> set[str]:
    """The forms a server may echo ``secret`` in: as is, JSON-escaped, URL-encoded, HTML-escaped.

    A URL with credentials (a proxy) also gives its password, its ``user:password`` and the Basic
    authentication value built from them.
    """
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return set()
    escaped = json.dumps(secret)[1:-1]
    forms = {
        secret,
        escaped,
        # Some servers also escape "/" in JSON strings.
        escaped.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
    }
    with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate has no URL form
        forms |= {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    if "://" in secret and "@" in secret:
        try:
            parts = urlsplit(secret)
            user, password = parts.username, parts.password
        except ValueError:
            user = password = None
        if password:
            plain = unquote(password)
            userinfo = f"{unquote(user or '')}:{plain}"
            forms |= secret_forms(plain) | {password, userinfo}
            forms.add(base64.b64encode(userinfo.encode("utf-8")).decode("ascii"))
    # Control characters in a secret come out escaped once the text is cleaned.
    forms |= {clean(form, len(form) * 4 + 40) for form in list(forms)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class _Secrets:
    """Secret values this process has used (connection secrets, IAM tokens), most recent last.

    Exceptions and job documents are built far from the connection; the secrets remembered here are
    scrubbed from them all the same.
    """

    def __init__(self) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        self._version = 0

    def remember(self, value: str) -> None:
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._values:
                self._values.move_to_end(value)
                return
            self._values[value] = None
            while len(self._values) > MAX_REMEMBERED:
                self._values.popitem(last=False)
            self._pattern = None

    def forget(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                self._pattern = _compile(self._values)
            return self._pattern


_REMEMBERED = _Secrets()
_PATTERNS: OrderedDict[tuple[str, ...], re.Pattern[str] | None] = OrderedDict()
_PATTERNS_LOCK = threading.Lock()


def _compile(secrets: Iterable[str]) -> re.Pattern[str] | None:
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret)
    if not forms:
        return None
    # Longest first, so that a form containing another is removed whole.
    ordered = sorted(forms, key=lambda form: (-len(form), form))
    return re.compile("|".join(re.escape(form) for form in ordered), re.IGNORECASE)


def _pattern_for(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    with _PATTERNS_LOCK:
        if secrets in _PATTERNS:
            _PATTERNS.move_to_end(secrets)
            return _PATTERNS[secrets]
    pattern = _compile(secrets)
    with _PATTERNS_LOCK:
        _PATTERNS[secrets] = pattern
        while len(_PATTERNS) > 64:
            _PATTERNS.popitem(last=False)
    return pattern


def remember_secret(value: str | None) -> None:
    """Scrub ``value`` (a connection secret, an IAM token) from every later :func:`scrub` in this process."""
    if value:
        _REMEMBERED.remember(value)


def forget_secrets() -> None:
    """Forget the remembered secrets (for tests)."""
    _REMEMBERED.forget()


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URL credentials, ``secrets`` or any remembered secret, in any of their forms.

    :param text: the text, typically built from a server's answer.
    :param secrets: secrets to remove besides the remembered ones (the connection's, a token).
    """
    if "://" in text:
        text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    given = tuple(sorted({secret for secret in secrets if secret and len(secret) >= MIN_SECRET_LENGTH}))
    for pattern in (_pattern_for(given) if given else None, _REMEMBERED.pattern()):
        if pattern is not None:
            text = pattern.sub("***", text)
    return text


def safe(text: object, limit: int = DEFAULT_LIMIT, secrets: Iterable[str] = ()) -> str:
    """``text`` scrubbed of secrets, then cleaned and clipped to ``limit`` characters.

    Secrets are scrubbed before the clipping, over a margin past it, so that the cut cannot leave the
    start of a secret behind.
    """
    if not isinstance(text, str):
        text = str(text)
    # IAM tokens run to several thousand characters.
    margin = limit + 16384
    return clean(scrub(text[:margin], secrets), limit)
