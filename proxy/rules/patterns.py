"""Path patterns of ``where`` blocks (globs and ``path_regex``, both matched by RE2), and the
host names ``hosts`` compares.

A path is the visitor's to choose, up to 8 KiB, and Python's backtracking ``re`` can take time
exponential (``^/(.|\\s)*\\.html$``) or polynomial of high degree (the glob ``/**/**/**/x``, or
``*a*b*`` in one segment) in its length: one request held the event loop for seconds, and a
few more would stop the proxy. RE2 (Google's engine, the ``google-re2`` binding) matches in time
linear in the path for any pattern; it refuses what cannot be matched so (lookaround,
backreferences), and that refusal is the loader's error. Its binding costs ~2–4 µs a match
against ``re``'s ~0.2 µs; :class:`~proxy.rules.engine.PathIndex` keeps the patterns tried per
request few. Compiled once per rules load.
"""

from __future__ import annotations

import re
from typing import Protocol

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

MAX_REGEX_CHARS = 512

_UPTO = re.compile(r"(?<!\\)\{,(\d+)\}")  # Python's {,n}, "at most n"
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the loader reports the error; RE2 would also print it to stderr
_OPTIONS.never_capture = True  # only whether it matches is asked


class PathPattern(Protocol):
    """A compiled path pattern (RE2's, or any with the same two methods)."""

    def fullmatch(self, text: str) -> object | None: ...
    def search(self, text: str) -> object | None: ...


def compile_path_regex(pattern: str) -> PathPattern:
    """``pattern`` compiled by RE2; ``ValueError`` with RE2's reason if it refuses it, or for a
    form RE2 would read otherwise than Python does (``{,3}``: literal text to RE2)."""
    if found := _UPTO.search(pattern):
        raise ValueError(f"write {{0,{found.group(1)}}}: RE2 reads {found.group(0)} as text")
    try:
        return re2.compile(pattern, _OPTIONS)  # type: ignore[no-any-return]
    except re2.error as err:
        reason = err.args[0] if err.args else "refused"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None


def glob_to_regex(glob: str) -> PathPattern:
    """``*`` matches within one path segment, ``**`` across segments; the whole path must match."""
    parts = re.split(r"(\*\*|\*)", glob)
    body = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )
    return compile_path_regex(f"^{body}$")


def host_name(host: str) -> str:
    """A ``Host`` header's name, as ``where.hosts`` holds them: lower case, without the port or
    a trailing dot (``[::1]:8080`` → ``[::1]``, ``Shop.Example.`` → ``shop.example``)."""
    host = host.lower()
    if host.startswith("["):
        name = host[: host.find("]") + 1] or host
    else:
        name, colon, port = host.rpartition(":")
        name = name if colon and port.isdigit() else host
    return name.rstrip(".")
