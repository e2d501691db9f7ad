"""The tracker's scripts: loaded once, served from memory with versioned, long-cached URLs.

The script tag Vernier inserts names the version (``/__vernier/t.js?v=<sha256 prefix>``), so the
asset can be cached for a year and a new build is picked up by the next page view. ``t.js``
imports ``triggers.js`` (same scheme, its version built in) only on pages with in-page triggers.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from html import escape
from importlib import resources

from aiohttp import web

from proxy.content.coding import accepts

ASSET_PATH = "/__vernier/t.js"
# the markup of script_tag and its place in a page; bump with any change to either (2: defer="",
# which XHTML's XML needs; 3: in front of a <base href>, proxy/html/scan.py)
TAG_FORMAT = 3
TRIGGERS_PATH = "/__vernier/triggers.js"


@dataclass(frozen=True, slots=True)
class TrackerAsset:
    source: bytes
    gzipped: bytes
    version: str
    path: str = ASSET_PATH

    @classmethod
    def load(cls, name: str = "t.js") -> TrackerAsset:
        source = resources.files("proxy.tracker").joinpath(f"static/{name}").read_bytes()
        version = hashlib.sha256(source).hexdigest()[:12]
        return cls(
            source=source,
            gzipped=gzip.compress(source, 9, mtime=0),
            version=version,
            path=f"/__vernier/{name}",
        )

    @property
    def url(self) -> str:
        return f"{self.path}?v={self.version}"

    @property
    def tag_digest(self) -> str:
        """Names what Vernier inserts into pages (goes into changed pages' ETags): the script
        and the tag's markup and place, so a copy held with an older tag is not kept by a 304."""
        return hashlib.sha256(f"{self.version}:{TAG_FORMAT}".encode()).hexdigest()[:8]

    def script_tag(self, *, nonce: str | None, consent_pending: bool) -> str:
        """The one element Vernier inserts into a page (pure ASCII)."""
        parts = [f'<script src="{self.url}" defer=""']  # a value: XHTML's XML needs one
        if nonce:
            parts.append(f' nonce="{escape(nonce)}"')
        if consent_pending:
            parts.append(' data-vernier-consent="pending"')
        parts.append("></script>")
        return "".join(parts)

    def response(self, request: web.Request) -> web.Response:
        current = request.query.get("v") == self.version
        etag = f'"{self.version}"'
        headers = {
            "Content-Type": "text/javascript; charset=utf-8",
            "Cache-Control": "public, max-age=31536000, immutable"
            if current
            else "public, max-age=300",
            "ETag": etag,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        if accepts(request.headers.get("Accept-Encoding"), "gzip"):
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=self.gzipped, headers=headers)
        return web.Response(body=self.source, headers=headers)
