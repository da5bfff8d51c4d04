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

# A long secret is also looked for in pieces of PIECE characters, taken at most MAX_PIECES times along
# it: a server that folds it across lines, clips it or breaks it with escapes still shows whole pieces,
# and from a piece the match is extended both ways across the folds. Any echoed stretch of a long secret
# longer than its piece spacing plus a piece (31 characters, 110 for a 6 KB IAM token) is found, and
# the search costs one pass over the text however many secrets there are.
PIECE = 16
LONG_SECRET = 24
MAX_PIECES = 64
# What a server folds a long value with: blanks and line breaks, as they are or escaped (once or more).
_FOLD = re.compile(r"(?:\s|\\+[nrt])+")
# Secrets whose forms are kept ready for the secrets passed to scrub() (connection secrets, tokens).
_CACHED_SECRETS = 256
# Short texts found free of every remembered secret: a job's type, ids and status come back on every poll,
# and are checked again only when a new secret is remembered.
_MEMO_TEXT = 256
_MEMO_SIZE = 8192


def _escaped(text: str) -> set[str]:
    json_escaped = json.dumps(text)[1:-1]
    return {
        json_escaped,
        # Some servers also escape "/" in JSON strings.
        json_escaped.replace("/", "\\/"),
        json.dumps(text, ensure_ascii=False)[1:-1],
        html.escape(text),
        html.escape(text, quote=False),
    }


