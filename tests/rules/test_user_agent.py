"""User-Agent and client-hint classification against a table of real-world user agents."""

from __future__ import annotations

import pytest

from proxy.rules.user_agent import MAX_UA_CHARS, Device, classify

# (user agent, device, browser, os)
# fmt: off
REAL_WORLD: list[tuple[str, str, str, str]] = [
    # --- desktop Chrome / Firefox / Edge / Safari / Opera on each OS
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "desktop", "chrome", "windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "desktop", "chrome", "macos"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "desktop", "chrome", "linux"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "desktop", "chrome", "chromeos"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "desktop", "firefox", "windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0", "desktop", "firefox", "macos"),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "desktop", "firefox", "linux"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "desktop", "firefox", "linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "desktop", "edge", "windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "desktop", "edge", "macos"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045", "desktop", "edge", "windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "desktop", "safari", "macos"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15", "desktop", "safari", "macos"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", "desktop", "opera", "windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", "desktop", "opera", "macos"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 YaBrowser/24.12.0.0 Safari/537.36", "desktop", "other", "windows"),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", "desktop", "other", "windows"),
    # --- iPhone
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "mobile", "safari", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "mobile", "chrome", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15", "mobile", "firefox", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/131.2903.68 Mobile/15E148 Safari/605.1.15", "mobile", "edge", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1 OPT/5.0.2", "mobile", "opera", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/21F90 Instagram 355.0.0.23.66 (iPhone15,3; iOS 17_5; en_US; en; scale=3.00; 1290x2796; 654563464)", "mobile", "other", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/485.0.0.41.108;FBBV/660000000;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBCR/;FBID/phone;FBLC/en_US;FBOP/80]", "mobile", "other", "ios"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/343.0.695551749 Mobile/15E148 Safari/604.1", "mobile", "other", "ios"),
    ("Mozilla/5.0 (iPod touch; CPU iPhone OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1", "mobile", "safari", "ios"),
    # --- iPad (iPadOS 13+ Safari says Macintosh: see the module doc and test below)
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "tablet", "chrome", "ios"),
    ("Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1", "tablet", "safari", "ios"),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15", "tablet", "firefox", "ios"),
    # --- Android phones
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "mobile", "chrome", "android"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36", "mobile", "chrome", "android"),
    ("Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "mobile", "firefox", "android"),
    ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "mobile", "samsung", "android"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0", "mobile", "edge", "android"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36 OPR/86.0.0.0", "mobile", "opera", "android"),
    ("Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/118.0.0.0 Mobile Safari/537.36", "mobile", "other", "android"),
    ("Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; GT-I9100 Build/IML74K) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30", "mobile", "other", "android"),
    ("Opera/9.80 (Android; Opera Mini/7.5.54678/191.308; U; en) Presto/2.12.423 Version/12.16", "mobile", "opera", "android"),
    ("Mozilla/5.0 (Linux; Android 11; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "mobile", "chrome", "android"),
    # --- Android tablets (no "Mobile")
    ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "tablet", "chrome", "android"),
    ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-X910) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Safari/537.36", "tablet", "samsung", "android"),
    ("Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0", "tablet", "firefox", "android"),
    ("Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/131.3.1 like Chrome/131.0.6778.200 Safari/537.36", "tablet", "other", "android"),
    # --- other mobiles
    ("Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15254", "mobile", "edge", "other"),
    ("Mozilla/5.0 (Mobile; LYF/F300B/LYF-F300B-001-01-15-130718-i;Android; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5", "mobile", "firefox", "android"),
    # --- bots and tools
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", "other", "other"),
    ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", "chrome", "android"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36", "bot", "chrome", "other"),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "bot", "other", "other"),
    ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", "bot", "other", "other"),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", "bot", "other", "other"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "bot", "other", "other"),
    ("Twitterbot/1.0", "bot", "other", "other"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", "bot", "other", "other"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "bot", "chrome", "linux"),
    ("curl/8.5.0", "bot", "other", "other"),
    ("python-requests/2.32.3", "bot", "other", "other"),
    ("Wget/1.21.4", "bot", "other", "other"),
    ("Go-http-client/2.0", "bot", "other", "other"),
    ("Mozilla/5.0 (compatible; SomeCrawler/1.0)", "bot", "other", "other"),
]
# fmt: on


def test_table_has_at_least_forty_user_agents() -> None:
    assert len(REAL_WORLD) >= 40


@pytest.mark.parametrize(("ua", "device", "browser", "os"), REAL_WORLD)
def test_real_world_user_agents(ua: str, device: str, browser: str, os: str) -> None:
    assert classify(ua, ch_mobile=None, ch_platform=None) == (device, browser, os)


def test_ipados_desktop_class_safari_is_a_mac() -> None:
    """iPadOS 13+ Safari sends the macOS UA and no hints: documented as indistinguishable."""
    ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
    assert classify(ua, ch_mobile=None, ch_platform=None) == ("desktop", "safari", "macos")


CHROME_ANDROID_REDUCED = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
CHROME_WINDOWS = REAL_WORLD[0][0]
CHROME_LINUX = REAL_WORLD[2][0]
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"


@pytest.mark.parametrize(
    ("ua", "ch_mobile", "ch_platform", "expected"),
    [
        (CHROME_ANDROID_REDUCED, "?1", '"Android"', ("mobile", "chrome", "android")),
        (CHROME_ANDROID_REDUCED, "?0", '"Android"', ("tablet", "chrome", "android")),
        # "request desktop site" on a phone: Linux UA, hints still say Android
        (CHROME_LINUX, "?0", '"Android"', ("tablet", "chrome", "android")),
        (CHROME_LINUX, "?1", '"Android"', ("mobile", "chrome", "android")),
        (CHROME_WINDOWS, "?0", '"Windows"', ("desktop", "chrome", "windows")),
        (CHROME_LINUX, "?0", '"Chrome OS"', ("desktop", "chrome", "chromeos")),
        (CHROME_WINDOWS, "?0", '"macOS"', ("desktop", "chrome", "macos")),
        (CHROME_WINDOWS, " ?0 ", ' "Linux" ', ("desktop", "chrome", "linux")),
        # unknown or malformed hints fall back to the User-Agent
        (CHROME_WINDOWS, "yes", '"Unknown"', ("desktop", "chrome", "windows")),
        (CHROME_WINDOWS, "", "", ("desktop", "chrome", "windows")),
        # a bot stays a bot whatever its hints say
        (HEADLESS, "?1", '"Linux"', ("bot", "chrome", "linux")),
    ],
)
def test_client_hints_win(
    ua: str, ch_mobile: str, ch_platform: str, expected: tuple[str, str, str]
) -> None:
    assert classify(ua, ch_mobile=ch_mobile, ch_platform=ch_platform) == expected


@pytest.mark.parametrize("ua", [None, "", "   "])
def test_missing_user_agent_is_a_bot(ua: str | None) -> None:
    assert classify(ua, ch_mobile=None, ch_platform=None).device == "bot"


def test_result_is_a_named_tuple() -> None:
    device = classify(CHROME_WINDOWS, ch_mobile=None, ch_platform=None)
    assert isinstance(device, Device)
    assert (device.device, device.browser, device.os) == ("desktop", "chrome", "windows")


def test_huge_user_agent_is_truncated_and_still_classified() -> None:
    ua = CHROME_WINDOWS + " x" * 100_000
    assert classify(ua, ch_mobile=None, ch_platform=None) == ("desktop", "chrome", "windows")
    assert len(ua) > MAX_UA_CHARS
