"""What YAML 1.1 made of an unquoted value, said beside the type error."""

from __future__ import annotations

import pytest

from proxy.config.yaml_hints import unquoted_hint
from proxy.config.yaml_strict import loads


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("a: [{v: 12:30}]", "expected a string, got an integer", "unquoted as 750: put it in"),
        ("a: [{v: on}]", "expected a string, got a boolean", "unquoted as true: put it in"),
        ("a: [{v: 1.5}]", "expected a string, got a number", "unquoted as 1.5: put it in"),
        (
            "a: [{v: 1e3}]",
            "expected an integer, got a string",
            "reads 1e3 as text, not a number: write 1000",
        ),
        ("a: [{v: -25e-3}]", "expected a number, got a string", "write -0.025"),
        ("a: [{v: 1e30}]", "expected a number, got a string", "write 1.0e+30"),
        ("a: [{v: abc}]", "expected an integer, got a string", ""),
        ("a: [{v: 3}]", "expected a boolean, got an integer", ""),
    ],
)
def test_the_hint_says_what_yaml_read(text: str, message: str, hint: str) -> None:
    data, _ = loads(text, "t.yaml")
    found = unquoted_hint(data, "$.a[0].v", message)
    assert (hint in found) if hint else found == ""


def test_a_path_not_in_the_data_gets_no_hint() -> None:
    data, _ = loads("a: 1", "t.yaml")
    assert unquoted_hint(data, "$.b[3].c", "expected a string, got an integer") == ""
