"""The dashboard's script and stylesheet (``dashboard_js/``, built into ``static/``): loaded once,
served from memory under versioned URLs, and inlined whole into ``vernier report --format html``."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from proxy.content.coding import accepts

TYPES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Asset:
    source: bytes
    gzipped: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class DashboardAssets:
    files: dict[str, Asset]
    version: str  # of both files together: one query string for the page's two URLs

    @classmethod
    def load(cls) -> DashboardAssets:
        folder = resources.files("proxy.dashboard").joinpath("static")
        files, digest = {}, hashlib.sha256()
        for name, content_type in TYPES.items():
            source = folder.joinpath(name).read_bytes()
            digest.update(source)
            files[name] = Asset(source, gzip.compress(source, 9, mtime=0), content_type)
        return cls(files, digest.hexdigest()[:12])

    def text(self, name: str) -> str:
        return self.files[name].source.decode("utf-8")

    def response(self, name: str, request: web.Request) -> web.Response | None:
        """The asset ``name``, gzipped when accepted; ``None`` for an unknown name."""
        asset = self.files.get(name)
        if asset is None:
            return None
        current = request.query.get("v") == self.version
        headers = {
            "Content-Type": asset.content_type,
            "Cache-Control": "private, max-age=31536000, immutable" if current else "no-cache",
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if accepts(request.headers.get("Accept-Encoding"), "gzip"):
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=asset.gzipped, headers=headers)
        return web.Response(body=asset.source, headers=headers)
