"""Flag values of the commands (``proxy/commands/flag_values.py``): pure parsers."""

from __future__ import annotations

import argparse
import re

import pytest

from proxy.commands.flag_values import context_field


@pytest.mark.parametrize(
    "given",
    ["device=mobile", "hour=0", "hour=23", "weekday=sun", "referrer.class=search",
     "cookie.plan=pro", "header.x-ab=1", "score.rfm=0.5", "segment=vip", "tz=Asia/Tokyo"],
)  # fmt: skip
def test_a_context_field_the_rules_read_is_taken(given: str) -> None:
    name, _, value = given.partition("=")
    assert context_field(given) == (name, value)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("devce=mobile", "unknown context field 'devce' (did you mean device?)"),
        ("nope=x", "unknown context field 'nope'"),
        ("hour=25", "hour takes a whole number 0-23, got '25'"),
        ("hour=abc", "hour takes a whole number 0-23"),
        ("hour=-1", "hour takes a whole number 0-23"),
        ("weekday=funday", "weekday takes one of mon, tue"),
        ("device", "expected NAME=VALUE"),
    ],
)
def test_a_context_field_no_rule_reads_is_a_usage_error(given: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        context_field(given)
