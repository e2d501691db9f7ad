"""Edit an origin's Content-Security-Policy so that our tracker element, and nothing else, may run.

Vernier inserts one external ``<script src="/__vernier/t.js?v=…" defer="" nonce="N">`` and the script
sends beacons to ``/__vernier/e`` on the page's origin. Several policies intersect (CSP3 §8.1): a
looser extra header cannot help, every enforced policy must itself allow our element — in headers
and in ``<meta>``. The edit is the smallest one that does:

- **Script element.** Its effective directive is ``script-src-elem``, then ``script-src``, then
  ``default-src`` (CSP3 §6.8.1). Our per-response nonce goes into ``script-src-elem`` and
  ``script-src`` where present (browsers without ``script-src-elem`` read ``script-src``); with
  neither, a new ``script-src`` copies ``default-src`` and adds the nonce — ``default-src`` itself
  stays as it is, since it also governs images, frames, fonts… Without any of the three, scripts are
  unrestricted.
- **Never break inline scripts.** A nonce or hash in a list switches off that list's
  ``'unsafe-inline'`` (CSP3 §6.7.3.3), which would block every inline script and handler of a site
  that relies on it. Where ``'unsafe-inline'`` is in force we add ``'self'`` instead (if the list
  does not already admit same-origin URLs): a page that runs any injected inline script gains no
  exposure from same-origin script URLs.
- **Beacons.** ``fetch``/``sendBeacon`` are governed by ``connect-src``, then ``default-src``;
  where they do not already admit the same origin (``'self'``, ``*``, ``http:``) the caller's
  ``connect_source`` is added, again via a new ``connect-src`` when only ``default-src`` exists.
- ``'none'`` alone is replaced by what we add; an empty list means the same as ``'none'``
  (CSP3 §6.7.2.5). ``'strict-dynamic'``, hashes and other nonces are kept. Nothing is ever removed,
  and ``'unsafe-inline'``/``'unsafe-eval'`` are never added (OWASP CSP cheat sheet; SE-05).

Everything else is kept byte for byte: directive order and case, unknown directives, reporting,
whitespace; later duplicates of a directive are ignored by browsers ("first wins", CSP3 §2.2.1) and
left alone. Fail closed: anything outside the grammar (non-ASCII, control characters, an invalid
directive name) returns ``None`` — the caller must then not inject.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["allow_tracker", "edit_policies", "make_nonce"]

_HEADER_VALUE = re.compile(r"[\x21-\x7e \t]*")
"""A header value: visible ASCII and the OWS of RFC 9110 §5.6.3. CR/LF never pass, so an edited
value can never split a header."""

_META_VALUE = re.compile(r"[\x21-\x2b\x2d-\x7e \t\n\f\r]*")
"""A ``<meta>`` policy: one serialized policy (CSP3 §3.3), so no comma; any ASCII whitespace."""

_TOKEN = re.compile(r"[^ \t\n\f\r]+")
_DIRECTIVE_NAME = re.compile(r"[A-Za-z0-9-]+")
_NONCE = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")  # CSP3 base64-value
_SOURCE = re.compile(r"[\x21-\x2b\x2d-\x3a\x3c-\x7e]+")  # one token of a directive value
_INLINE_OVERRIDES: Final = ("'nonce-", "'sha256-", "'sha384-", "'sha512-", "'strict-dynamic'")
_SAME_ORIGIN: Final = frozenset({"'self'", "*", "http:"})
"""Sources that admit any same-origin http(s) URL: ``*`` matches http(s) URLs (CSP3 §6.7.2.8) and
``http:`` matches https too (§6.7.2.9). ``https:`` is not here: the page may be served over http."""

CSP = "Content-Security-Policy"
CSP_REPORT_ONLY = "Content-Security-Policy-Report-Only"
CSP_HEADERS = (CSP, CSP_REPORT_ONLY)


def make_nonce() -> str:
    """A fresh nonce: 128 random bits, base64url without padding (CSP3 §2.3.1 asks for ≥ 128)."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class _Directive:
    name: str  # lower-cased
    name_end: int  # offset just past the name
    sources: tuple[tuple[int, int], ...]  # offsets of each token of the value


@dataclass(frozen=True, slots=True)
class _Policy:
    directives: dict[str, _Directive]  # first occurrence of each name only
    end: int  # offset just past the last token of the last directive


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str


def allow_tracker(
    header_value: str, *, nonce: str, connect_source: str = "'self'", single_policy: bool = False
) -> str | None:
    """``header_value`` edited to admit our nonced script element and beacons, or ``None``.

    ``header_value`` is one ``Content-Security-Policy`` value, which may hold several
    comma-separated policies (CSP3 §2.2.2); pass ``single_policy=True`` for a ``<meta>`` policy,
    where ``sandbox`` has no effect (CSP3 §3.3). ``None`` means: do not inject — the value is not
    within the CSP grammar, or a ``sandbox`` without ``allow-scripts`` stops every script. Calling
    it again on its own output with the same arguments changes nothing.
    """
    if not _NONCE.fullmatch(nonce):
        raise ValueError(f"not a CSP nonce: {nonce!r}")
    if not _SOURCE.fullmatch(connect_source):
        raise ValueError(f"not a single CSP source expression: {connect_source!r}")
    policies = _parse(header_value, single_policy=single_policy)
    if policies is None:
        return None
    edits: list[_Edit] = []
    for policy in policies:
        if not single_policy and not _scripts_may_run(header_value, policy):
            return None
        edits.extend(_edit_policy(header_value, policy, f"'nonce-{nonce}'", connect_source))
    return _apply(header_value, edits)


