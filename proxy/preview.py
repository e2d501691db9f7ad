"""``vernier preview URL``: what the rules do to one page for one imagined visitor.

The page is fetched from the origin (as the proxy would, without the tracker), then run through
the proxy's own match → decide → rewrite stages with a context built from the flags, so what is
printed is what a visitor of that description would get: the rules that fired, each slot's
variant and why, and a unified diff of the HTML. The pauses and kill switches in force are read
once from the live proxies' store (``vernier pause``), so a paused rule does not fire and a paused
slot or variant shows its control (reason ``paused``); if the store cannot be reached the preview
says so, and that it ignores pauses.
"""

from __future__ import annotations

import difflib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from multidict import CIMultiDict

from proxy.app import load_rule_engine, own_hosts
from proxy.config.schema import Config
from proxy.decide.decision import Decision
from proxy.decide.rules_only import decide_with_choices
from proxy.errors import VernierError
from proxy.exchange import Exchange
from proxy.govern.control import NO_PAUSES, Pauses, PauseWatcher
from proxy.html.charset import charset_from_content_type, determine_encoding
from proxy.metrics import Metrics
from proxy.request_view import RequestView
from proxy.rules.compiled import CompiledSlot, RuleSet
from proxy.rules.engine import FixedRules
from proxy.rules.health import RuleHealth
from proxy.session.cookie import CookieSigner, SigningKey
from proxy.session.issuer import IdIssuer
from proxy.stages.decide import Decide
from proxy.stages.match import Match
from proxy.stages.rewrite import Rewrite
from proxy.store import control as control_store
from proxy.store_config import store_for

FETCH_TIMEOUT_S = 15.0
MAX_PAGE_BYTES = 16 * 1024 * 1024

# A recent browser of each kind, so the origin serves what that visitor would get.
USER_AGENTS = {
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    "bot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}


class PreviewError(VernierError):
    """The page could not be fetched or is not HTML."""


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who the preview imagines; ``context`` fields win over what the request implies."""

    device: str | None = None  # None: as the User-Agent header says (desktop's by default)
    headers: Mapping[str, str] | None = None
    cookies: Mapping[str, str] | None = None
    profile: Mapping[str, str] | None = None
    context: Mapping[str, object] | None = None
    landing: bool = False
    variants: Mapping[str, str] | None = None  # slot -> the variant to show, whatever decides


@dataclass(frozen=True, slots=True)
class PreviewResult:
    url: str
    status: int
    rules: tuple[str, ...]
    slots: tuple[tuple[str, str, str, tuple[str, ...]], ...]  # slot, variant, reason, triggers
    before: str
    after: str
    fail: str | None = None
    chosen: frozenset[str] = frozenset()  # slots whose variant --variant chose
    drawn: Mapping[str, str] = field(default_factory=dict)  # slot -> how it is drawn
    pauses: str = ""  # where the pauses came from, or why they are ignored

    def report(self, *, diff: bool = True) -> str:
        lines = [f"GET {self.url} -> {self.status}"]
        if self.pauses:
            lines.append(self.pauses)
        lines.append("rules applied: " + (", ".join(self.rules) or "none"))
        for slot, variant, reason, triggers in self.slots:
            offered = f"; triggers offer {', '.join(triggers)}" if triggers else ""
            why = "chosen with --variant" if slot in self.chosen else reason
            drawn = f"; {self.drawn[slot]}" if slot in self.drawn else ""
            lines.append(f"slot {slot}: variant {variant} ({why}){offered}{drawn}")
        if not self.slots:
            lines.append("slots: none in scope")
        if self.fail:
            lines.append(f"rewrite failed, the page would be served unchanged: {self.fail}")
        if diff:
            changes = difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                "origin",
                "vernier",
            )
            lines.append("".join(changes).rstrip("\n") or "(no change to the HTML)")
        return "\n".join(lines)


class PinnedFields:
    """Context fields the preview's flags pin, whatever the request implies."""

    def __init__(self, fields: Mapping[str, object]) -> None:
        self._fields = dict(fields)

    def add_to(self, context: dict[str, object], request: RequestView) -> None:
        context.update(self._fields)


def throwaway_issuer(config: Config) -> IdIssuer:
    """Ids for the imagined visitor, signed with a key that lives as long as the preview."""
    key = SigningKey("preview", secrets.token_bytes(32))
    return IdIssuer(config.session, CookieSigner([key]), secure=False)


def target_url(config: Config, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    if not config.origin.url:
        raise PreviewError("a path needs origin.url (--upstream, VERNIER_UPSTREAM or the config)")
    return urljoin(config.origin.url, url)


async def fetch(url: str, headers: Mapping[str, str]) -> tuple[int, CIMultiDict[str], bytes]:
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers, allow_redirects=False) as response,
        ):
            body = await response.content.read(MAX_PAGE_BYTES + 1)
            if len(body) > MAX_PAGE_BYTES:
                raise PreviewError(f"{url}: the page is larger than {MAX_PAGE_BYTES} bytes")
            return response.status, CIMultiDict(response.headers), body
    except (aiohttp.ClientError, TimeoutError) as err:
        raise PreviewError(f"could not fetch {url}: {err or type(err).__name__}") from None


