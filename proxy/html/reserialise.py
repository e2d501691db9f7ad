"""The fallback: the modified tree serialised as HTML behind the original BOM and doctype, in the
original codec (docs/design.md §3, "DOM-equivalent re-serialisation").

Lexbor's serialiser is not quite the inverse of its parser: a newline right after ``<pre>``,
``<textarea>`` or ``<listing>`` is dropped by the parser and not written back, and a CR from
``&#13;`` would come back as a line feed; both are written so the tree parses back the same. A
character the page's codec cannot write where a character reference would be read literally (a
comment, raw text such as a script, a name) means the page cannot be re-serialised faithfully:
None, and the caller keeps the original page.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from proxy.html.sourcemap import original_doctype, select

_RAW_TEXT = frozenset(
    ("script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext")
)


def reserialise(parser: LexborHTMLParser, buf: bytes, bom: bytes, codec: str) -> bytes | None:
    """``parser``'s tree as HTML behind ``buf``'s BOM and doctype, encoded in ``codec``; None
    when the codec cannot write a character that must stay literal (see :func:`unwritable`)."""
    doctype = original_doctype(buf, len(bom))
    root = parser.root
    document = None if root is None else root.parent
    nodes = [] if document is None else list(document.iter(include_text=True))
    for node in select(parser, "pre, textarea, listing"):
        # the parser drops a newline right after the start tag: Lexbor does not write one
        first = node.child
        if first is not None and first.tag == "-text" and first.text().startswith("\n"):
            first.insert_before("\n")
    parts: list[bytes | str] = [bom]
    for node in nodes:
        if node.tag == "-doctype" and doctype is not None:
            parts.append(doctype)
        else:
            # a CR can only be in a text or an attribute value (the parser turns the others
            # into LF): from "&#13;", which must stay one (a raw CR is read as an LF)
            parts.append((node.html or "").replace("\r", "&#13;"))
    try:
        return b"".join(p if isinstance(p, bytes) else p.encode(codec) for p in parts)
    except UnicodeEncodeError:
        if any(unwritable(node, codec) for node in nodes):
            return None
        return b"".join(
            p if isinstance(p, bytes) else p.encode(codec, "xmlcharrefreplace") for p in parts
        )


def unwritable(top: LexborNode, codec: str) -> bool:
    """Whether ``top`` has a character ``codec`` cannot encode where a character reference
    would be read as its characters: in a comment, the text of a script, style or other
    raw-text element, or a name. Such a character is a U+FFFD for bytes the codec could
    not decode (or for a NUL in a script), or came from an operation's markup."""
    for node in top.traverse(include_text=True):
        tag = node.tag
        if tag is None or tag == "-comment":  # a comment or a processing instruction
            data = node.html or ""
        elif tag == "-text":
            parent = node.parent
            if parent is None or parent.tag not in _RAW_TEXT:
                continue
            data = node.text_content or ""
        elif tag.startswith("-"):
            continue
        else:
            data = tag + "".join(node.attributes)
        try:
            data.encode(codec)
        except UnicodeEncodeError:
            return True
    return False
