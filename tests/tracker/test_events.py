"""The event parser: the shared contract's examples, the hostile inputs of docs/reliability.md
EV-03, and properties (arbitrary bytes or JSON values never raise anything but
``EventRejected``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.records.events import Batch, Custom, Event, PageView, Scroll, Trigger
from proxy.tracker.events import EventRejected, parse_batch

CONTRACT = json.loads(
    (Path(__file__).resolve().parents[2] / "tracker_js" / "events.contract.json").read_text()
)
LIMITS = CONTRACT["limits"]
VALID = CONTRACT["valid_examples"]
INVALID = CONTRACT["invalid_examples"]


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def batch_of(*events: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "page": "p_3fa9c1d2e4", "events": list(events)}


def scroll(i: int = 1, **extra: Any) -> dict[str, Any]:
    return {"id": f"e_{i:04d}aaaa", "type": "scroll", "ts": 1, "depth": 0.5, **extra}


def rejected(body: bytes) -> EventRejected:
    with pytest.raises(EventRejected) as info:
        parse_batch(body)
    assert info.value.status == 400
    assert len(info.value.reason) <= 160
    return info.value


@pytest.mark.parametrize("example", VALID, ids=lambda e: f"{len(e['events'])} events")
def test_contract_valid_examples_parse(example: dict[str, Any]) -> None:
    batch = parse_batch(encode(example))
    assert isinstance(batch, Batch)
    assert [type(e).__name__ for e in batch.events] == [
        "PageView",
        "Impression",
        "Click",
        "Scroll",
        "Engaged",
        "Hover",
        "Form",
        "Conversion",
        "Custom",
        "Trigger",
    ]
    assert [e.id for e in batch.events] == [e["id"] for e in example["events"]]


def test_every_contract_type_has_a_struct() -> None:
    tags = {cls.__struct_config__.tag for cls in get_args(Event)}
    assert tags == set(CONTRACT["types"])


def test_trigger_is_decoded() -> None:
    event = {
        "id": "e_0001aaaa",
        "type": "trigger",
        "ts": 1,
        "slot": "hero",
        "variant": "c",
        "decision": "d_99cc00dd",
        "trigger": "dwell_30s",
    }
    batch = parse_batch(encode(batch_of(event)))
    assert batch.events[0] == Trigger(
        id="e_0001aaaa", ts=1, slot="hero", variant="c", decision="d_99cc00dd", trigger="dwell_30s"
    )


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e["why"])
def test_contract_invalid_examples_are_rejected(example: dict[str, Any]) -> None:
    assert rejected(encode(example["batch"])).reason.startswith("schema: $")


def test_contract_limits_match_the_types() -> None:
    assert LIMITS["max_events_per_batch"] == 50
    parse_batch(encode(batch_of(*(scroll(i) for i in range(50)))))
    reason = rejected(encode(batch_of(*(scroll(i) for i in range(51))))).reason
    assert reason.startswith("schema: $.events:")


def test_schema_reason_names_the_path() -> None:
    reason = rejected(encode(batch_of(scroll(depth="deep")))).reason
    assert reason == "schema: $.events[0].depth: expected a number, got a string"


HOSTILE = {
    "empty": b"",
    "not json": b"hello",
    "truncated": b'{"v": 1, "page": "p_3fa9c1d2e4", "events": [',
    "trailing garbage": encode(batch_of(scroll())) + b" x",
    "top-level array": b"[1, 2]",
    "top-level string": b'"v"',
    "top-level null": b"null",
    "invalid utf-8 in a string": encode(batch_of(scroll())).replace(
        b"p_3fa9c1d2e4", b"p_3fa9c1\xff"
    ),
    "invalid utf-8 outside a string": b"\xff\xfe{}",
    "utf-16": encode(batch_of(scroll())).decode().encode("utf-16"),
    "lone surrogate": encode(
        batch_of({"id": "e_0001aaaa", "type": "pageview", "ts": 1, "url": "\ud800"})
    ),
    "100k-deep array": b"[" * 100_000 + b"]" * 100_000,
    "100k-deep array as events": b'{"v":1,"page":"p_3fa9c1d2e4","events":'
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}",
    "100k-deep before the type tag": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","x":'
    + b'{"a":' * 100_000
    + b"1"
    + b"}" * 100_000
    + b',"type":"scroll","ts":1,"depth":0.5}]}',
    "5001-digit integer": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"engaged","ts":'
    + b"1" * 5001
    + b',"ms":1}]}',
    "5001-digit integer in props": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"custom","ts":1,"name":"x","props":{"a":'
    + b"9" * 5001
    + b"}}]}",
    "NaN": encode(batch_of(scroll())).replace(b"0.5", b"NaN"),
    "Infinity": encode(batch_of(scroll())).replace(b"0.5", b"Infinity"),
    "1e999": encode(
        batch_of({"id": "e_0001aaaa", "type": "conversion", "ts": 1, "name": "x"})
    ).replace(b'"name"', b'"value": 1e999, "name"'),
    "duplicate top-level key": b'{"v":1,"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"scroll","ts":1,"depth":0.5}]}',
    "duplicate event key": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"scroll","ts":1,"depth":0.9,"depth":0.1}]}',
    "duplicate key after an escape": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"pageview","ts":1,"url":"/\\u003a","url":"/"}]}',
    "duplicate props key": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"custom","ts":1,"name":"x","props":{"a":1,"a":2}}]}',
    "duplicate key hidden by a colon in a string": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"pageview","ts":1,"url":"/a:b","url":"/"}]}',
    "duplicate type tag": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"scroll","type":"scroll","ts":1,"depth":0.5}]}',
    "wrong type: v as string": encode({"v": "1", "page": "p_3fa9c1d2e4", "events": [scroll()]}),
    "wrong type: v as bool": encode({"v": True, "page": "p_3fa9c1d2e4", "events": [scroll()]}),
    "wrong type: v as float": b'{"v":1.0,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"scroll","ts":1,"depth":0.5}]}',
    "wrong type: ts as float": encode(batch_of(scroll(ts=1.5))),
    "wrong type: events as object": encode({"v": 1, "page": "p_3fa9c1d2e4", "events": {}}),
    "extra top-level property": encode({**batch_of(scroll()), "session": "s_attacker00"}),
    "extra event property": encode(batch_of(scroll(session="s_attacker00"))),
    "missing page": encode({"v": 1, "events": [scroll()]}),
    "missing type": encode(batch_of({"id": "e_0001aaaa", "ts": 1, "depth": 0.5})),
    "negative ts": encode(batch_of(scroll(ts=-1))),
    "url over 2048": encode(
        batch_of({"id": "e_0001aaaa", "type": "pageview", "ts": 1, "url": "/" + "a" * 2048})
    ),
    "title over 256": encode(
        batch_of({"id": "e_0001aaaa", "type": "pageview", "ts": 1, "url": "/", "title": "t" * 257})
    ),
    "name over 64": encode(
        batch_of({"id": "e_0001aaaa", "type": "custom", "ts": 1, "name": "n" * 65})
    ),
    "empty name": encode(batch_of({"id": "e_0001aaaa", "type": "custom", "ts": 1, "name": ""})),
    "id over 64": encode(batch_of(scroll() | {"id": "e" * 65})),
    "id with a bad character": encode(batch_of(scroll() | {"id": "e_0001aa:a"})),
    "21 props": encode(
        batch_of(
            {
                "id": "e_0001aaaa",
                "type": "custom",
                "ts": 1,
                "name": "x",
                "props": {f"k{i}": i for i in range(21)},
            }
        )
    ),
    "prop value list": encode(
        batch_of({"id": "e_0001aaaa", "type": "custom", "ts": 1, "name": "x", "props": {"a": [1]}})
    ),
    "engaged over an hour": encode(
        batch_of({"id": "e_0001aaaa", "type": "engaged", "ts": 1, "ms": 3_600_001})
    ),
    "conversion value over 1e9": encode(
        batch_of({"id": "e_0001aaaa", "type": "conversion", "ts": 1, "name": "x", "value": 1e9 + 1})
    ),
    "currency of 4 letters": encode(
        batch_of(
            {"id": "e_0001aaaa", "type": "conversion", "ts": 1, "name": "x", "currency": "EURO"}
        )
    ),
    "form action other": encode(
        batch_of({"id": "e_0001aaaa", "type": "form", "ts": 1, "action": "change", "form": "f"})
    ),
    "trigger without its trigger id": encode(
        batch_of(
            {
                "id": "e_0001aaaa",
                "type": "trigger",
                "ts": 1,
                "slot": "s",
                "variant": "v",
                "decision": "d",
            }
        )
    ),
    "trigger id over 64": encode(
        batch_of(
            {
                "id": "e_0001aaaa",
                "type": "trigger",
                "ts": 1,
                "slot": "s",
                "variant": "v",
                "decision": "d",
                "trigger": "t" * 65,
            }
        )
    ),
    "64 KiB unknown type": encode(batch_of({"id": "e_0001aaaa", "type": "x" * 65_000, "ts": 1})),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_bodies_are_400(body: bytes) -> None:
    reason = rejected(body).reason
    assert reason.split(":", 1)[0] in {"json", "schema"}


def test_duplicate_keys_name_the_key() -> None:
    assert rejected(HOSTILE["duplicate event key"]).reason == "json: duplicate key `depth`"


def test_reasons_for_json_errors() -> None:
    assert rejected(HOSTILE["invalid utf-8 in a string"]).reason == "json: invalid UTF-8"
    assert rejected(HOSTILE["100k-deep before the type tag"]).reason == "json: nested too deeply"
    assert rejected(HOSTILE["NaN"]).reason.startswith("json: malformed at byte ")


ACCEPTED_EDGES = {
    "escapes": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"pageview","ts":1,"url":"/a\\u003ab\\"c","title":"\\u00e9t\\u00e9"}]}',
    "explicit null": b'{"v":1,"page":"p_3fa9c1d2e4","events":[{"id":"e_0001aaaa","type":"pageview","ts":1,"url":"/","ref":null}]}',
    "colons in strings and keys": encode(
        batch_of(
            {"id": "e_0001aaaa", "type": "pageview", "ts": 1, "url": "/a:b", "ref": "https://x:1/"},
            {"id": "e_0002aaaa", "type": "custom", "ts": 1, "name": "n:1", "props": {"k:1": "v:2"}},
        )
    ),
    "whitespace": b' { "v" : 1 ,\n "page" : "p_3fa9c1d2e4" , "events" : [ { "type" : "scroll" , "id" : "e_0001aaaa" , "ts" : 1 , "depth" : 1 } ] } ',
    "non-ascii": encode(
        batch_of(
            {
                "id": "e_0001aaaa",
                "type": "pageview",
                "ts": 1,
                "url": "/caf\u00e9",
                "title": "\U0001f600",
            }
        )
    ),
}


@pytest.mark.parametrize("body", ACCEPTED_EDGES.values(), ids=ACCEPTED_EDGES.keys())
def test_edges_that_are_valid(body: bytes) -> None:
    batch = parse_batch(body)
    assert len(batch.events) in (1, 2)


def test_values_are_decoded() -> None:
    batch = parse_batch(ACCEPTED_EDGES["escapes"])
    assert batch.events[0] == PageView(id="e_0001aaaa", ts=1, url='/a:b"c', title="\u00e9t\u00e9")
    scrolled = parse_batch(ACCEPTED_EDGES["whitespace"]).events[0]
    assert isinstance(scrolled, Scroll) and scrolled.depth == 1.0
    custom = parse_batch(ACCEPTED_EDGES["colons in strings and keys"]).events[1]
    assert isinstance(custom, Custom) and custom.props == {"k:1": "v:2"}


# --- properties -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
event_like = st.fixed_dictionaries(
    {"id": st.sampled_from(["e_0001aaaa", "x"]), "type": st.sampled_from(list(CONTRACT["types"]))},
    optional={
        "ts": st.integers(),
        "depth": st.floats(),
        "ms": st.integers(),
        "url": st.text(max_size=30),
        "name": st.text(max_size=70),
        "props": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
        "slot": st.text(max_size=5),
        "target": st.text(max_size=5),
    },
)
batch_like = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 2, "1"]), "page": st.sampled_from(["p_3fa9c1d2e4", ""])},
    optional={"events": st.lists(event_like | json_values, max_size=4), "x": json_values},
)


def parses_or_rejects(body: bytes) -> None:
    try:
        parse_batch(body)
    except EventRejected as exc:
        assert exc.status == 400


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_else(body: bytes) -> None:
    parses_or_rejects(body)


@settings(max_examples=300)
@given(json_values | batch_like)
def test_arbitrary_json_never_raises_anything_else(value: Any) -> None:
    parses_or_rejects(json.dumps(value).encode())


@settings(max_examples=300)
@given(batch_like, st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=3))
def test_mangled_json_never_raises_anything_else(value: Any, at: int, junk: bytes) -> None:
    body = json.dumps(value, ensure_ascii=False).encode()
    parses_or_rejects(body[:at] + junk + body[at:])


@settings(max_examples=200)
@given(st.lists(st.sampled_from(VALID[0]["events"]), min_size=1, max_size=5), st.data())
def test_a_repeated_key_is_always_found(events: list[dict[str, Any]], data: st.DataObject) -> None:
    """Any valid batch with one key written twice (either value first) is a 400."""
    events = [dict(e, id=f"e_{i:04d}aaaa") for i, e in enumerate(events)]
    body = encode(batch_of(*events))
    parse_batch(body)
    index = data.draw(st.integers(0, len(events) - 1))
    key = data.draw(st.sampled_from(sorted(events[index])))
    text = json.dumps(events[index][key])
    events_text = [encode(e).decode() for e in events]
    events_text[index] = events_text[index].replace(
        "{", "{" + json.dumps(key) + ": " + text + ", ", 1
    )
    doubled = '{"v": 1, "page": "p_3fa9c1d2e4", "events": [' + ", ".join(events_text) + "]}"
    assert rejected(doubled.encode()).reason == f"json: duplicate key `{key}`"


def pageview(**extra: Any) -> dict[str, Any]:
    return {"id": "e_0001aaaa", "type": "pageview", "ts": 1, "url": "/", **extra}


def test_a_page_views_time_zone_is_kept_when_it_names_a_zone() -> None:
    [view] = parse_batch(encode(batch_of(pageview(tz="Asia/Calcutta")))).events
    assert isinstance(view, PageView) and view.tz == "Asia/Calcutta"


@pytest.mark.parametrize("zone", ["Etc/Unknown", "Mars/Olympus_Mons", "localtime"])
def test_a_well_formed_unknown_time_zone_is_ignored_not_the_page_view(zone: str) -> None:
    batch = parse_batch(encode(batch_of(pageview(tz=zone), scroll(2))))
    view, other = batch.events
    assert isinstance(view, PageView) and view.tz is None and view.url == "/"
    assert isinstance(other, Scroll)


@pytest.mark.parametrize(
    "zone", ["", "Europe/Berlin; drop", "../etc/passwd", "A/B/C/D", "E" * 65, 7]
)
def test_a_malformed_time_zone_is_400(zone: object) -> None:
    assert rejected(encode(batch_of(pageview(tz=zone)))).reason.startswith("schema: $.events[0].tz")
