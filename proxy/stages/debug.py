"""debug: an admin asks the live proxy why a page looks as it does.

A request carrying ``X-Vernier-Debug: <admin token>`` gets an ``X-Vernier-Debug`` response header
naming the rule set version, the rules applied, each slot's variant, decision id and reason (also
when the page was served unchanged), and the hour and time zone the page was decided on (null
when no rule or slot needed the request's context). The request header never reaches the origin;
a wrong or missing token is ignored (the page is served as to anyone), and the answer is private.
"""

from __future__ import annotations

import orjson

from proxy.exchange import Exchange
from proxy.request_view import token_matches
from proxy.upstream.headers import DEBUG_HEADER


class Debug:
    name = "debug"

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    async def __call__(self, ex: Exchange) -> None:
        if self._token is None:
            return
        given = ex.request.headers.get(DEBUG_HEADER)
        if given is not None and token_matches(given, self._token):
            ex.debug = True


def debug_report(ex: Exchange) -> str:
    """The response header's value: compact JSON, ASCII only."""
    report: dict[str, object] = {
        "rules_version": ex.engine.ruleset.version if ex.engine else None,
        "rules": list(ex.rules_applied),
        "slots": [
            {
                "slot": d.slot,
                "variant": d.variant,
                "reason": d.reason,
                "probability": d.probability,
                "decision": d.id,
                "triggers": [{"trigger": t, "variant": v, "decision": i} for t, v, i in d.triggers],
            }
            for d in ex.decisions
        ],
        "holdouts": [
            {"rule": d.slot, "arm": d.variant, "probability": d.probability, "decision": d.id}
            for d in ex.rule_decisions
        ],
        "changed": ex.changed,
        "hour": ex.context.get("hour") if ex.context is not None else None,
        "time_zone": ex.time_zone,
    }
    if ex.fail_open:
        report["fail_open"] = ex.fail_open
    return orjson.dumps(report).decode("ascii", "replace")
