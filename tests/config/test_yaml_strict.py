"""Strict YAML: no aliases, anchors, duplicate keys or Python tags (docs/reliability.md §0.12)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from proxy.config.yaml_strict import MAX_FILE_BYTES, load_file, loads
from proxy.errors import ConfigError

ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        loads(text, "conf.yaml")
    return caught.value


# --- aliases and anchors -----------------------------------------------------------------------


def test_alias_bomb_is_refused_at_its_first_anchor_without_expanding() -> None:
    started = time.perf_counter()
    err = error_of(ALIAS_BOMB)
    assert time.perf_counter() - started < 0.5
    assert "anchors" in err.message
    assert (err.file, err.line) == ("conf.yaml", 1)
    assert str(err).startswith("conf.yaml:1:4 ")


@pytest.mark.parametrize("opening", ["[", "{a: "])
@pytest.mark.parametrize("levels", [65, 5000])
def test_nesting_past_the_limit_is_an_error_not_a_traceback(opening: str, levels: int) -> None:
    err = error_of("rules: " + opening * levels)
    assert err.file == "conf.yaml" and err.message == "YAML nested deeper than 64 levels"
    assert err.line == 1


def test_nesting_up_to_the_limit_is_read() -> None:
    data, _ = loads("a: " + "[" * 63 + "]" * 63)
    depth = 0
    while isinstance(data, (dict, list)) and data:
        data = data["a"] if isinstance(data, dict) else data[0]
        depth += 1
    assert depth == 63


def test_anchor_alone_is_refused() -> None:
    err = error_of("server:\n  listen: &l '127.0.0.1:80'\n")
    assert err.line == 2
    assert "&l" in err.message


def test_alias_alone_is_refused_on_its_line() -> None:
    # an undefined alias is a composer error; either way, it never loads
    err = error_of("a: 1\nb: *nowhere\n")
    assert err.line == 2


@pytest.mark.parametrize(
    ("text", "where"),
    [("a: 1\nb: x\x07y\n", (2, 5)), ("a: 1\n# note \x01\n", (2, 8)), ("\x00", (1, 1))],
)
def test_a_control_character_is_named_by_line_and_column(text: str, where: tuple[int, int]) -> None:
    err = error_of(text)
    assert (err.line, err.column) == where
    assert "is not allowed in YAML (a control character)" in err.message


@pytest.mark.parametrize("word", ["yes", "No", "on", "OFF", "true"])
def test_a_key_yaml_reads_as_a_boolean_says_to_quote_it(word: str) -> None:
    err = error_of(f"variants:\n  a: []\n  {word}: []\n")
    assert (err.line, err.path) == (3, f"$.variants.{word}")
    assert f"quote it ('{word}')" in err.message


def test_a_lone_surrogate_is_refused_at_its_key() -> None:
    err = error_of('a: 1\nb: "x\\ud800y"\n')
    assert (err.line, err.path) == (2, "$.b")
    assert "lone surrogate" in err.message
    err = error_of('a:\n  "x\\ud800": 1\n')  # in a key, too
    assert "lone surrogate" in err.message


# --- duplicate keys ----------------------------------------------------------------------------


def test_duplicate_key_names_the_second_key_and_its_path() -> None:
    err = error_of("server:\n  listen: a\n  workers: 2\n  listen: b\n")
    assert "duplicate key 'listen'" in err.message
    assert (err.line, err.path) == (4, "$.server.listen")
    assert str(err) == "conf.yaml:4:3 $.server.listen: duplicate key 'listen'"


def test_duplicate_top_level_key() -> None:
    err = error_of("rules: a\n\nrules: b\n")
    assert (err.line, err.path) == (3, "$.rules")


def test_keys_that_stringify_alike_are_duplicates() -> None:
    err = error_of("x:\n  1: a\n  '1': b\n")
    assert (err.line, err.path) == (3, "$.x.1")


def test_duplicate_key_inside_a_sequence_item() -> None:
    err = error_of("items:\n  - a: 1\n    a: 2\n")
    assert (err.line, err.path) == (3, "$.items[0].a")


# --- tags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object:os.system {x: 1}\n",
        "a: !!python/object/apply:os.system [echo hi]\n",
        "a: !!python/object/new:os.system [echo hi]\n",
        "a: !!python/name:os.system ''\n",
        "a: !!python/object:builtins.object ''\n",
        "a: !!set {x, y}\n",
        "a: !custom [1]\n",
    ],
)
def test_python_and_unknown_tags_are_refused(text: str) -> None:
    err = error_of(text)
    assert err.line == 1
    assert "tag" in err.message


def test_merge_key_is_refused() -> None:
    assert error_of("a: 1\n<<: {b: 2}\n").line == 2


# --- syntax and encoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\n  b: 2\n", 2),
        ("a: [1, 2\nb: 3\n", 2),
        ("a: 1\n---\nb: 2\n", 2),
        ("a: 'open\n", 2),
        ("a:\n\tb: 1\n", 2),
    ],
)
def test_syntax_errors_name_file_and_line(text: str, line: int) -> None:
    err = error_of(text)
    assert err.message.startswith("YAML syntax error")
    assert (err.file, err.line) == ("conf.yaml", line)


def test_non_utf8_file_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\nc: 3\n")
    with pytest.raises(ConfigError) as caught:
        load_file(path)
    assert (caught.value.file, caught.value.line) == (str(path), 2)
    assert "UTF-8" in caught.value.message


def test_file_over_one_mebibyte_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(ConfigError) as caught:
        load_file(path)
    assert "limit" in caught.value.message


def test_file_of_exactly_the_limit_loads(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    body = b"a: 1\n"
    path.write_bytes(body + b"#" * (MAX_FILE_BYTES - len(body) - 1) + b"\n")
    assert load_file(path)[0] == {"a": 1}


def test_a_device_that_never_ends_is_cut_at_the_limit() -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero")
    with pytest.raises(ConfigError, match="limit"):
        load_file(zero)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_file(tmp_path / "absent.yaml")


# --- values and the line map -------------------------------------------------------------------


def test_empty_document_is_none() -> None:
    data, lines = loads("# nothing\n")
    assert data is None
    assert lines.line_of("$.anything") is None


def test_plain_values_load_as_json_like_data() -> None:
    data, _ = loads("a: [1, 2.5, true, null, 'x']\nb: {c: d}\n")
    assert data == {"a": [1, 2.5, True, None, "x"], "b": {"c": "d"}}


def test_line_map_for_nested_mappings_and_sequences() -> None:
    text = (
        "server:\n"  # 1
        "  listen: ':80'\n"  # 2
        "  trusted_proxies:\n"  # 3
        "    - 10.0.0.0/8\n"  # 4
        "    - 192.168.0.1\n"  # 5
        "slots:\n"  # 6
        "  - id: hero\n"  # 7
        "    variants:\n"  # 8
        "      - ops:\n"  # 9
        "          - op: set_text\n"  # 10
        "            value: hi\n"  # 11
        "      - ops: []\n"  # 12
    )
    _, lines = loads(text, "r.yaml")
    expected = {
        "$.server": 1,
        "$.server.listen": 2,
        "$.server.trusted_proxies": 3,
        "$.server.trusted_proxies[0]": 4,
        "$.server.trusted_proxies[1]": 5,
        "$.slots[0]": 7,
        "$.slots[0].id": 7,
        "$.slots[0].variants[0].ops[0].op": 10,
        "$.slots[0].variants[0].ops[0].value": 11,
        "$.slots[0].variants[1]": 12,
        "$.slots[0].variants[1].ops": 12,
    }
    assert {path: lines.line_of(path) for path in expected} == expected


def test_line_of_an_absent_path_falls_back_to_the_nearest_ancestor() -> None:
    _, lines = loads("a:\n  b:\n    c: 1\n")
    assert lines.line_of("$.a.b.missing") == 2
    assert lines.line_of("$.a.b.c[3].x") == 3
    assert lines.line_of("$.nope") == 1


def test_line_map_error_names_file_line_and_path() -> None:
    _, lines = loads("a:\n  b: 1\n", "x.yaml")
    assert str(lines.error("bad", "$.a.b")) == "x.yaml:2:3 $.a.b: bad"


def test_non_scalar_key_is_refused() -> None:
    assert "plain scalars" in error_of("? [1]\n: 2\n").message


def test_null_key_is_refused() -> None:
    assert "unsupported mapping key" in error_of("~: 1\n").message
