"""World files: the format, its checks (file:line and key path), and what a world means."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import ConfigError
from proxy.simulate.world_file import load_world

WORLDS = Path(__file__).resolve().parents[2] / "bench" / "worlds"

GOOD = """\
name: small
variants: [a, b]
contexts:
  device: {mobile: 0.5, desktop: 0.5}
  hour: {9: 0.5, 21: 0.5}
rates:
  - set: {a: 0.05, b: 0.05}
  - when: {device: mobile, hour: [9]}
    set: {b: 0.20}
drift:
  at: 100
  rates:
    - {when: {hour: 21}, set: {a: 0.30}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "world.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_world_file_gives_its_rates_per_context_and_after_the_drift(tmp_path: Path) -> None:
    spec = load_world(write(tmp_path, GOOD))
    assert spec.variants == ("a", "b") and spec.control == "a" and spec.visitors == 4000
    mobile_9 = (("device", "mobile"), ("hour", 9))
    desktop_21 = (("device", "desktop"), ("hour", 21))
    assert spec.rates(mobile_9) == {"a": 0.05, "b": 0.20}
    assert spec.rates(desktop_21, index=99) == {"a": 0.05, "b": 0.05}
    assert spec.rates(desktop_21, index=100) == {"a": 0.30, "b": 0.05}
    assert sum(p for _, p in spec.contexts()) == pytest.approx(1.0)
    # oracle: a quarter of the visitors (mobile at 9) earn 0.20, the rest 0.05
    assert spec.mean_ctr("oracle") == pytest.approx(0.25 * 0.20 + 0.75 * 0.05)
    assert spec.mean_ctr("control") == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (("variants: [a, b]", "variants: [a, a]"), ":2", "a variant is listed twice"),
        (("device: {mobile: 0.5,", "device: {mobile: 0.4,"), ":4", "must sum to 1"),
        (("  hour: {9: 0.5, 21: 0.5}", "  hour: {9: 0.5, 25: 0.5}"), ":5", "hour '25'"),
        (("  device:", "  shoe_size:"), ":4", "unknown context field 'shoe_size'"),
        (("set: {b: 0.20}", "set: {z: 0.20}"), ":9", "unknown variant 'z'"),
        (("set: {b: 0.20}", "set: {b: 1.5}"), ":9:11", "$.rates[1].set.b: a rate must be between"),
        (("set: {b: 0.20}", "set: {b: .nan}"), ":9:11", "set.b: a rate must be between"),
        (("set: {b: 0.20}", 'set: {b: "0.2"}'), ":9:11", "$.rates[1].set.b: expected a number"),
        (
            ("{mobile: 0.5, desktop: 0.5}", "{mobile: 0.5, desktop: yes}"),
            ":4",
            "device.desktop: exp",
        ),
        (
            ("{mobile: 0.5, desktop: 0.5}", "{mobile: 1.5, desktop: -0.5}"),
            ":4",
            "device.mobile: a share",
        ),
        (("when: {device: mobile,", "when: {device: tablet,"), ":8", "'tablet' is not one"),
        (
            ("hour: [9]}", 'hour: ["9am"]}'),
            ":8:28",
            "$.rates[1].when.hour: hour '9am' is not a whole number 0-23",
        ),
        (("hour: [9]}", "hour: [10]}"), ":8:28", "when.hour: hour 10 is not one of its listed"),
        (("  - set: {a: 0.05, b: 0.05}", "  - set: {a: 0.05}"), ":6", "no rate for b"),
        (("name: small", "name: small\ncolour: red"), ":2", "colour"),
    ],
)
def test_a_bad_world_names_the_file_line_and_what_is_wrong(
    tmp_path: Path, change: tuple[str, str], where: str, message: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_world(path)
    text = str(info.value)
    assert text.startswith(f"{path}{where}"), text
    assert message in text


def test_an_hour_is_spelled_the_same_ways_in_contexts_and_in_when(tmp_path: Path) -> None:
    """Keys of ``contexts`` are read as text (``9``, ``09``, ``"09"``): the hours of ``when``
    are read the same way, so a quoted or zero-padded hour means the same in both."""
    text = GOOD.replace("hour: {9: 0.5, 21: 0.5}", 'hour: {"09": 0.5, 21: 0.5}')
    text = text.replace("hour: [9]}", 'hour: ["09"]}').replace("{hour: 21}", "{hour: '21'}")
    spec = load_world(write(tmp_path, text))
    assert spec.shares["hour"] == {9: 0.5, 21: 0.5}
    mobile_9 = (("device", "mobile"), ("hour", 9))
    desktop_21 = (("device", "desktop"), ("hour", 21))
    assert spec.rates(mobile_9) == {"a": 0.05, "b": 0.20}
    assert spec.rates(desktop_21, index=100) == {"a": 0.30, "b": 0.05}
    padded = load_world(write(tmp_path, GOOD.replace("hour: [9]}", "hour: 09}")))
    assert padded.rates(mobile_9) == {"a": 0.05, "b": 0.20}


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nvariants: [a, b\n")
    with pytest.raises(ConfigError) as info:
        load_world(path)
    assert str(info.value).startswith(f"{path}:")


def test_every_world_of_the_suite_loads() -> None:
    names = {load_world(path).name for path in sorted(WORLDS.glob("*.yaml"))}
    assert len(names) >= 6
    assert {"aa", "drift"} <= names