def check_choices(ruleset: RuleSet, chosen: Mapping[str, str]) -> None:
    """Every ``--variant SLOT=V`` names a slot of the rules and one of its variants."""
    slots = {slot.id: slot for slot in ruleset.slots}
    for slot_id, variant in chosen.items():
        slot = slots.get(slot_id)
        if slot is None:
            names = ", ".join(sorted(slots)) or "none"
            raise PreviewError(f"--variant: no slot {slot_id!r} in the rules (slots: {names})")
        if variant not in slot.variants:
            names = ", ".join(sorted(slot.variants))
            raise PreviewError(
                f"--variant: slot {slot_id!r} has no variant {variant!r} (variants: {names})"
            )


def describe_pauses(pauses: Pauses) -> str:
    """The pauses in force as one line of the preview."""
    parts = [
        *(f"slot {slot}" for slot in sorted(pauses.slots)),
        *(f"rule {rule}" for rule in sorted(pauses.rules)),
        *(f"{slot}/{v}" for slot, vs in sorted(pauses.variants.items()) for v in sorted(vs)),
    ]
    return ", ".join(parts) or "none"


async def live_pauses(config: Config) -> tuple[Pauses, str]:
    """The pauses and kill switches the live proxies apply, and a line saying where they were
    read; when the store cannot answer, no pauses and a line saying they are ignored."""
    store = store_for(config, None)
    try:
        fields = await control_store.read(store)
    finally:
        await store.close()
    if fields is None:
        return NO_PAUSES, (
            f"pauses: cannot reach the store at {store.url}; this preview ignores pauses "
            "(--store URL or --config FILE names the proxies' store)"
        )
    pauses = Pauses.parse(fields)
    return pauses, f"pauses (from {store.url}): {describe_pauses(pauses)}"


async def preview(config: Config, url: str, visitor: Visitor) -> PreviewResult:
    url = target_url(config, url)
    engine = load_rule_engine(config)
    chosen = dict(visitor.variants or {})
    check_choices(engine.ruleset, chosen)
    pauses, pauses_line = await live_pauses(config)
    headers = CIMultiDict(visitor.headers or {})  # "user-agent" as "Copy as cURL" writes it
    headers.setdefault("User-Agent", USER_AGENTS[visitor.device or "desktop"])
    if visitor.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in visitor.cookies.items())
    status, response_headers, body = await fetch(url, headers)
    content_type = response_headers.get("Content-Type", "")
    if "html" not in content_type.lower():
        raise PreviewError(f"{url}: not an HTML page (Content-Type: {content_type or 'none'})")
    parts = urlsplit(url)
    request = RequestView.build(
        "GET",
        parts.path + (f"?{parts.query}" if parts.query else "") or "/",
        {"Host": parts.netloc, **headers},
    )
    ex = Exchange(request)
    ex.document = body
    ex.headers = CIMultiDict({"Content-Type": content_type})
    ex.profile = dict(visitor.profile or {})
    ex.identity.new_session = visitor.landing
    health = RuleHealth()
    device = {"device": visitor.device} if visitor.device else {}  # else the request's
    match = Match(
        FixedRules(engine),
        config.context,
        health,
        own_hosts=own_hosts(config),
        hidden_cookies=frozenset(),
        context_fields=(PinnedFields({**device, **(visitor.context or {})}),),
        pauses=PauseWatcher(None, current=pauses),
    )
    decide = Decide(decide_with_choices(chosen, pauses), throwaway_issuer(config))
    fail = None
    try:
        for stage in (match, decide, Rewrite(config.html, health, Metrics())):
            await stage(ex)
    except Exception as err:  # what the proxy would do: serve the page unchanged
        fail = f"{type(err).__name__}: {err}"
    out_of_scope = sorted(set(chosen) - {d.slot for d in ex.decisions})
    if out_of_scope and fail is None:
        raise PreviewError(
            f"--variant: slot {', '.join(out_of_scope)} is not in scope on {url} "
            "(see its `where`, and that its selector matches the page)"
        )
    codec = determine_encoding(body, charset_from_content_type(content_type)).codec
    by_id = {slot.id: slot for slot in engine.ruleset.slots}
    return PreviewResult(
        url=url,
        status=status,
        rules=ex.rules_applied,
        slots=tuple(
            (d.slot, d.variant, d.reason, tuple(t[1] for t in d.triggers)) for d in ex.decisions
        ),
        drawn={d.slot: note for d in ex.decisions if (note := _drawn(d, by_id[d.slot]))},
        before=body.decode(codec, "replace"),
        after=(ex.document or body).decode(codec, "replace")
        if fail is None
        else body.decode(codec, "replace"),
        fail=fail,
        chosen=frozenset(chosen),
        pauses=pauses_line,
    )


def _drawn(decision: Decision, slot: CompiledSlot) -> str:
    """For a split or bandit slot the rules left to its draw: that the proxy draws per visitor
    where the preview shows the control (``--variant`` shows another); else nothing."""
    if decision.reason != "default" or len(slot.variants) < 2:
        return ""
    others = ", ".join(f"{slot.id}={v}" for v in slot.variants if v != decision.variant)
    if slot.split:
        shares = ", ".join(f"{v} {p:.0%}" for v, p in slot.split)
        return f"the proxy draws each visitor by the split ({shares}); --variant {others} shows one"
    if slot.learner is not None and slot.learner.bandit and slot.learner.mode == "live":
        return f"the proxy's bandit draws per visitor; --variant {others} shows one"
    return ""
