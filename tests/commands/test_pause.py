"""``vernier pauses``: one line per pause, with an ISO 8601 time a person can read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from proxy.cli import main
from proxy.commands.pause import pause_line
from tests.redis_server import free_port


def test_a_pause_reads_with_an_iso_time() -> None:
    at_ms = int(datetime(2026, 12, 6, 8, 10, 5, tzinfo=UTC).timestamp() * 1000) + 999
    value = orjson.dumps({"why": "broken image", "by": "ana (vernier pause)", "at_ms": at_ms})
    assert pause_line("slot:hero", value.decode()) == (
        "slot:hero  since 2026-12-06T08:10:05Z  by ana (vernier pause)  why: broken image"
    )


@pytest.mark.parametrize(
    "value",
    ["not json", "[1, 2]", '{"why": "x"}', '{"at_ms": "soon"}', '{"at_ms": 1e300}'],
)
def test_a_value_the_proxies_did_not_write_is_shown_as_it_is(value: str) -> None:
    assert pause_line("rule:promo", value) == f"rule:promo  {value}"


def test_pause_names_a_missing_rules_path_and_an_unreachable_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"redis://127.0.0.1:{free_port()}"
    assert main(["pause", "hero", "--rules", str(tmp_path / "absent"), "--store", store]) == 2
    assert f"rules path {tmp_path / 'absent'} does not exist" in capsys.readouterr().err
    (tmp_path / "hero.yaml").write_text(
        "slots:\n  - {id: hero, selector: '#h', control: a, variants: {a: [], b: []}}\n"
    )
    assert main(["pause", "hero", "--rules", str(tmp_path / "hero.yaml"), "--store", store]) == 2
    err = capsys.readouterr().err
    assert f"cannot write to the store at {store}; is it running?" in err
    assert main(["pauses", "--store", store]) == 2  # listing needs no rules
    assert "cannot read the store" in capsys.readouterr().err
