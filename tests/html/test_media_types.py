"""Which Content-Type values name XHTML."""

from __future__ import annotations

import pytest

from proxy.html.media_types import is_xhtml


@pytest.mark.parametrize(
    ("content_type", "xhtml"),
    [
        ("application/xhtml+xml", True),
        ("Application/XHTML+XML; charset=utf-8", True),
        (" application/xhtml+xml ;q=1", True),
        ("text/html", False),
        ("application/xml", False),
        ("", False),
        (None, False),
    ],
)
def test_xhtml_is_named_by_its_media_type_alone(content_type: str | None, xhtml: bool) -> None:
    assert is_xhtml(content_type) is xhtml
