"""The admin JSON API on the loopback admin listener (``admin.listen``):

    GET  /__vernier/admin/pauses                       what is paused, and why (JSON)
    POST /__vernier/admin/pause   {"target": "hero/b", "why": "..."}
    POST /__vernier/admin/resume  {"target": "hero/b"}

The same as ``vernier pause/resume/pauses`` (targets: a slot id, a rule id, ``SLOT/VARIANT``).
With ``admin.token`` set, every call needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import orjson
from aiohttp import web

from proxy.errors import ConfigError, UsageError
from proxy.govern.control import control_field
from proxy.messages import invalid_value, malformed_json
from proxy.request_view import bearer_token, token_matches
from proxy.rules.engine import RulesSource
from proxy.store import control
from proxy.store.client import Store

PREFIX = "/__vernier/admin/"


class PauseRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    why: Annotated[str, msgspec.Meta(max_length=500)] = "paused through the admin API"


def _answer(body: object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


class AdminApi:
    def __init__(self, rules: RulesSource, store: Store, token: str | None) -> None:
        self._rules = rules
        self._store = store
        self._token = token.encode() if token else None

    def handles(self, path: str) -> bool:
        return path.startswith(PREFIX)

    async def handle(self, request: web.Request) -> web.Response:
        if self._token is not None:
            given = bearer_token(request.headers.get("Authorization"))
            if not token_matches(given, self._token):
                return _answer(
                    {"error": "a valid 'Authorization: Bearer <token>' is required"}, 401
                )
        action = request.path.removeprefix(PREFIX)
        if "Content-Encoding" in request.headers:
            return _answer(
                {"error": "a Content-Encoding is not accepted: send the JSON as it is"}, 415
            )
        if action == "pauses" and request.method == "GET":
            fields = await control.read(self._store)
            if fields is None:
                return _answer({"error": "the store cannot answer"}, 503)
            return _answer({name: orjson.loads(value) for name, value in fields.items()})
        if action not in ("pause", "resume") or request.method != "POST":
            return _answer({"error": "not found"}, 404)
        body = await request.read()
        try:
            asked = msgspec.json.decode(body, type=PauseRequest)
            field = control_field(asked.target, self._rules.current.ruleset)
        except msgspec.ValidationError as err:
            path, what = invalid_value(err, schema=PauseRequest)
            return _answer({"error": f"{path}: {what}"}, 400)
        except msgspec.DecodeError as err:
            return _answer({"error": f"malformed JSON: {malformed_json(err, body)}"}, 400)
        except (ConfigError, UsageError) as err:
            return _answer({"error": str(err)}, 400)
        if action == "pause":
            done = await control.pause(self._store, field, why=asked.why, by="admin API")
        else:
            done = await control.resume(self._store, field) is not None
        if not done:
            return _answer({"error": "the store cannot answer"}, 503)
        return _answer({action + "d": field})
