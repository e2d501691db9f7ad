"""Device class, browser family and operating system from ``User-Agent`` and client hints.

Rules say ``device == 'mobile'`` or ``browser == 'safari'``; this module turns the headers a
browser sends into those few coarse values. It is a pure function over strings, with a bounded
LRU cache because a site's traffic repeats a few hundred distinct user agents.

**Client hints win when present.** Chromium browsers send ``Sec-CH-UA-Mobile`` (``?1``/``?0``)
and ``Sec-CH-UA-Platform`` (``"Android"``, ``"Windows"``, …) on every request, and they freeze
the ``User-Agent`` (Android's reduced UA reads ``Linux; Android 10; K``), so the hints are the
better source for the device class and the OS. ``?0`` on Android means a tablet (Chrome on a
tablet sends ``?0``); a phone in "request desktop site" mode sends ``?0`` too and is therefore
reported as a tablet — the browser asks for the large layout, which is what a rule cares about.

**Known limits.**

* **iPadOS 13+ Safari sends a macOS desktop User-Agent** (``Macintosh; Intel Mac OS X 10_15_7
  … Version/17.0 Safari/605.1.15``) and no client hints, so it is indistinguishable from a Mac
  on the server: it is reported as ``desktop``/``macos``/``safari``. Only script in the page can
  tell (``navigator.maxTouchPoints > 1``). Chrome, Firefox and Edge on iPad still say ``iPad``.
* Android without the ``Mobile`` token is a tablet (Google's own guidance for Android UAs);
  Android TV boxes and car displays land there too.
* Bots are recognised by a short list of tokens plus the generic words ``bot``, ``crawler``,
  ``spider``; an empty ``User-Agent`` is a bot (every browser sends one). Their browser and OS
  are still parsed (Googlebot Smartphone says Android/Chrome): a rule that must not touch bots
  says ``device != 'bot'``, and a crawler that impersonates a browser keeps seeing what that
  browser would see, which is what search engines expect (no cloaking).
* In-app browsers and WebViews (Facebook, Instagram, the Google app, Android ``wv``) and
  niche Chromium browsers (Yandex, UC, MIUI, Huawei, Silk) are ``other``, not ``chrome``/
  ``safari``: they share the engine but not the browser's features or users.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, NamedTuple

from proxy.tracker.bots import is_bot

DeviceClass = Literal["mobile", "tablet", "desktop", "bot"]
BrowserFamily = Literal["chrome", "firefox", "safari", "edge", "opera", "samsung", "other"]
OperatingSystem = Literal["ios", "android", "windows", "macos", "linux", "chromeos", "other"]

# Real user agents are 100-300 characters; anything longer is truncated before it becomes a
# cache key, so a client cannot make the cache hold megabytes.
MAX_UA_CHARS = 512
MAX_HINT_CHARS = 32
CACHE_SIZE = 2048


class Device(NamedTuple):
    """What a rule can ask about the client: ``device``, ``browser``, ``os``."""

    device: DeviceClass
    browser: BrowserFamily
    os: OperatingSystem


# Lower case, matched anywhere in the lower-cased User-Agent. A local copy of the idea in
# ``proxy/tracker/bots.py`` (kept separate: the tracker's list is configurable per intake).

# First match wins. iOS before macOS ("like Mac OS X"), Android before Linux ("Linux; Android"),
# Windows Phone before Android (its UA claims Android too).
_OS_RULES: tuple[tuple[re.Pattern[str], OperatingSystem], ...] = (
    (re.compile(r"Windows Phone"), "other"),
    (re.compile(r"iPhone|iPad|iPod"), "ios"),
    (re.compile(r"Android"), "android"),
    (re.compile(r"CrOS"), "chromeos"),
    (re.compile(r"Windows"), "windows"),
    (re.compile(r"Macintosh|Mac OS X"), "macos"),
    (re.compile(r"Linux"), "linux"),
)
# First match wins. Edge, Opera and Samsung Internet also say "Chrome/"; everything Chromium-
# or WebKit-based says "Safari/", so those come last.
_BROWSER_RULES: tuple[tuple[re.Pattern[str], BrowserFamily], ...] = (
    (re.compile(r"Edg(?:e|A|iOS)?/"), "edge"),
    (re.compile(r"OPR/|OPiOS/|OPT/|OPX/|Opera"), "opera"),
    (re.compile(r"SamsungBrowser/"), "samsung"),
    (
        re.compile(
            r"FBAN|FBAV|Instagram|GSA/|YaBrowser/|UCBrowser/|MiuiBrowser/|HuaweiBrowser/|Silk/|; wv\)"
        ),
        "other",
    ),
    (re.compile(r"Firefox/|FxiOS/"), "firefox"),
    (re.compile(r"Chrome/|CriOS/|Chromium/"), "chrome"),
)
_SAFARI = re.compile(r"Safari/")
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Opera Mini|IEMobile|Windows Phone|BlackBerry|BB10")
_TABLET = re.compile(r"iPad|Tablet|Kindle|Silk/|PlayBook")

# Sec-CH-UA-Platform values (a structured-header string, quotes included on the wire)
_CH_PLATFORMS: dict[str, OperatingSystem] = {
    "android": "android",
    "ios": "ios",
    "windows": "windows",
    "macos": "macos",
    "linux": "linux",
    "chrome os": "chromeos",
    "chromeos": "chromeos",
    "chromium os": "chromeos",
}


def classify(user_agent: str | None, *, ch_mobile: str | None, ch_platform: str | None) -> Device:
    """The client's device class, browser family and OS; never raises.

    ``ch_mobile`` and ``ch_platform`` are the raw ``Sec-CH-UA-Mobile`` and ``Sec-CH-UA-Platform``
    header values, or ``None`` when absent.
    """
    return _classify(
        (user_agent or "")[:MAX_UA_CHARS],
        (ch_mobile or "")[:MAX_HINT_CHARS],
        (ch_platform or "")[:MAX_HINT_CHARS],
    )


@lru_cache(maxsize=CACHE_SIZE)
def _classify(ua: str, ch_mobile: str, ch_platform: str) -> Device:
    os = _os(ua)
    browser = _browser(ua, os)
    hinted_os = _CH_PLATFORMS.get(ch_platform.strip().strip('"').strip().lower())
    if hinted_os is not None:
        os = hinted_os
    if not ua.strip() or _is_bot(ua.lower()):
        return Device("bot", browser, os)
    device = _device(ua, os)
    mobile_hint = ch_mobile.strip()
    if mobile_hint == "?1":
        device = "mobile"
    elif mobile_hint == "?0":
        device = "tablet" if os == "android" or device == "tablet" else "desktop"
    return Device(device, browser, os)


def _is_bot(lower_ua: str) -> bool:
    """One bot list for the whole proxy: the tracker's (``proxy.tracker.bots``)."""
    return is_bot(lower_ua, _NO_HEADERS)


_NO_HEADERS: dict[str, str] = {}


def _os(ua: str) -> OperatingSystem:
    for pattern, os in _OS_RULES:
        if pattern.search(ua):
            return os
    return "other"


def _browser(ua: str, os: OperatingSystem) -> BrowserFamily:
    for pattern, browser in _BROWSER_RULES:
        if pattern.search(ua):
            return browser
    # Safari on Windows died in 2012; an old Android stock browser also says "Safari/"
    if os in ("ios", "macos") and _SAFARI.search(ua):
        return "safari"
    return "other"


def _device(ua: str, os: OperatingSystem) -> DeviceClass:
    if os == "ios":
        return "tablet" if "iPad" in ua else "mobile"
    if os == "android":
        # Firefox says "Android 14; Mobile" or "Android 14; Tablet"; Chrome omits "Mobile" on
        # tablets
        if "Tablet" in ua or not _MOBILE.search(ua):
            return "tablet"
        return "mobile"
    if _MOBILE.search(ua):
        return "mobile"
    if os != "windows" and _TABLET.search(ua):
        return "tablet"
    return "desktop"
