"""One compiled pattern that steps over a run of ordinary head markup in C (the scan's fast path).

:func:`plain_run` matches, from an offset, as many whole tokens as it can that the scan would only
step over: whitespace, closed comments, doctypes and bogus comments, head elements with nothing to
decide (``<link>``, most ``<meta>``, short scripts and styles with their contents), end tags the
head ignores. It is conservative: anything it does not recognise for certain ends the run, and the
scan's careful path (:mod:`proxy.html.tokens`) reads that token. So the pattern may refuse a token
the tokenizer accepts, but every token it does accept ends exactly where the tokenizer's does.

Why its tags end where the tokenizer's do: between values a tag here holds no quote, ``=`` or ``>``
(``_SEGMENT``), and an ``=`` is accepted only right after a byte that can only be part of an
attribute name (``_AFTER_NAME``), so each ``=`` opens a value and each quote after it opens a quoted
value; an unquoted value runs to whitespace or ``>``. The tokenizer then reads the same values and
ends the tag at the same ``>``.

Speed, in CPython's ``re``: a run of one byte class (``[^"]*+``) is a tight C loop, every group
repetition and branch costs far more; so values and element contents are single-class runs, the
patterns are "unrolled" (one repetition per attribute value, not per byte or name), branches start
with a literal or class (skipped in C when the byte does not fit), and contents longer than
``_LONG`` bytes without a ``<`` end the run so the scan can skip them with ``bytes.find``.
"""

from __future__ import annotations

import re

from proxy.html.tokens import TRACKER_PATH, nocase

__all__ = ["plain_run"]

_LONG = 2048
_DELIM = rb"(?=[\t\n\f\r />])"
_SEGMENT = rb"""[^"'>=]*+"""
_NAME = rb"""[^\t\n\f\r /"'>=]++"""
_AFTER_NAME = rb"""(?<=[^\t\n\f\r /"'>=])="""
_VALUE = rb"""[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >"'][^\t\n\f\r >]*+)"""
_NOT_TRACKER = rb"/(?!" + re.escape(TRACKER_PATH[1:]) + rb")"
# A value in which our tracker's path does not occur (a script tag's src must not hold it).
_VALUE_NO_TRACKER = (
    rb"""[\t\n\f\r ]*+(?:"[^"/]*+(?:%s[^"/]*+)*+"|'[^'/]*+(?:%s[^'/]*+)*+'"""
    rb"""|(?:[^\t\n\f\r >"'/]|%s)[^\t\n\f\r >/]*+(?:%s[^\t\n\f\r >/]*+)*+)"""
) % ((_NOT_TRACKER,) * 4)
_CSP = nocase(b"content-security-policy")
# An http-equiv value that cannot be "content-security-policy" (no character references either).
_SAFE_EQUIV = (
    rb"""[\t\n\f\r ]*+(?:"(?!%s")[^"&]*+"|'(?!%s')[^'&]*+'"""
    rb"""|(?!%s[\t\n\f\r >])[^\t\n\f\r >"'&][^\t\n\f\r >&]*+)"""
) % (_CSP, _CSP, _CSP)


def _segment_avoiding(names: tuple[bytes, ...]) -> bytes:
    """Like ``_SEGMENT``, but stops in front of any of ``names`` (so they are never skipped)."""
    firsts = b"".join(b"%c%c" % (n[0], n[0] ^ 0x20) for n in names)
    avoid = b"|".join(nocase(n[:1]) + b"(?!" + nocase(n[1:]) + b")" for n in names)
    return rb"""[^"'>=%s]*+(?:(?:%s)[^"'>=%s]*+)*+""" % (firsts, avoid, firsts)


def _rest(
    value: bytes = _VALUE,
    segment: bytes = _SEGMENT,
    extra: bytes = b"",
    simple: bytes = rb' %s(?:="[^"]*+")?' % _NAME,
) -> bytes:
    """A tag after its name, up to ``>``: first as the common shape (``simple`` attributes, one
    space before each), else in general (module doc); ``extra``: another kind of attribute."""
    general = rb"%s(?:%s%s%s%s)*+>" % (segment, _AFTER_NAME, value, segment, extra)
    return rb"(?:(?:%s)*+ ?/?>|%s)" % (simple, general)


