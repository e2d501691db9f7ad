"""Vernier's own answers: short, generic, never a traceback or an internal address (OWASP Error
Handling cheat sheet)."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>{code} {phrase}</title></head>"
    "<body><h1>{code} {phrase}</h1><p>{text}</p></body></html>"
)


def error_reply(status: int, text: str, *, close: bool = False) -> web.Response:
    """A small HTML error page; ``close`` ends the connection (after a framing error)."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = _PAGE.format(code=status, phrase=phrase, text=text)
    response = web.Response(
        status=status,
        text=body,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Server": "vernier",
        },
    )
    if close:
        response.force_close()
    return response
