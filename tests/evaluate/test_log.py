"""The decision-log format: decoding, validation, line numbers in errors."""

from __future__ import annotations

import json

import pytest

from proxy.errors import VernierError
from proxy.evaluate.log import LogError, iter_log, read_log
from proxy.records.decision import REWARD_LIMIT, DecisionRecord, encode_record

LINE = (
    '{"id": "d-7f3a", "slot": "hero", "ts_ms": 1700000000000, "session": "s-1", '
    '"visitor": "v-1", "context": {"D": ["dev=mobile"], "T": ["h=19"]}, '
    '"actions": ["a", "b", "c"], "chosen": "b", "p": 0.8, "pmf": [0.1, 0.8, 0.1], '
    '"reward": 1.0, "reason": "bandit", "model_version": "fs1-x/12", "extra": "ignored"}'
)


def test_documented_example_decodes() -> None:
    (record,) = read_log([LINE])
    assert record.chosen_index == 1
    assert record.context == {"D": ("dev=mobile",), "T": ("h=19",)}
    assert record.is_example


def test_minimal_record_and_round_trip() -> None:
    (record,) = read_log([b'{"id":"1","slot":"s","actions":["a"],"chosen":"a","p":1}', b"  "])
    assert record.reward is None and not record.is_example and record.reason == "bandit"
    assert read_log([encode_record(record)]) == [record]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("chosen", "z", "not among the actions"),
        ("p", 0, "outside (0, 1]"),
        ("p", 1.5, "outside (0, 1]"),
        ("pmf", [1.0], "one probability per action"),
        ("reason", "magic", "reason"),
        ("actions", ["a", "a", "b"], "unique"),
        ("reward", "1", "reward"),
        ("reward", 1e200, "reward 1e+200 is outside ±1e+30"),
        ("reward", -1e31, "reward -1e+31 is outside ±1e+30"),
        ("p", 1e-300, "p 1e-300 is below 1e-12"),  # 1/p squared overflowed in the estimators
    ],
)
def test_invalid_records_name_the_line(key: str, value: object, message: str) -> None:
    bad = json.dumps({**json.loads(LINE), key: value})
    with pytest.raises(LogError) as err:
        read_log([LINE, "", bad], source="decisions.jsonl")
    assert str(err.value).startswith("decisions.jsonl:3: ")
    assert message in str(err.value)
    assert isinstance(err.value, VernierError)


def test_a_reward_at_the_limit_is_read() -> None:
    for reward in (REWARD_LIMIT, -REWARD_LIMIT):
        (record,) = read_log([json.dumps({**json.loads(LINE), "reward": reward})])
        assert record.reward == reward


def test_an_infinite_reward_is_refused() -> None:
    with pytest.raises(LogError, match="<log>:1: Number out of range"):
        read_log([LINE.replace('"reward": 1.0', '"reward": 1e400')])


def test_a_byte_order_mark_before_the_first_line_is_skipped() -> None:
    assert read_log(["\ufeff" + LINE, LINE]) == read_log([LINE, LINE])
    assert read_log([b"\xef\xbb\xbf" + LINE.encode()]) == read_log([LINE])
    with pytest.raises(LogError, match="<log>:2: "):  # only the first line may start with one
        read_log([LINE, "\ufeff" + LINE])


def test_not_json() -> None:
    with pytest.raises(LogError, match="<log>:1: "):
        list(iter_log(["{nope"]))


def test_sticky_is_not_an_example() -> None:
    record = DecisionRecord(
        id="1", slot="s", actions=("a",), chosen="a", p=1.0, reward=0.0, reason="sticky"
    )
    assert not record.is_example
