"""What ``vernier serve`` and ``vernier validate`` check before they start: the rules path and the
origin; and the flags every command that reaches the live proxies' store takes to name it.

A rules path that does not exist is almost always a typo or a wrong working directory, and serving
without the rules the operator meant would look like a broken site, so it is an error (exit 2).
An empty rules folder and an origin that refuses connections are legitimate while setting up
(rules are reloaded when files appear; the origin may start after the proxy), so they are
warnings: printed, and the proxy starts anyway.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from proxy.config.schema import Config
from proxy.errors import UsageError
from proxy.rules.compiled import RuleSet
from proxy.rules.load import load_rules

RULES_SETTING = "--rules, VERNIER_RULES or `rules:` in the config"


def add_store_flags(sub: argparse.ArgumentParser) -> None:
    """``--store`` and ``--data-dir``, spelt and meant as ``vernier serve``'s: a command that
    reads or writes the proxies' store reaches a ``serve --data-dir X`` (its embedded store) or a
    ``serve --store URL`` the same way."""
    sub.add_argument("--store", help="the proxies' store URL (default: from the config)")
    sub.add_argument(
        "--data-dir",
        help="the data folder of a `vernier serve --data-dir` whose embedded store to reach",
    )


# what the commands that reach the live proxies' store say when it does not answer
WHICH_STORE = "is it running? --store URL or --config FILE names the proxies' store"


def load_required_rules(config: Config) -> RuleSet:
    """The rules at ``config.rules``; a path that does not exist is a :class:`UsageError`."""
    path = Path(config.rules)
    if not path.exists():
        raise UsageError(
            f"rules path {path} does not exist (set by {RULES_SETTING}); "
            "create the folder, or point the setting at a rules file or folder"
        )
    return load_rules(path)


def rules_warning(config: Config, ruleset: RuleSet) -> str | None:
    """Why the rule set will change nothing, or ``None`` when it has rules or slots."""
    if ruleset.rules or ruleset.slots:
        return None
    where = "no *.yaml files" if not ruleset.files else "no rules or slots"
    return (
        f"{where} in {config.rules}: Vernier will only add the tracker "
        "(rules are picked up when files appear there)"
    )


async def origin_warning(config: Config) -> str | None:
    """Why the origin cannot be reached now (one TCP connect within its connect timeout), or
    ``None``. Only a connect is tried: a request could have side effects on the site."""
    if not config.origin.url:
        return None
    parts = urlsplit(config.origin.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    timeout_s = config.origin.connect_timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        reason = f"no answer within {timeout_s:g} s"
    except OSError as err:
        reason = err.strerror or type(err).__name__
    else:
        writer.close()
        return None
    return (
        f"origin {config.origin.url} is not reachable now ({reason}); pages answer 502 until it is"
    )
