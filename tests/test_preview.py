"""``vernier preview``: the rules and variants a described visitor gets on a real page."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.cli import main
from proxy.config.load import load_config
from proxy.config.schema import Config
from proxy.decide.decision import Decision
from proxy.preview import PreviewError, Visitor, _drawn, preview
from proxy.rules.load import load_rules
from tests.redis_server import RedisServerProcess

RULES = """
rules:
  - id: engaged
    where: {paths: ["/page"]}
    when: "engaged_s > 30 and country == 'DE' and hour == 21"
    then: [{op: set_text, selector: "p", value: "Hallo {{ header.accept-language }}"}]
slots:
  - id: hero
    selector: "#hero"
    control: a
    variants: {a: [], b: [{op: set_text, selector: "#hero", value: "Phone"}]}
    pin: [{when: "device == 'mobile'", variant: b}]
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


async def test_preview_reports_rules_variants_and_the_diff(origin: str, rules_file: Path) -> None:
    config = load_config(
        None, overrides={"origin.url": origin, "rules": str(rules_file)}, environ={}
    )
    visitor = Visitor(
        device="mobile",
        headers={"Accept-Language": "de-DE"},
        profile={"engaged_s": "45"},
        context={"country": "DE", "hour": 21},
    )
    result = await preview(config, "/page", visitor)
    assert result.rules == ("engaged",)
    assert [(slot, variant, reason) for slot, variant, reason, _ in result.slots] == [
        ("hero", "b", "rule")
    ]
    report = result.report()
    assert "rules applied: engaged" in report and "slot hero: variant b (rule)" in report
    added = [line for line in report.splitlines() if line.startswith("+<")]
    assert len(added) == 1 and "<p>Hallo de-DE</p>" in added[0]  # the one changed line
    assert "Hallo de-DE" in result.after and "<script" not in result.after
    plain = await preview(config, "/page", Visitor())
    assert plain.rules == () and plain.slots[0][1:3] == ("a", "default")
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    for name in ("User-Agent", "user-agent"):  # lower case: as "Copy as cURL" writes it
        by_header = await preview(config, "/page", Visitor(headers={name: phone}))
        assert by_header.slots[0][1:3] == ("b", "rule")  # the pin for mobile visitors
    pinned = await preview(
        config, "/page", Visitor(device="desktop", headers={"User-Agent": phone})
    )
    assert pinned.slots[0][1:3] == ("a", "default")  # --device wins


async def test_preview_refuses_what_is_not_a_page(origin: str, rules_file: Path) -> None:
    config = load_config(
        None, overrides={"origin.url": origin, "rules": str(rules_file)}, environ={}
    )
    with pytest.raises(PreviewError, match="not an HTML page"):
        await preview(config, "/echo", Visitor())
    with pytest.raises(PreviewError, match="could not fetch"):
        await preview(config, "http://127.0.0.1:9/", Visitor())


def test_bad_preview_flags_get_usage(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (
        ["--hour", "25"],
        ["--profile", "engaged_s"],
        ["--profile", "engaged_s=abc"],
        ["--profile", "engaged_s=inf"],
        ["--profile", "engagd_s=4"],
        ["--country", "Germany"],
        ["--variant", "hero"],
        ["--variant", "hero=a", "--variant", "hero=b"],  # one would silently win
        ["--set", "device=mobile", "--set", "device=tablet"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["preview", "/", *bad])
        assert exit_.value.code == 2
        assert "usage: vernier preview" in capsys.readouterr().err


def test_schema_command_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert '"Trigger"' in out and '"$schema": "https://json-schema.org/draft/2020-12/schema"' in out


BANDIT_RULES = """
slots:
  - id: hero
    selector: "#hero"
    where: {paths: ["/page"]}
    control: a
    policy: bandit
    variants:
      a: []
      b: [{op: set_text, selector: "#hero", value: "Bold"}]
      c: [{op: set_text, selector: "#hero", value: "Calm"}]
  - id: elsewhere
    selector: "#hero"
    where: {paths: ["/other"]}
    control: a
    variants: {a: [], b: [{op: hide, selector: "#hero"}]}
"""


@pytest.fixture
def bandit_config(tmp_path: Path, origin: str) -> Config:
    path = tmp_path / "bandit.yaml"
    path.write_text(BANDIT_RULES)
    return load_config(None, overrides={"origin.url": origin, "rules": str(path)}, environ={})


async def test_preview_shows_a_chosen_variant_of_a_bandit_slot(bandit_config: Config) -> None:
    result = await preview(bandit_config, "/page", Visitor(variants={"hero": "c"}))
    assert result.slots[0][:3] == ("hero", "c", "rule")
    report = result.report()
    assert "slot hero: variant c (chosen with --variant)" in report
    added = [line for line in report.splitlines() if line.startswith("+<")]
    assert added and all("Calm" in line for line in added)  # the diff is the variant's change
    assert "Calm" in result.after and "Calm" not in result.before
    unchosen = await preview(bandit_config, "/page", Visitor())
    assert unchosen.slots[0][1:3] == ("a", "default")  # no model in a preview: the control
    assert (  # ... which the report says the proxy would not show everyone
        "slot hero: variant a (default); the proxy's bandit draws per visitor; "
        "--variant hero=b, hero=c shows one" in unchosen.report()
    )


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ({"hreo": "b"}, "--variant: no slot 'hreo' in the rules (slots: elsewhere, hero)"),
        ({"hero": "d"}, "--variant: slot 'hero' has no variant 'd' (variants: a, b, c)"),
        ({"elsewhere": "b"}, "--variant: slot elsewhere is not in scope on http://"),
    ],
)
async def test_preview_refuses_a_variant_it_cannot_show(
    bandit_config: Config, variants: dict[str, str], message: str
) -> None:
    with pytest.raises(PreviewError) as caught:
        await preview(bandit_config, "/page", Visitor(variants=variants))
    assert message in str(caught.value)


