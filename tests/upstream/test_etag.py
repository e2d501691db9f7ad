"""Changed bodies get weak, variant-specific validators that translate back.

The case: docs/reliability.md PX-14.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.upstream.etag import (
    as_the_client_holds,
    changed_etag,
    origin_if_none_match,
    tracker_mark,
)

DIGEST = "a1b2c3"


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ('"abc"', 'W/"abc-vna1b2c3"'),
        ('W/"abc"', 'W/"abc-vna1b2c3"'),
        ('  "abc"  ', 'W/"abc-vna1b2c3"'),
        ('""', 'W/"-vna1b2c3"'),
        ('"a,b"', 'W/"a,b-vna1b2c3"'),
    ],
)
def test_changed_etag_is_always_weak(origin: str, expected: str) -> None:
    assert changed_etag(origin, DIGEST) == expected


@pytest.mark.parametrize("garbage", [None, "", "abc", 'w/"abc"', '"abc', '"a"b"', '"a", "b"'])
def test_changed_etag_of_missing_or_garbage_is_none(garbage: str | None) -> None:
    assert changed_etag(garbage, DIGEST) is None


def test_changed_etag_depends_on_the_digest() -> None:
    assert changed_etag('"abc"', "one") != changed_etag('"abc"', "two")


@pytest.mark.parametrize("origin", ['"abc"', 'W/"abc"', '"a,b"', '"x-vn"'])
def test_our_validator_translates_back_to_the_origins(origin: str) -> None:
    ours = changed_etag(origin, DIGEST)
    assert ours is not None
    opaque = origin.removeprefix("W/")
    assert origin_if_none_match(ours, DIGEST) == opaque


def test_star_passes_unchanged() -> None:
    assert origin_if_none_match(" * ", DIGEST) == " * "


def test_lists_translate_ours_and_keep_the_origins() -> None:
    value = 'W/"p-vna1b2c3", "q", W/"r" ,W/"s,t-vna1b2c3"'
    assert origin_if_none_match(value, DIGEST) == '"p", "q", W/"r", "s,t"'


def test_stale_digests_are_dropped() -> None:
    assert origin_if_none_match('W/"p-vnold", W/"q-vna1b2c3"', DIGEST) == '"q"'
    assert origin_if_none_match('W/"p-vnold"', DIGEST) == ""


def test_strong_tags_are_the_origins_even_when_they_contain_vn() -> None:
    assert origin_if_none_match('"rev-vn2", W/"x-vnold"', DIGEST) == '"rev-vn2"'


def test_garbage_items_are_skipped() -> None:
    assert origin_if_none_match('junk, W/"p-vna1b2c3", ', DIGEST) == '"p"'


@given(
    tags=st.lists(
        st.tuples(st.booleans(), st.text(alphabet="abcdefXYZ019,-.", max_size=10)), max_size=5
    ),
    digest=st.text(alphabet="0123456789abcdef", min_size=1, max_size=8),
)
def test_round_trip_of_any_list_of_our_validators(
    tags: list[tuple[bool, str]], digest: str
) -> None:
    origin_tags = [("W/" if weak else "") + f'"{opaque}"' for weak, opaque in tags]
    ours = [changed_etag(tag, digest) for tag in origin_tags]
    translated = origin_if_none_match(", ".join(t for t in ours if t), digest)
    assert translated == ", ".join(f'"{opaque}"' for _, opaque in tags)


@pytest.mark.parametrize(
    ("origin", "asked", "expected"),
    [
        ('"css-1"', 'W/"css-1"', 'W/"css-1"'),  # the client holds what Vernier compressed
        ('"css-1"', '"x", W/"css-1"', 'W/"css-1"'),
        ('"css-1"', '"css-1"', '"css-1"'),  # it holds the origin's own bytes
        ('"css-1"', 'W/"css-1", "css-1"', '"css-1"'),
        ('W/"css-1"', 'W/"css-1"', 'W/"css-1"'),  # the origin's tag is weak already
        ('"css-1"', "*", '"css-1"'),
        ('"css-2"', 'W/"css-1"', '"css-2"'),
        ('"css-1"', None, '"css-1"'),
        (None, 'W/"css-1"', None),
        ("garbage", 'W/"garbage"', "garbage"),
    ],
)
def test_a_304_names_the_representation_the_client_holds(
    origin: str | None, asked: str | None, expected: str | None
) -> None:
    assert as_the_client_holds(origin, asked) == expected


def test_each_tracker_state_names_its_own_representation() -> None:
    marks = {state: tracker_mark("d1", state) for state in ("active", "pending", "absent")}
    assert marks["active"] == "d1"  # browsers' copies from before states were named stay valid
    tags = {state: changed_etag('"x"', mark) for state, mark in marks.items()}
    assert len(set(tags.values())) == 3
    held = ", ".join(tag for tag in tags.values() if tag)
    for mark in marks.values():  # only the tag of the state asked about goes to the origin
        assert origin_if_none_match(held, mark) == '"x"'
    assert origin_if_none_match(str(tags["pending"]), marks["active"]) == ""
