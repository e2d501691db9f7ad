"""Header-only bot flags: the default token list, its override, and browsers that must pass."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from proxy.tracker.bots import DEFAULT_BOT_TOKENS, BotFilter, is_bot

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
HEADLESS = CHROME.replace("Chrome/", "HeadlessChrome/")
BROWSERS = [
    CHROME,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    # a CUBOT phone: "bot" inside a word is not a bot
    "Mozilla/5.0 (Linux; Android 10; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    HEADLESS,
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Wget/1.21.4",
    "Python/3.11 aiohttp/3.14.5",
    "Go-http-client/1.1",
    "Mozilla/5.0 (compatible; SomeNewCrawler/1.0)",
    "my-uptime-bot 1.0",
    "FooBot/2.0 (+https://foo.example)",
    "",
    "   ",
    None,
]


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_browsers_are_not_bots(user_agent: str) -> None:
    headers = CIMultiDict({"User-Agent": user_agent, "Sec-CH-UA": '"Chromium";v="131"'})
    assert not is_bot(user_agent, headers)


@pytest.mark.parametrize("user_agent", BOTS)
def test_known_bots_and_missing_agents_are_bots(user_agent: str | None) -> None:
    assert is_bot(user_agent, CIMultiDict())


def test_header_signals() -> None:
    assert is_bot(CHROME, CIMultiDict({"sec-ch-ua": '"HeadlessChrome";v="131"'}))
    assert is_bot(CHROME, CIMultiDict({"From": "googlebot(at)googlebot.com"}))


def test_the_list_can_let_our_headless_browser_tests_count() -> None:
    tests_filter = BotFilter(DEFAULT_BOT_TOKENS - {"headlesschrome"})
    assert not tests_filter.is_bot(HEADLESS, CIMultiDict({"Sec-CH-UA": '"HeadlessChrome";v="1"'}))
    assert tests_filter.is_bot("curl/8.5.0", CIMultiDict())
    nobody = BotFilter.nobody()
    assert not any(nobody.is_bot(ua, CIMultiDict({"From": "x"})) for ua in BOTS)


def test_a_custom_list_is_case_insensitive() -> None:
    only = BotFilter(["MyProbe"], generic=False)
    assert only.is_bot("myprobe/1", CIMultiDict())
    assert not only.is_bot("curl/8.5.0", CIMultiDict())
