"""Naming the mapping keys msgspec elides from an error's path."""

from __future__ import annotations

import msgspec

from proxy.config.elided_keys import path_segments, resolve_elided_keys


class Row(msgspec.Struct):
    set: dict[str, float]


class File(msgspec.Struct):
    rows: list[Row]
    groups: dict[str, dict[str, float]] = {}


def refused(data: object) -> tuple[str, str]:
    try:
        msgspec.convert(data, File, strict=True)
    except msgspec.ValidationError as err:
        return str(err), str(err).rpartition("`")[0].rpartition("`")[2]
    raise AssertionError("accepted")


def test_a_path_splits_into_keys_indexes_and_elided_keys() -> None:
    assert path_segments("$.rows[0].set[...]") == ["rows", 0, "set", None]


def test_the_elided_key_is_the_one_whose_value_is_refused() -> None:
    data = {"rows": [{"set": {"a": 0.1}}, {"set": {"a": 0.1, "b": "0.2", "c": "x"}}]}
    error, path = refused(data)
    assert path == "$.rows[1].set[...]"
    assert resolve_elided_keys(data, path, error, File) == "$.rows[1].set.b"


def test_nested_elided_keys_are_each_named() -> None:
    data = {"rows": [], "groups": {"device": {"mobile": 0.5}, "country": {"DE": True}}}
    error, path = refused(data)
    assert path == "$.groups[...][...]"
    assert resolve_elided_keys(data, path, error, File) == "$.groups.country.DE"
