"""Flag values of the commands (``proxy/commands/flag_values.py``): pure parsers."""

from __future__ import annotations

import argparse
import re

import pytest

from proxy.commands.flag_values import context_field, profile_field


@pytest.mark.parametrize(
    "given",
    ["device=mobile", "hour=0", "hour=23", "weekday=sun", "referrer.class=search",
     "cookie.plan=pro", "header.x-ab=1", "score.rfm=0.5", "tz=Asia/Tokyo"],
)  # fmt: skip
def test_a_context_field_the_rules_read_is_taken(given: str) -> None:
    name, _, value = given.partition("=")
    assert context_field(given) == (name, value)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("devce=mobile", "unknown context field 'devce' (did you mean device?)"),
        ("nope=x", "unknown context field 'nope'"),
        ("hour=25", "hour takes a whole number 0-23, got 25"),
        ("hour=abc", "hour takes a whole number 0-23"),
        ("hour=-1", "hour takes a whole number 0-23"),
        ("hour=9.5", "hour takes a whole number 0-23"),
        ("segment=vip", "segment follows from the segments' conditions"),  # would do nothing
        ("segments=vip", "segments follows from the segments' conditions"),
        ("weekday=funday", "weekday takes one of mon, tue"),
        ("device", "expected NAME=VALUE"),
    ],
)
def test_a_context_field_no_rule_reads_is_a_usage_error(given: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        context_field(given)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("engaged_s=-5", "engaged_s takes 0 or more, got '-5'"),
        ("max_scroll=5", "max_scroll takes 0 to 1, got '5'"),
        ("score.rfm=1.5", "score.rfm takes 0 to 1"),
        ("visits=many", "visits takes a number"),
        ("engagd_s=4", "unknown profile field 'engagd_s' (did you mean engaged_s?)"),
    ],
)
def test_a_profile_value_no_profile_holds_is_a_usage_error(given: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        profile_field(given)


def test_a_profile_value_in_range_is_taken() -> None:
    assert profile_field("max_scroll.blog=0.9") == ("max_scroll.blog", "0.9")
    assert profile_field("engaged_s=40") == ("engaged_s", "40")
    assert profile_field("tz=Asia/Tokyo") == ("tz", "Asia/Tokyo")
