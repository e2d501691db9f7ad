"""The per-bucket counts the plots draw."""

from __future__ import annotations

from proxy.records.results_buckets import Buckets
from proxy.results.series import series


def test_buckets_in_order_every_variant_and_measure_with_zeros_for_the_missing() -> None:
    buckets = Buckets({11: {"b|clicks": 2.0}, 10: {"a|decisions": 3.0, "a|exposures": 2.0}}, {})
    assert series(("a", "b"), buckets) == [
        {"bucket": 10, "variants": {
            "a": {"decisions": 3.0, "exposures": 2.0, "clicks": 0.0},
            "b": {"decisions": 0.0, "exposures": 0.0, "clicks": 0.0}}},
        {"bucket": 11, "variants": {
            "a": {"decisions": 0.0, "exposures": 0.0, "clicks": 0.0},
            "b": {"decisions": 0.0, "exposures": 0.0, "clicks": 2.0}}},
    ]  # fmt: skip
