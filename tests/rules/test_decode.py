"""Decoding one rules file: typed structs, or an error at the key msgspec elided."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config.yaml_strict import load_file
from proxy.errors import ConfigError
from proxy.html.ops.registry import SetText
from proxy.rules.decode import decode_rules_file
from tests.rules.test_load import SLOT, write


def decode(tmp_path: Path, text: str) -> object:
    data, lines = load_file(write(tmp_path, text))
    return decode_rules_file(data, lines)


def test_a_good_file_decodes_to_operations(tmp_path: Path) -> None:
    rules = decode(tmp_path, SLOT % "{op: hide, selector: p}")
    slot = rules.slots[0]  # type: ignore[attr-defined]
    assert slot.variants["b"][0] == SetText(selector=".hero-title", value="Brew")


@pytest.mark.parametrize(
    ("op", "line", "path", "message"),
    [
        # msgspec says $.slots[0].variants[...][2]: the elided key is found again
        ("{op: hide}", 10, "$.slots[0].variants.b[2]", "missing required key 'selector'"),
        ("{op: nope, selector: p}", 10, "$.slots[0].variants.b[2].op", "unknown operation 'nope'"),
    ],
)
def test_errors_name_the_elided_key(
    tmp_path: Path, op: str, line: int, path: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        decode(tmp_path, SLOT % op)
    assert (caught.value.line, caught.value.path) == (line, path)
    assert message in caught.value.message


def test_an_unknown_operation_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"known: add_class, append, .*swap_image\)"):
        decode(tmp_path, SLOT % "{op: nope, selector: p}")


def test_a_malformed_variant_id_is_named(tmp_path: Path) -> None:
    text = SLOT.replace("      b:\n", "      B b:\n") % "{op: hide, selector: p}"
    with pytest.raises(ConfigError) as caught:
        decode(tmp_path, text)
    assert caught.value.path == "$.slots[0].variants.B b"
    assert caught.value.message.startswith("key 'B b' ")
