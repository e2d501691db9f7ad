"""The decision API for clients that are not HTML pages: app screens, emails, server code.

    POST /__vernier/api/decide  {"slot": "hero", "session": "<id>", "visitor": "<id>",
                                 "context": {"device": "mobile", "referrer.class": "search"}}
      -> 200 {"decision": "<id>", "slot": "hero", "variant": "b", "reason": "bandit",
              "probability": 0.9}
    POST /__vernier/api/reward  {"decision": "<id>", "reward": 1.0}  -> 202

Both need ``Authorization: Bearer <admin token>`` (the API is off without ``admin.token``):
the caller vouches for the session and visitor ids it passes. A decision goes through the same
rules, bandit and change budget as a page's (``proxy/decide/decider.py``); the visitor's profile
is read when a visitor id is given, and the ``context`` fields given win over it. A posted
reward counts for the decision as an impression and a reward part would (the learner joins it).
"""

from __future__ import annotations

import math
import time
from typing import Annotated

import msgspec
import orjson
from aiohttp import hdrs, web

from proxy.decide.decider import Decider, Viewer
from proxy.messages import duplicate_key, invalid_value, malformed_json
from proxy.records.decision import RewardNote
from proxy.request_view import bearer_token, token_matches
from proxy.rules.clock import clock_value_problem
from proxy.rules.context import profile_fields
from proxy.rules.engine import RulesSource
from proxy.rules.segments import SEGMENT_FIELD, add_segments, did_you_mean, known_field
from proxy.store.client import Store
from proxy.store.decision_log import log_reward
from proxy.store.profiles import load_profile

MAX_BODY_BYTES = 16 * 1024
Ident = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,128}$")]
Scalar = str | int | float | bool


class DecideRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    slot: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{1,64}$")]
    session: Ident
    visitor: Ident | None = None
    context: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=128)], Scalar], msgspec.Meta(max_length=64)
    ] = msgspec.field(default_factory=dict)


class RewardRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    decision: Ident
    reward: Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)]


def _error(status: int, reason: str) -> web.Response:
    return web.Response(
        body=orjson.dumps({"error": reason}),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


class DecisionApi:
    def __init__(
        self, rules: RulesSource, decider: Decider, store: Store, token: str | None
    ) -> None:
        self._rules = rules
        self._decider = decider
        self._store = store
        self._token = token.encode() if token else None

    async def handle(self, request: web.Request, action: str) -> web.Response:
        if self._token is None:
            return _error(404, "the decision API is off (set admin.token)")
        given = bearer_token(request.headers.get("Authorization"))
        if not token_matches(given, self._token):
            return _error(401, "a valid 'Authorization: Bearer <admin token>' is required")
        if request.method != "POST":
            return _error(405, "use POST")
        if request.content_type != "application/json":
            return _error(415, "Content-Type must be application/json")
        if hdrs.CONTENT_ENCODING in request.headers:  # 16 KiB needs no compression, nor a bomb
            return _error(415, "a Content-Encoding is not accepted: send the JSON as it is")
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        body = await request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        schema: type[DecideRequest | RewardRequest] = (
            DecideRequest if action == "decide" else RewardRequest
        )
        try:
            asked = msgspec.json.decode(body, type=schema)
        except msgspec.ValidationError as err:
            path, what = invalid_value(err, schema=schema)
            return _error(400, f"{path}: {what}")
        except msgspec.DecodeError as err:
            return _error(400, f"malformed JSON: {malformed_json(err, body)}")
        try:
            repeated = duplicate_key(body)
        except (ValueError, RecursionError):  # msgspec took what json does not: still a 400
            return _error(400, "malformed JSON")
        if repeated is not None:  # two parsers could read it two ways
            return _error(400, f"malformed JSON: the key '{repeated}' is written twice")
        if isinstance(asked, DecideRequest):
            return await self._decide(asked)
        return await self._reward(asked)

    async def _decide(self, asked: DecideRequest) -> web.Response:
        engine = self._rules.current
        slot = next((s for s in engine.ruleset.slots if s.id == asked.slot), None)
        if slot is None:
            return _error(404, f"no slot '{asked.slot}' in the rules")
        if any(isinstance(v, float) and not math.isfinite(v) for v in asked.context.values()):
            return _error(400, "context values must be finite")
        for name, value in asked.context.items():  # a misspelt field would be set, never read
            if not (known_field(name) or name == SEGMENT_FIELD):
                return _error(400, f"$.context.{name}: unknown context field{did_you_mean(name)}")
            if (problem := clock_value_problem(name, value)) is not None:
                return _error(400, f"$.context.{name}: {problem}")
        profile = await load_profile(self._store, asked.visitor) if asked.visitor else {}
        context: dict[str, object] = {**profile_fields(profile, "api"), **asked.context}
        add_segments(engine.ruleset.segments, context)
        viewer = Viewer(asked.session, asked.visitor, profile, {})
        decided = await self._decider.decide([slot], context, viewer, engine.ruleset.session_limits)
        [decision] = decided.decisions
        return web.Response(
            body=orjson.dumps(
                {
                    "decision": decision.id,
                    "slot": decision.slot,
                    "variant": decision.variant,
                    "reason": decision.reason,
                    "probability": decision.probability,
                }
            ),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def _reward(self, asked: RewardRequest) -> web.Response:
        note = RewardNote(asked.decision, asked.reward, int(time.time() * 1000))
        if not await log_reward(self._store, note):
            return _error(503, "the store cannot take the reward now; retry later")
        return web.Response(status=202, headers={"Cache-Control": "no-store"})
