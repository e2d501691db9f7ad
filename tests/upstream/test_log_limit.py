"""LogLimit alone: one line per key per interval, with the count of lines held back."""

from __future__ import annotations

from proxy.upstream.log_limit import LogLimit, held_back


class SteppedClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_the_first_line_of_a_key_is_written_then_one_per_interval_with_a_count() -> None:
    clock = SteppedClock()
    limit = LogLimit(interval_s=60.0, clock=clock)
    assert limit.admit(500) == 0
    assert [limit.admit(500) for _ in range(3)] == [None, None, None]
    clock.now_s += 59.9
    assert limit.admit(500) is None
    clock.now_s += 0.1
    assert limit.admit(500) == 4  # four held back since the first line
    assert limit.admit(500) is None
    clock.now_s += 60.0
    assert limit.admit(500) == 1


def test_keys_are_limited_apart() -> None:
    clock = SteppedClock()
    limit = LogLimit(interval_s=60.0, clock=clock)
    assert limit.admit(500) == 0
    assert limit.admit(503) == 0
    assert limit.admit(500) is None
    clock.now_s += 60.0
    assert limit.admit(503) == 0 and limit.admit(500) == 1


def test_the_suffix_names_the_count_only_when_lines_were_held_back() -> None:
    assert held_back(0) == ""
    assert held_back(7) == " (7 more like it since the last such line)"
