"""The HTML pieces: operator input is escaped, the page's JSON cannot end its element, the file
report holds everything it needs, and the dashboard's pages carry CSRF tokens on every form."""

from __future__ import annotations

import re
from typing import Any

from proxy.results.html import data_json, inline_script, report_file
from proxy.results.pages import confirm_page, overview_page

HOSTILE = '"><script>alert(1)</script>'


def slot(slot_id: str) -> dict[str, Any]:
    variant = {
        "id": "a", "is_control": True, "decisions": 10, "exposures": 10, "lost_exposures": 0,
        "clicks": 1, "ctr": 0.1, "ctr_ci": [0.01, 0.4], "lift_vs_control": None, "lift_ci": None,
        "p_value": None, "test": None, "p_holm": None, "always_valid_p": None,
        "chance_to_beat_control": None, "chance_to_be_best": 1.0, "expected_loss": 0.0,
        "allocation": 1.0, "conversions": 0, "visitors": 8, "conversions_per_visitor": 0.0,
        "conversion_lift": None, "conversion_lift_ci": None, "conversion_p": None,
    }  # fmt: skip
    series = [{"bucket": 1, "variants": {"a": {"decisions": 10, "exposures": 10, "clicks": 1}}}]
    return {
        "id": slot_id, "policy": "rules", "control": "a", "srm_check": None, "srm_p": None,
        "srm_flagged": False, "exposures": 10, "leader": "a", "sample_size_per_variant": 1000,
        "mde": 0.1, "power": 0.8, "variants": [variant], "series": series,
    }  # fmt: skip


def test_data_json_cannot_close_its_script_element() -> None:
    text = data_json({"title": HOSTILE})
    assert text.count("</script>") == 1 and "\\u003c/script>" in text


def test_inline_script_cannot_be_ended_by_its_code() -> None:
    assert inline_script("var s = '</script>';").count("</script>") == 1


def test_report_file_escapes_ids_and_inlines_its_assets() -> None:
    report = {
        "period": {"bucket": "hour", "first": 1, "last": 1},
        "slots": [slot(HOSTILE)],
    }
    page = report_file(report, js="/*JS*/", css="/*CSS*/")
    assert "<script>alert(1)" not in page
    assert "<style>/*CSS*/</style>" in page and "<script>/*JS*/</script>" in page


def test_every_form_of_the_overview_carries_the_csrf_token() -> None:
    rows = [
        {"id": "hero", "policy": "split", "paused": False, "report": slot("hero"),
         "impressions_60m": 5.0, "guardrail": []},
    ]  # fmt: skip
    page = overview_page(
        rows, [(HOSTILE, True, None)], report=None, since="7d", csrf="c" * 32, assets_version="v"
    )
    assert "<script>alert(1)" not in page
    action_forms = re.findall(
        r'<form class="inline" method="post" action="[^"]*act">.*?</form>', page
    )
    assert len(action_forms) == 2
    assert all('name="csrf" value="' + "c" * 32 + '"' in form for form in action_forms)


def test_confirmation_repeats_the_action_with_confirmed_yes() -> None:
    page = confirm_page("pause", "hero/b", "t" * 32, "v", "/__vernier/admin/slots/hero")
    assert 'name="confirmed" value="yes"' in page and 'value="hero/b"' in page
