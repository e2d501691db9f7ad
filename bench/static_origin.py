"""The benchmark's origin when nginx is not installed: the docroot's files over HTTP/1.1.

    python bench/static_origin.py --port P --docroot DIR

aiohttp's ``FileResponse`` (sendfile, ``Content-Length``, ``HEAD``, ranges), one process, on
127.0.0.1 only. It is slower than nginx, so the "direct" numbers of a run that used it measure
this server, and Vernier's throughput may be capped by its origin: ``proxy_bench.py`` says so in
the results (``origin``) and the report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aiohttp import web


def create_app(docroot: Path) -> web.Application:
    root = docroot.resolve()

    async def serve_file(request: web.Request) -> web.StreamResponse:
        path = (root / request.match_info["name"]).resolve()
        if path.parent != root or not path.is_file():  # the docroot's own files, nothing else
            raise web.HTTPNotFound()
        content_type = "text/html" if path.suffix == ".html" else "application/octet-stream"
        return web.FileResponse(path, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/{name}", serve_file)  # GET and HEAD
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--docroot", type=Path, required=True)
    args = parser.parse_args()
    web.run_app(
        create_app(args.docroot), host="127.0.0.1", port=args.port, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
