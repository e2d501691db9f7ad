"""``vernier preview``: the rules and variants a described visitor gets on a real page."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.cli import main
from proxy.config.load import load_config
from proxy.preview import PreviewError, Visitor, preview

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


async def test_preview_refuses_what_is_not_a_page(origin: str, rules_file: Path) -> None:
    config = load_config(
        None, overrides={"origin.url": origin, "rules": str(rules_file)}, environ={}
    )
    with pytest.raises(PreviewError, match="not an HTML page"):
        await preview(config, "/echo", Visitor())
    with pytest.raises(PreviewError, match="could not fetch"):
        await preview(config, "http://127.0.0.1:9/", Visitor())


def test_bad_preview_flags_get_usage(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--hour", "25"], ["--profile", "engaged_s"], ["--country", "Germany"]):
        with pytest.raises(SystemExit) as exit_:
            main(["preview", "/", *bad])
        assert exit_.value.code == 2
        assert "usage: vernier preview" in capsys.readouterr().err


def test_schema_command_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert '"Trigger"' in out and '"$schema": "https://json-schema.org/draft/2020-12/schema"' in out
