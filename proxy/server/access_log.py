"""One JSON line per request (OWASP Logging: control characters in a path or user agent can't forge
a second line, because the JSON encoder escapes them; bytes that are not UTF-8 are written out
as escapes, never an error that drops the connection's next request)."""

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
        try:
            line = orjson.dumps(record)
        except TypeError:  # bytes that are not UTF-8, which aiohttp keeps as lone surrogates
            line = orjson.dumps({k: _printable(v) for k, v in record.items()})
        self.logger.info(line.decode())


def _printable(value: object) -> object:
    """A string with its lone surrogates written out (``\\udce9``), anything else as it is."""
    if not isinstance(value, str):
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