def edit_policies(values: Sequence[str], *, nonce: str, connect_source: str) -> list[str] | None:
    """Every ``Content-Security-Policy`` header value of a response, edited; ``None`` if any one
    cannot be (then nothing may be injected, since each policy applies on its own).

    For ``Content-Security-Policy-Report-Only`` values the same call avoids reports about our
    element; there ``None`` only means "leave those headers as they are".
    """
    edited: list[str] = []
    for value in values:
        result = allow_tracker(value, nonce=nonce, connect_source=connect_source)
        if result is None:
            return None
        edited.append(result)
    return edited


def _parse(text: str, *, single_policy: bool) -> list[_Policy] | None:
    """CSP3 §2.2.1-2.2.2, keeping offsets; ``None`` when outside the grammar."""
    if not (_META_VALUE if single_policy else _HEADER_VALUE).fullmatch(text):
        return None
    policies: list[_Policy] = []
    for policy_start, policy_end in _spans(text, 0, len(text), "" if single_policy else ","):
        directives: dict[str, _Directive] = {}
        end = policy_start
        for start, stop in _spans(text, policy_start, policy_end, ";"):
            tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text, start, stop)]
            if not tokens:
                continue  # an empty directive, e.g. after a trailing ';'
            (name_start, name_end), *sources = tokens
            name = text[name_start:name_end]
            if not _DIRECTIVE_NAME.fullmatch(name):
                return None
            directives.setdefault(name.lower(), _Directive(name.lower(), name_end, tuple(sources)))
            end = tokens[-1][1]
        if directives:  # a policy without directives is ignored (CSP3 §2.2.2)
            policies.append(_Policy(directives, end))
    return policies


def _spans(text: str, start: int, end: int, separator: str) -> list[tuple[int, int]]:
    """``[start, end)`` split at each ``separator`` (none when empty), as offset pairs."""
    if not separator:
        return [(start, end)]
    spans = []
    while (cut := text.find(separator, start, end)) != -1:
        spans.append((start, cut))
        start = cut + 1
    spans.append((start, end))
    return spans


def _words(text: str, directive: _Directive) -> list[str]:
    return [text[start:end] for start, end in directive.sources]


def _scripts_may_run(text: str, policy: _Policy) -> bool:
    """False when the first ``sandbox`` directive lacks ``allow-scripts`` (CSP3 §6.3.2)."""
    sandbox = policy.directives.get("sandbox")
    return sandbox is None or "allow-scripts" in (w.lower() for w in _words(text, sandbox))


def _edit_policy(text: str, policy: _Policy, nonce_source: str, connect_source: str) -> list[_Edit]:
    directives = policy.directives
    default = directives.get("default-src")
    edits: list[_Edit] = []
    added: list[str] = []
    script_lists = [directives[n] for n in ("script-src-elem", "script-src") if n in directives]
    for directive in script_lists:
        addition = _script_addition(_words(text, directive), nonce_source)
        if addition is not None:
            edits.append(_extend(text, directive, addition))
    if not script_lists and default is not None:
        addition = _script_addition(_words(text, default), nonce_source)
        if addition is not None:
            added.append("script-src " + " ".join(_extended(_words(text, default), addition)))
    connect = directives.get("connect-src")
    for directive in [connect] if connect is not None else []:
        addition = _connect_addition(_words(text, directive), connect_source)
        if addition is not None:
            edits.append(_extend(text, directive, addition))
    if connect is None and default is not None:
        addition = _connect_addition(_words(text, default), connect_source)
        if addition is not None:
            added.append("connect-src " + " ".join(_extended(_words(text, default), addition)))
    if added:
        edits.append(_Edit(policy.end, policy.end, "".join("; " + d for d in added)))
    return edits


def _script_addition(words: list[str], nonce_source: str) -> str | None:
    """What a script source list needs so that our nonced same-origin element runs, if anything."""
    if nonce_source in words:
        return None
    lowered = [w.lower() for w in words]
    inline_in_force = "'unsafe-inline'" in lowered and not any(
        w.startswith(_INLINE_OVERRIDES) for w in lowered
    )
    if inline_in_force:
        return None if _SAME_ORIGIN.intersection(lowered) else "'self'"
    return nonce_source


def _connect_addition(words: list[str], connect_source: str) -> str | None:
    lowered = {w.lower() for w in words}
    if connect_source.lower() in lowered or _SAME_ORIGIN.intersection(lowered):
        return None
    return connect_source


def _is_none(words: list[str]) -> bool:
    return not words or (len(words) == 1 and words[0].lower() == "'none'")


def _extended(words: list[str], addition: str) -> list[str]:
    return [addition] if _is_none(words) else [*words, addition]


def _extend(text: str, directive: _Directive, addition: str) -> _Edit:
    """Add ``addition`` to a directive in place: after its last token, or instead of ``'none'``."""
    sources = directive.sources
    if not sources:
        return _Edit(directive.name_end, directive.name_end, " " + addition)
    if _is_none(_words(text, directive)):
        return _Edit(sources[0][0], sources[0][1], addition)
    return _Edit(sources[-1][1], sources[-1][1], " " + addition)


def _apply(text: str, edits: list[_Edit]) -> str:
    pieces: list[str] = []
    cursor = 0
    for edit in sorted(edits, key=lambda e: e.start):  # stable: same-offset edits keep their order
        pieces.append(text[cursor : edit.start])
        pieces.append(edit.text)
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)