async def test_preview_command_takes_variant_flags(
    bandit_config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["preview", "/page", "--variant", "hero=b", "--rules", bandit_config.rules]
    argv += ["--upstream", bandit_config.origin.url]
    # in a thread: the command runs its own event loop, the origin answers on this one
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    assert "slot hero: variant b (chosen with --variant)" in out and "Bold" in out
    assert await asyncio.to_thread(main, [*argv[:3], "hero=zz", *argv[4:]]) == 2
    assert "has no variant 'zz'" in capsys.readouterr().err


def run_vernier(*args: str) -> subprocess.CompletedProcess[str]:
    """The real ``vernier`` command (run in a thread while the origin answers on this loop)."""
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )


async def test_preview_shows_what_the_pauses_in_the_store_leave(
    origin: str, rules_file: Path, redis_server: RedisServerProcess
) -> None:
    where = ["--rules", str(rules_file), "--store", redis_server.url]
    argv = ["preview", "/page", "--device", "mobile", "--no-diff", "--upstream", origin, *where]
    argv += ["--profile", "engaged_s=45", "--country", "DE", "--hour", "21"]

    async def vernier(*args: str) -> str:
        result = await asyncio.to_thread(run_vernier, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    out = await vernier(*argv)
    assert "pauses (from redis://" in out and "): none" in out
    assert "rules applied: engaged" in out and "slot hero: variant b (rule)" in out
    await vernier("pause", "hero/b", *where)
    await vernier("pause", "engaged", *where)
    out = await vernier(*argv)
    assert "): rule engaged, hero/b" in out  # the pauses the proxies apply, listed
    assert "rules applied: none" in out and "slot hero: variant a (paused)" in out
    await vernier("resume", "hero/b", *where)
    await vernier("pause", "hero", *where)  # the slot's kill switch
    assert "slot hero: variant a (paused)" in await vernier(*argv)
    chosen = await vernier(*argv, "--variant", "hero=b")  # what the operator asks to see
    assert "slot hero: variant b (chosen with --variant)" in chosen
    redis_server.stop()
    out = await vernier(*argv)
    assert "cannot reach the store at redis://" in out and "this preview ignores pauses" in out
    assert "rules applied: engaged" in out and "slot hero: variant b (rule)" in out


def test_a_split_slot_left_to_its_draw_says_how_the_proxy_draws(tmp_path: Path) -> None:
    rules = tmp_path / "split.yaml"
    rules.write_text(
        "slots:\n  - id: hero\n    selector: '#hero'\n    control: a\n    policy: split\n"
        "    split: {a: 0.25, b: 0.75}\n    variants: {a: [], b: [{op: remove, selector: p}]}\n"
    )
    [slot] = load_rules(rules).slots
    note = _drawn(Decision("d" * 16, "hero", "a", "default"), slot)
    assert (
        note
        == "the proxy draws each visitor by the split (a 25%, b 75%); --variant hero=b shows one"
    )
    assert _drawn(Decision("d" * 16, "hero", "b", "rule"), slot) == ""
