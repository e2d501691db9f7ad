"""The media types of the pages Vernier may change: HTML, and XHTML with ``html.inject_xhtml``
(the tracker only: the rewriter writes HTML back, which an XML parser refuses)."""

from __future__ import annotations

HTML_TYPES = frozenset({"text/html"})
XHTML_TYPES = frozenset({"application/xhtml+xml"})


def is_xhtml(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` value names XHTML (the XML serialisation)."""
    return (content_type or "").split(";", 1)[0].strip().lower() in XHTML_TYPES