def secret_forms(secret: str) -> set[str]:
    """The forms a server may echo ``secret`` in: as is, JSON-escaped, URL-encoded, HTML-escaped.

    Escaped twice as well (a JSON request body quoted in a JSON or HTML error page). A URL with
    credentials (a proxy) also gives its password, its ``user:password`` and the Basic authentication
    value built from them.
    """
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return set()
    forms = {secret, *_escaped(secret)}
    with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate has no URL form
        forms |= {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    for form in list(forms):
        if form != secret:
            forms |= _escaped(form)
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


class _Forms:
    """One spelling (as is, or lower case) of a secret's forms, ready to be looked for.

    :ivar short: forms shorter than a piece, looked for whole.
    :ivar pieces: piece -> the forms it is taken from, with its offset in each.
    """

    __slots__ = ("pieces", "short")

    def __init__(self, forms: Iterable[str]) -> None:
        short: list[str] = []
        pieces: dict[str, list[tuple[str, int]]] = {}
        for form in sorted(set(forms)):
            if len(form) < PIECE:
                short.append(form)
                continue
            last = len(form) - PIECE
            step = max(PIECE, -(-last // (MAX_PIECES - 1)))
            for offset in {*range(0, last + 1, step), last}:
                pieces.setdefault(form[offset : offset + PIECE], []).append((form, offset))
        self.short = tuple(short)
        self.pieces = {piece: tuple(places) for piece, places in pieces.items()}


def _lower_char(char: str) -> str:
    lowered = char.lower()
    return lowered if len(lowered) == 1 else char


def _blind(text: str) -> str:
    """``text`` in lower case, character for character, so that positions in it are positions in ``text``.

    The search is blind to case (%2f and %2F, an upper-cased header). The few characters whose lower case
    is longer ("İ") stay as they are.
    """
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else "".join(map(_lower_char, text))


class _Secret:
    __slots__ = ("lower",)

    def __init__(self, value: str) -> None:
        self.lower = _Forms(_blind(form) for form in secret_forms(value))


class _Secrets:
    """Secret values this process has used (connection secrets, IAM tokens), most recent last.

    Exceptions and job documents are built far from the connection; the secrets remembered here are
    scrubbed from them all the same. A new secret adds its own pieces to the index, and the oldest one
    past ``MAX_REMEMBERED`` takes its pieces away: nothing is rebuilt over all of them.
    """

    def __init__(self) -> None:
        self._values: OrderedDict[str, _Secret] = OrderedDict()
        self._lock = threading.Lock()
        # Lower-case pieces of every remembered secret -> the secrets they come from.
        self._index: dict[str, list[_Secret]] = {}
        self._short: tuple[str, ...] = ()
        # Texts known to hold none of the remembered secrets; emptied whenever a secret is added.
        self.clean_texts: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, value: str) -> bool:
        return value in self._values

    def remember(self, value: str) -> None:
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._values:
                self._values.move_to_end(value)
                return
        secret = _secret(value)
        with self._lock:
            if value in self._values:
                return
            self._values[value] = secret
            self.clean_texts = OrderedDict()
            for piece in secret.lower.pieces:
                self._index.setdefault(piece, []).append(secret)
            while len(self._values) > MAX_REMEMBERED:
                _, old = self._values.popitem(last=False)
                for piece in old.lower.pieces:
                    holders = self._index[piece]
                    holders.remove(old)
                    if not holders:
                        del self._index[piece]
            self._short = tuple({form: None for s in self._values.values() for form in s.lower.short})

    def forget(self) -> None:
        with self._lock:
            self._values.clear()
            self._index.clear()
            self._short = ()
            self.clean_texts = OrderedDict()

    def look_up(self, windows: set[str]) -> list[tuple[str, tuple[_Secret, ...]]]:
        """The remembered secrets' lower-case pieces among ``windows``, each with its secrets."""
        with self._lock:
            return [(piece, tuple(self._index[piece])) for piece in self._index.keys() & windows]

    @property
    def short(self) -> tuple[str, ...]:
        return self._short

    def __bool__(self) -> bool:
        return bool(self._values)


_REMEMBERED = _Secrets()
_KNOWN: OrderedDict[str, _Secret] = OrderedDict()
_KNOWN_LOCK = threading.Lock()


def _secret(value: str) -> _Secret:
    """The forms of ``value``, built once for the values scrubbed often."""
    with _KNOWN_LOCK:
        secret = _KNOWN.get(value)
        if secret is not None:
            _KNOWN.move_to_end(value)
            return secret
    secret = _Secret(value)
    with _KNOWN_LOCK:
        _KNOWN[value] = secret
        while len(_KNOWN) > _CACHED_SECRETS:
            _KNOWN.popitem(last=False)
    return secret


def remember_secret(value: str | None) -> None:
    """Scrub ``value`` (a connection secret, an IAM token) from every later :func:`scrub` in this process."""
    if value:
        _REMEMBERED.remember(value)


def forget_secrets() -> None:
    """Forget the remembered secrets (for tests)."""
    _REMEMBERED.forget()


def _run(text: str, at: int, form: str, offset: int) -> int:
    """How many characters of ``form`` from ``offset`` on ``text`` repeats from ``at``."""
    done, step = 0, 256
    while step:
        part = form[offset + done : offset + done + step]
        if part and text.startswith(part, at + done):
            done += len(part)
            if len(part) < step:
                break
        else:
            step >>= 1
    return done


def _run_back(text: str, at: int, form: str, offset: int) -> int:
    """How many characters of ``form`` before ``offset`` ``text`` repeats before ``at``."""
    done, step = 0, 256
    while step:
        part = form[max(0, offset - done - step) : offset - done]
        if part and text.endswith(part, 0, at - done):
            done += len(part)
            if len(part) < step:
                break
        else:
            step >>= 1
    return done


def _fold_before(text: str, at: int) -> int:
    """Where the fold (blanks, escaped line breaks) that ends at ``at`` starts; ``at`` when there is none."""
    while at > 0:
        if text[at - 1].isspace():
            at -= 1
        elif at > 1 and text[at - 1] in "nrt" and text[at - 2] == "\\":
            at -= 2
            while at > 0 and text[at - 1] == "\\":
                at -= 1
        else:
            break
    return at


def _extend(text: str, at: int, form: str, offset: int) -> tuple[int, int, int]:
    """The stretch of ``text`` around a piece of ``form`` found at ``at`` that spells ``form``, folds skipped.

    :returns: its start and end in ``text``, and how many characters of ``form`` it holds.
    """
    end, right = at, offset
    while True:
        run = _run(text, end, form, right)
        end, right = end + run, right + run
        if right >= len(form):
            break
        fold = _FOLD.match(text, end)
        if fold is None or not text.startswith(form[right], fold.end()):
            break
        end = fold.end()
    start, left = at, offset
    while left > 0:
        run = _run_back(text, start, form, left)
        start, left = start - run, left - run
        if left <= 0:
            break
        before = _fold_before(text, start)
        if before == start or not text.endswith(form[left - 1], 0, before):
            break
        start = before
    return start, end, right - left


def _find(
    text: str,
    windows: set[str],
    pieces: dict[str, tuple[tuple[str, int], ...]],
    spans: list[tuple[int, int]],
    covered: bytearray,
    found: Iterable[str] | None = None,
) -> None:
    """Add to ``spans`` the stretches of ``text`` that spell one of the forms ``pieces`` come from.

    :param covered: 1 for each character of ``text`` already in a span; a piece found there is not
        extended again (a repetitive secret in a repetitive text would cost a pass per piece and form).
    """
    for piece in found if found is not None else pieces.keys() & windows:
        for form, offset in pieces.get(piece, ()):
            at = text.find(piece)
            while at >= 0:
                if covered[at] and covered[at + PIECE - 1]:
                    at = covered.find(0, at)
                    at = text.find(piece, at) if at >= 0 else -1
                    continue
                start, end, length = _extend(text, at, form, offset)
                if length >= len(form) or len(form) >= LONG_SECRET:
                    spans.append((start, end))
                    covered[start:end] = b"\x01" * (end - start)
                # What the stretch covers is gone already; a later echo starts past it.
                at = text.find(piece, max(at + 1, end))


def _spans(text: str, given: list[_Secret]) -> list[tuple[int, int]]:
    """Where ``text`` holds a secret (``given`` or remembered), in any form, whole or folded."""
    haystack = _blind(text)
    spans: list[tuple[int, int]] = []
    shorts = _REMEMBERED.short
    if given:
        shorts = (*shorts, *(form for secret in given for form in secret.lower.short))
    for form in shorts:
        at = haystack.find(form)
        while at >= 0:
            spans.append((at, at + len(form)))
            at = haystack.find(form, at + len(form))
    if len(haystack) < PIECE:
        return spans
    windows = {haystack[i : i + PIECE] for i in range(len(haystack) - PIECE + 1)}
    found = _REMEMBERED.look_up(windows)
    if not found and not given:
        return spans
    covered = bytearray(len(haystack))
    for secret in given:
        _find(haystack, windows, secret.lower.pieces, spans, covered)
    for piece, holders in found:
        for secret in holders:
            _find(haystack, windows, secret.lower.pieces, spans, covered, (piece,))
    return spans


def strip_url_credentials(text: str) -> str:
    """Replace ``user:password@`` in any URL inside ``text`` with ``***@``."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", text) if "://" in text else text


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URL credentials, ``secrets`` or any remembered secret, in any of their forms.

    :param text: the text, typically built from a server's answer.
    :param secrets: secrets to remove besides the remembered ones (the connection's, a token).
    """
    text = strip_url_credentials(text)
    given = (
        [
            _secret(secret)
            for secret in {secret for secret in secrets if secret and len(secret) >= MIN_SECRET_LENGTH}
            if secret not in _REMEMBERED
        ]
        if secrets
        else []
    )
    if not given and not _REMEMBERED:
        return text
    memo = _REMEMBERED.clean_texts if not given and len(text) <= _MEMO_TEXT else None
    if memo is not None and text in memo:
        return text
    spans = _spans(text, given)
    if not spans:
        if memo is not None:
            memo[text] = None
            if len(memo) > _MEMO_SIZE:
                memo.popitem(last=False)
        return text
    spans.sort()
    parts: list[str] = []
    done = 0
    for start, end in spans:
        if end <= done:
            continue
        if start > done:
            parts.append(text[done:start])
            parts.append("***")
        elif not parts:
            parts.append("***")
        done = end
    parts.append(text[done:])
    return "".join(parts)


def safe(text: object, limit: int = DEFAULT_LIMIT, secrets: Iterable[str] = ()) -> str:
    """``text`` scrubbed of secrets, then cleaned and clipped to ``limit`` characters.

    Secrets are scrubbed before the clipping, over a margin past it, so that the cut cannot leave the
    start of a secret behind.
    """
    if not isinstance(text, str):
        text = str(text)
    elif not secrets and len(text) <= limit and text in _REMEMBERED.clean_texts and not _CONTROL.search(text):
        # Known free of every remembered secret, with nothing to escape or clip: a job's id, type and
        # status come back like this on every poll.
        return text
    # IAM tokens run to several thousand characters.
    margin = limit + 16384
    return clean(scrub(text[:margin], secrets), limit)