def _element(name: bytes, start_rest: bytes, content_stop: bytes = b"") -> bytes:
    """A whole script/RAWTEXT/RCDATA element after "<" and its first letter; the content must not
    hold ``content_stop`` nor ``_LONG`` bytes without a "<"."""
    end = rb"/%s%s" % (nocase(name), _DELIM)
    return rb"%s%s%s[^<]{0,%d}+(?:<(?!%s%s)[^<]{0,%d}+)*+<%s%s" % (
        nocase(name[1:]), _DELIM, start_rest, _LONG, end, content_stop, _LONG, end, _rest()
    )  # fmt: skip


_script_rest = _rest(
    _VALUE_NO_TRACKER, simple=rb""" %s(?:="[^"/]*+(?:%s[^"/]*+)*+")?""" % (_NAME, _NOT_TRACKER)
)


def plain_run(*, find_charset: bool) -> re.Pattern[bytes]:
    """The fast-path pattern (module doc); it always matches, possibly empty.

    Left to the careful path: ``<base>`` (the tag goes in front of one with an href),
    ``<meta>`` with an http-equiv that may be a Content-Security-Policy
    (with ``find_charset``: any http-equiv or charset), scripts that hold "<!--" or our tracker's
    path in a value, templates, end tags that close the head, text, anything cut off by the end.
    """
    if find_charset:
        names = (b"http-equiv", b"charset")
        simple = rb""" (?![hH][tT][tT][pP]-|[cC][hH][aA][rR][sS][eE][tT])%s(?:="[^"]*+")?""" % _NAME
        meta = _rest(segment=_segment_avoiding(names), simple=simple)
    else:
        segment = _segment_avoiding((b"http-equiv",))
        equiv = rb"|(?<=[\t\n\f\r /\"'])%s[\t\n\f\r ]*+=%s%s" % (
            nocase(b"http-equiv"), _SAFE_EQUIV, segment
        )  # fmt: skip
        simple = rb''' (?:(?![hH][tT][tT][pP]-)%s(?:="[^"]*+")?|%s="(?!%s")[^"&]*+")''' % (
            _NAME, nocase(b"http-equiv"), _CSP
        )  # fmt: skip
        meta = _rest(segment=segment, extra=equiv, simple=simple)
    ws = rb"[\t\n\f\r ]*+"
    head_end = b"|".join(nocase(n) for n in (b"head", b"body", b"html", b"br"))
    return re.compile(
        ws + b"(?:<(?:"
        + nocase(b"meta") + _DELIM + meta
        + b"|" + nocase(b"link") + _DELIM + _rest()
        + b"|[sS](?:" + _element(b"script", _script_rest, b"|!--")
        + b"|" + _element(b"style", _rest()) + b")"
        + rb"|!(?:--(?:-?>|[^-]*+(?:-(?!-!?>)[^-]*+)*+--!?>)|(?!--)[^>]*+>)"
        + b"|[tT]" + _element(b"title", _rest())
        + b"|[nN](?:" + _element(b"noscript", _rest()) + b"|" + _element(b"noframes", _rest())
        + b")|[hH](?:" + nocase(b"tml") + b"|" + nocase(b"ead") + b")" + _DELIM + _rest()
        + b"|[bB](?:" + nocase(b"asefont") + b"|" + nocase(b"gsound")
        + b")" + _DELIM + _rest()
        + rb"|/(?:(?!(?:" + head_end + rb")[\t\n\f\r />])[A-Za-z][^\t\n\f\r />]*+" + _rest()
        + rb"|(?:[^A-Za-z>][^>]*+)?>)|\?[^>]*+>"
        + b")" + ws + b")*+"
    )  # fmt: skip
