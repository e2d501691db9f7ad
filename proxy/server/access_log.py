"""One JSON line per request (OWASP Logging: control characters in a path or user agent can't forge
a second line, because the JSON encoder escapes them)."""

from __future__ import annotations

import logging
import time

import orjson
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class JsonAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time_s: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        record = {
            "ts": round(time.time(), 3),
            "remote": request.remote,
            "method": request.method,
            "path": request.raw_path[:2048],
            "status": response.status,
            "bytes": response.body_length,
            "ms": round(time_s * 1000.0, 2),
            "ua": request.headers.get("User-Agent", "")[:512],
        }
        self.logger.info(orjson.dumps(record).decode())
