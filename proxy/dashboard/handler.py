"""The dashboard's requests on the admin listener (``/__vernier/admin/``):

    GET  /__vernier/admin/              overview of every slot and rule   (?since=7d)
    GET  /__vernier/admin/slots/<id>    one slot: statistics, plots, live view, the breakdown by
                                        segment (from the decision log)   (?since=7d)
    GET  /__vernier/admin/live/<id>     the live view's tables and chart (JSON, polled)
    GET  /__vernier/admin/static/<f>    dashboard.js, dashboard.css (no sign-in needed)
    GET/POST /__vernier/admin/login     sign in with the admin token; POST logout
    POST /__vernier/admin/act           pause or resume (CSRF token; a confirmation step first)

Anything else under the prefix is the JSON admin API's (:mod:`proxy.admin`). Without a session
or token a page answers 401 with the sign-in form; an unknown slot 404, a bad query 400, a store
that cannot answer 503: each an HTML page, never a traceback. A decision log that is missing or
cannot be read leaves the slot page up and says so where the breakdown by segment would be. Without ``admin.token`` configured
the dashboard is off (403): there would be nothing to sign in with.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from proxy.dashboard.assets import DashboardAssets
from proxy.dashboard.auth import AdminAuth, clear_cookie, same_origin, session_cookie
from proxy.dashboard.reads import (
    STORE_READ_TIMEOUT_S,
    read_guardrail_standing,
    read_pauses,
    read_report,
    read_windows,
)
from proxy.errors import ConfigError, UsageError
from proxy.evaluate.log import LogError
from proxy.govern.control import control_field
from proxy.results import live, pages
from proxy.results.by_segment import has_seen, read_breakdowns
from proxy.results.charts import slot_charts
from proxy.results.period import period_of
from proxy.results.report import SlotInfo, rule_info, slot_info
from proxy.rules.compiled import CompiledSlot
from proxy.rules.engine import RulesSource
from proxy.store import control
from proxy.store.client import Store

log = logging.getLogger("vernier.dashboard")
PREFIX = pages.PREFIX
PAGES = ("", "login", "logout", "act")
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
}


NOT_A_FORM = "the form could not be read: its fields must be UTF-8 text, as a browser sends them"


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={**_HEADERS, "Location": location})


async def _posted_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | FileField] | None:
    """The posted form, or ``None`` when its fields are not the UTF-8 text they must be
    (aiohttp raises ``UnicodeDecodeError``, a ``ValueError``, for ``token=\xe9``) or come
    content-coded (a browser never encodes a form; the listener decodes nothing)."""
    if "Content-Encoding" in request.headers:
        return None
    try:
        return await request.post()
    except ValueError:
        return None


class Dashboard:
    def __init__(
        self,
        rules: RulesSource,
        store: Store,
        token: str | None,
        *,
        retention_days: int,
        assets: DashboardAssets | None = None,
        clock: Callable[[], float] = time.time,
        decision_log: Path | None = None,
        examples_limit: int = 0,
    ) -> None:
        self._rules = rules
        self._examples_limit = examples_limit
        self._decision_log = decision_log
        self._store = store
        self._auth = AdminAuth(token) if token else None
        self._retention_days = retention_days
        self._assets = assets or DashboardAssets.load()
        self._clock = clock

    def handles(self, path: str) -> bool:
        rest = path.removeprefix(PREFIX)
        return path.startswith(PREFIX) and (
            rest in PAGES or rest.startswith(("slots/", "live/", "static/"))
        )

    def _page(self, status: int, text: str) -> web.Response:
        return web.Response(
            status=status, text=text, content_type="text/html", charset="utf-8", headers=_HEADERS
        )

    def _error(self, status: int, message: str, signed_in: bool = True) -> web.Response:
        v = self._assets.version
        return self._page(status, pages.error_page(status, message, v, signed_in=signed_in))

    def _slots(self) -> dict[str, CompiledSlot]:
        return {slot.id: slot for slot in self._rules.current.ruleset.slots}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rest = request.path.removeprefix(PREFIX)
        if rest.startswith("static/") and request.method in ("GET", "HEAD"):
            found = self._assets.response(rest.removeprefix("static/"), request)
            return found or self._error(404, "no such asset", signed_in=False)
        if self._auth is None:
            return self._error(403, "the dashboard needs admin.token in the config", False)
        now_s = self._clock()
        if rest == "login":
            return await self._login(request, self._auth, now_s)
        allowed, session = self._auth.signed_in(request, now_s)
        if not allowed:
            if rest.startswith("live/"):
                return web.json_response({"error": "sign in"}, status=401, headers=_HEADERS)
            return self._page(401, pages.login_page(self._assets.version))
        csrf = self._auth.csrf_for(session or "bearer")
        if rest == "logout" and request.method == "POST":
            response = _see_other(PREFIX + "login")
            clear_cookie(response)
            return response
        if rest == "act" and request.method == "POST":
            return await self._act(request, self._auth, session, csrf)
        if request.method not in ("GET", "HEAD"):
            return self._error(405, f"{request.method} is not allowed here")
        since = request.query.get("since", "7d")
        if rest == "":
            return await self._overview(since, csrf)
        kind, _, slot_id = rest.partition("/")
        slot = self._slots().get(slot_id)
        if slot is None:
            return self._error(404, f"no slot '{slot_id}' in the rules")
        if kind == "live":
            return await self._live(slot)
        return await self._slot(slot, since, csrf)

    async def _login(self, request: web.Request, auth: AdminAuth, now_s: float) -> web.Response:
        version = self._assets.version
        if request.method != "POST":
            return self._page(200, pages.login_page(version))
        if not same_origin(request):
            return self._error(403, "sign-in from another site refused", signed_in=False)
        form = await _posted_form(request)
        if form is None:
            return self._error(400, NOT_A_FORM, signed_in=False)
        given = form.get("token")
        if not isinstance(given, str) or not auth.token_matches(given):
            log.warning("dashboard sign-in refused from %s", request.remote)
            return self._page(401, pages.login_page(version, "That is not the admin token."))
        response = _see_other(PREFIX)
        session_cookie(response, auth.new_session(now_s))
        return response

    async def _overview(self, since: str, csrf: str) -> web.Response:
        try:
            period = period_of(since, int(self._clock() * 1000), self._retention_days)
        except (ConfigError, UsageError) as err:
            return self._error(400, str(err).removeprefix("--"))
        ruleset = self._rules.current.ruleset
        infos = [slot_info(slot) for slot in ruleset.slots]
        measured = [rule_info(rule) for rule in ruleset.holdout_rules]
        now_ms = int(self._clock() * 1000)
        report, windows, paused = await asyncio.gather(
            read_report(
                self._store, infos + measured, period, timeout_s=STORE_READ_TIMEOUT_S, overview=True
            ),
            read_windows(
                self._store, [i.id for i in infos], now_ms, timeout_s=STORE_READ_TIMEOUT_S
            ),
            read_pauses(self._store),
        )
        if report is None or windows is None or paused is None:
            return self._error(503, "the store cannot answer; try again in a moment")
        rows = []
        for info, slot_report in zip(infos, report["slots"], strict=False):
            counts = live.windows_table(info.variants, windows[info.id], now_ms)["60m"]
            rows.append(
                {
                    "id": info.id,
                    "policy": info.policy,
                    "paused": f"slot:{info.id}" in paused,
                    "report": slot_report,
                    "impressions_60m": sum(c["impressions"] or 0.0 for c in counts.values()),
                    "guardrail": live.guardrail_rows(
                        info.id, info.control, info.variants, windows[info.id], now_ms, paused
                    ),
                }
            )
        holdouts = {part["id"]: part for part in report["slots"][len(infos) :]}
        rules = [
            (rule.id, f"rule:{rule.id}" in paused, holdouts.get(rule.id)) for rule in ruleset.rules
        ]
        html = pages.overview_page(
            rows, rules, report=report, since=since, csrf=csrf, assets_version=self._assets.version
        )
        return self._page(200, html)

    async def _live_parts(self, slot: CompiledSlot) -> tuple[str, dict[str, object]] | None:
        now_ms = int(self._clock() * 1000)
        windows, paused = await asyncio.gather(
            read_windows(self._store, [slot.id], now_ms, timeout_s=STORE_READ_TIMEOUT_S),
            read_pauses(self._store),
        )
        if windows is None or paused is None:
            return None
        variants = tuple(slot.variants)
        found = windows[slot.id]
        html = pages.live_fragment(
            live.windows_table(variants, found, now_ms),
            live.guardrail_rows(slot.id, slot.control, variants, found, now_ms, paused),
        )
        return html, live.minutes_chart(variants, found, now_ms)

    async def _live(self, slot: CompiledSlot) -> web.Response:
        parts = await self._live_parts(slot)
        if parts is None:
            return web.json_response({"error": "the store cannot answer"}, status=503)
        html, chart = parts
        return web.Response(
            body=orjson.dumps({"html": html, "charts": [chart]}),
            content_type="application/json",
            headers=_HEADERS,
        )

    async def _slot(self, slot: CompiledSlot, since: str, csrf: str) -> web.Response:
        try:
            period = period_of(since, int(self._clock() * 1000), self._retention_days)
        except (ConfigError, UsageError) as err:
            return self._error(400, str(err).removeprefix("--"))
        info = slot_info(slot)
        report, parts, paused, standing, (segments, segments_note) = await asyncio.gather(
            read_report(
                self._store,
                [info],
                period,
                timeout_s=STORE_READ_TIMEOUT_S,
                examples_limit=self._examples_limit,
            ),
            self._live_parts(slot),
            read_pauses(self._store),
            read_guardrail_standing(self._store, slot.id, timeout_s=STORE_READ_TIMEOUT_S),
            self._segments(info),
        )
        if report is None or parts is None or paused is None or standing is None:
            return self._error(503, "the store cannot answer; try again in a moment")
        slot_report = report["slots"][0]
        live_html, live_chart = parts
        html = pages.slot_page(
            slot.id,
            report=slot_report,
            charts=slot_charts(slot_report, report["period"]["bucket"]),
            live_chart=live_chart,
            live_html=live_html,
            guardrail_standing=standing,
            paused=f"slot:{slot.id}" in paused,
            paused_variants=frozenset(
                v for v in slot.variants if f"variant:{slot.id}:{v}" in paused
            ),
            variants=tuple(slot.variants),
            control=slot.control,
            since=since,
            csrf=csrf,
            assets_version=self._assets.version,
            segments=segments,
            segments_note=segments_note,
        )
        return self._page(200, html)

    async def _segments(self, info: SlotInfo) -> tuple[dict[str, Any] | None, str | None]:
        """The slot's breakdown by segment (read in a thread: the log can be long), or why
        there is none."""
        path = self._decision_log
        if path is None:
            return None, "No decision log: the breakdown by segment is read from it."
        try:
            [found] = await asyncio.to_thread(read_breakdowns, path, [info])
        except FileNotFoundError:
            return None, f"No decision log at {path} yet: the learner writes it."
        except OSError as err:
            log.warning("dashboard: cannot read the decision log %s: %s", path, err)
            return None, f"Cannot read the decision log {path}: {err.strerror or err}."
        except LogError as err:
            log.warning("dashboard: decision log unreadable: %s", err)
            return None, f"The decision log cannot be read: {err}"
        if not has_seen([found]):
            return None, f"No seen decisions of this slot in the decision log {path} yet."
        return found, None

    async def _act(
        self, request: web.Request, auth: AdminAuth, session: str | None, csrf: str
    ) -> web.StreamResponse:
        form = await _posted_form(request)
        if form is None:
            return self._error(400, NOT_A_FORM)
        if session is not None and not same_origin(request):
            # the token may be valid: the browser says another site sent the form
            return self._error(
                403, "refused as cross-site: the form was not sent from this dashboard's pages"
            )
        if session is not None and not auth.csrf_valid(session, str(form.get("csrf", ""))):
            return self._error(403, "the form's CSRF token is missing or stale: reload the page")
        action, target = str(form.get("action", "")), str(form.get("target", ""))
        if action not in ("pause", "resume"):
            return self._error(400, "action: expected pause or resume")
        try:
            field = control_field(target, self._rules.current.ruleset)
        except (ConfigError, UsageError) as err:
            return self._error(400, str(err))
        kind, _, name = field.partition(":")
        back = PREFIX + (f"slots/{name.partition(':')[0]}" if kind in ("slot", "variant") else "")
        if form.get("confirmed") != "yes":
            html = pages.confirm_page(action, target, csrf, self._assets.version, back)
            return self._page(200, html)
        if action == "pause":
            why = "paused on the dashboard"
            done = await control.pause(self._store, field, why=why, by="dashboard")
        else:
            done = await control.resume(self._store, field) is not None
        if not done:
            return self._error(503, "the store cannot answer; nothing was changed")
        log.info("dashboard: %s %s", action, field)
        return _see_other(back)
