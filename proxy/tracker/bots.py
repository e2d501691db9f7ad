"""Is a beacon from a crawler or an automated browser? Decided per request from headers alone.

Events from bots are still stored (with ``EventRecord.bot`` set) so counts reconcile, but the
learner and the statistics skip them: a crawler that "sees" every variant and never converts would
bias every estimate towards whichever variant it happened to be shown.

The split of responsibilities:

* **Here, per request:** a compact list of tokens that crawlers, HTTP libraries and automation
  tools put in ``User-Agent`` (matched case-insensitively), a missing or empty ``User-Agent`` (every
  browser sends one), a ``Sec-CH-UA`` brand list naming ``HeadlessChrome``, and a ``From`` header
  (RFC 9110 §10.1.2: sent by robots, never by browsers).
* **In the profile updater, per session:** the behaviour rule — no ``scroll`` and no ``engaged``
  time over the whole session marks it as a bot. Only the updater sees a whole session; one
  beacon cannot tell a bounce from a bot.

Well-behaved crawlers rarely run the tracker at all; what this list mostly catches is headless
browsers and scripts that replay beacons. It is deliberately short and obvious: a determined bot
sets a browser's ``User-Agent``, and the behaviour rule is the net for those.

**Our own browser tests** drive headless Chromium, whose ``User-Agent`` says ``HeadlessChrome``,
so their events are flagged. They are still stored, so tests that count stored events pass
unchanged; tests that need them to count as human (learning, reports) build the intake with
``BotFilter(DEFAULT_BOT_TOKENS - {"headlesschrome"})`` or ``BotFilter.nobody()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Lower case; a token matches anywhere in the User-Agent unless the pattern says otherwise.
DEFAULT_BOT_TOKENS: frozenset[str] = frozenset(
    {
        # search and social crawlers, SEO and AI crawlers
        "googlebot",
        "google-inspectiontool",
        "bingbot",
        "yandexbot",
        "baiduspider",
        "duckduckbot",
        "applebot",
        "slurp",
        "facebookexternalhit",
        "twitterbot",
        "linkedinbot",
        "ahrefsbot",
        "semrushbot",
        "mj12bot",
        "petalbot",
        "bytespider",
        "gptbot",
        "ccbot",
        "claudebot",
        "amazonbot",
        # headless and automated browsers
        "headlesschrome",
        "phantomjs",
        "selenium",
        "webdriver",
        "lighthouse",
        # HTTP libraries and command-line clients
        "python-requests",
        "python-urllib",
        "python-httpx",
        "aiohttp",
        "curl/",
        "wget/",
        "go-http-client",
        "okhttp",
        "java/",
        "libwww-perl",
        "scrapy",
        "node-fetch",
        "axios/",
        # monitors
        "pingdom",
        "uptimerobot",
    }
)
# generic words: "crawler"/"spider"/"scraper" anywhere, "bot" as a word or before a version
# ("SomeBot/1.0"), so that the "CUBOT" phone (Android UA "CUBOT X19") is not a bot
_GENERIC = r"crawler|spider|scraper|(?<![a-z])bot(?![a-z])|bot/"


class BotFilter:
    """``is_bot(user_agent, headers)`` with one precompiled pattern of ``tokens``.

    Built once at startup; pass a different token set to override the list (see the module doc
    for the browser-test case).
    """

    def __init__(self, tokens: Iterable[str] = DEFAULT_BOT_TOKENS, *, generic: bool = True) -> None:
        self.tokens = frozenset(token.lower() for token in tokens)
        alternatives = [re.escape(token) for token in sorted(self.tokens)]
        if generic:
            alternatives.append(_GENERIC)
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None
        self._flag_missing = generic or bool(self.tokens)

    @classmethod
    def nobody(cls) -> BotFilter:
        """A filter that flags nothing (tests that must count every event as human)."""
        return cls((), generic=False)

    def is_bot(self, user_agent: str | None, headers: Mapping[str, str]) -> bool:
        if not self._flag_missing:
            return False
        if not user_agent or not user_agent.strip():
            return True
        if self._pattern is not None and self._pattern.search(user_agent.lower()):
            return True
        if (
            "headlesschrome" in self.tokens
            and "headlesschrome" in headers.get("Sec-CH-UA", "").lower()
        ):
            return True
        return "From" in headers


def is_bot(user_agent: str | None, headers: Mapping[str, str]) -> bool:
    """The default list; the intake uses a :class:`BotFilter` it was given instead."""
    return _DEFAULT.is_bot(user_agent, headers)


_DEFAULT = BotFilter()
