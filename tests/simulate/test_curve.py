"""The simulation's outputs: CSV rows, the learning-curve PNG, the summary."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from proxy.simulate.curve import (
    CSV_FIELDS,
    curve_window,
    moving_average,
    summarise,
    summary_text,
    write_csv,
    write_png,
)
from proxy.simulate.spec_world import SpecWorld
from proxy.simulate.world import Outcome, World
from proxy.simulate.world_file import load_world

WORLDS = Path(__file__).resolve().parents[2] / "bench" / "worlds"


def outcomes(count: int, *, seed: int = 2, learns_after: int | None = None) -> list[Outcome]:
    """A run whose 'bandit' serves the control, then (from ``learns_after``) the oracle's pick."""
    world = World()
    result = []
    for v in world.visitors(count, seed):
        learned = learns_after is not None and v.index >= learns_after
        variant = world.oracle(v.context)[0] if learned else world.control
        result.append(
            Outcome(
                visitor=v,
                variant=variant,
                decision=f"d{v.index:08d}",
                reason="bandit",
                probability=0.9,
                clicked=world.clicks(v, variant),
                expected=world.expected(v.context, variant),
                elapsed_s=v.index / 100,
            )
        )
    return result


def test_the_csv_has_a_header_and_one_row_per_visitor(tmp_path: Path) -> None:
    path = tmp_path / "simulate.csv"
    runs = outcomes(300)
    write_csv(path, runs)
    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    assert tuple(rows[0]) == CSV_FIELDS
    assert len(rows) == 301
    first = dict(zip(CSV_FIELDS, rows[1], strict=True))
    o = runs[0]
    assert first["index"] == "0"
    assert (first["device"], first["referrer"]) == (o.visitor.device, o.visitor.referrer)
    assert first["variant"] == o.variant == "a"
    assert first["clicked"] == str(int(o.clicked))
    assert float(first["ctr_served"]) == pytest.approx(o.expected.served)
    assert float(first["ctr_uniform"]) == pytest.approx(o.expected.uniform, abs=1e-4)
    assert float(first["ctr_oracle"]) == pytest.approx(o.expected.oracle)
    assert first["probability"] == "0.9000"
    # this world's visitors show no hour, country or language: the columns are there, empty
    assert (first["hour"], first["country"], first["language"]) == ("", "", "")


def test_the_csv_gives_the_hour_country_and_language_a_world_files_visitor_showed(
    tmp_path: Path,
) -> None:
    """Appended after the original columns, which keep their order."""
    world = SpecWorld(load_world(WORLDS / "hour.yaml"))
    visitors = list(world.visitors(50, seed=1))
    runs = [
        Outcome(
            visitor=v,
            variant="a",
            decision=f"d{v.index:08d}",
            reason="bandit",
            probability=0.5,
            clicked=world.clicks(v, "a"),
            expected=world.expected_for(v, "a"),
            elapsed_s=0.0,
        )
        for v in visitors
    ]
    path = tmp_path / "simulate.csv"
    write_csv(path, runs)
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert CSV_FIELDS[:13] == (
        "index", "device", "referrer", "variant", "reason", "probability", "clicked",
        "ctr_served", "ctr_uniform", "ctr_control", "ctr_oracle", "oracle_variant", "elapsed_s",
    )  # fmt: skip
    assert CSV_FIELDS[13:] == ("hour", "country", "language")
    shown = [(int(r["hour"]), r["country"], r["language"]) for r in rows]
    assert shown == [
        (v.context["hour"], v.context["country"], v.context["language"]) for v in visitors
    ]
    assert len({hour for hour, _, _ in shown}) > 1


def test_the_png_is_written(tmp_path: Path) -> None:
    path = tmp_path / "curve.png"
    write_png(
        path,
        outcomes(2_000, learns_after=1_000),
        title="test",
        marks=[(1_500, "variant:hero:c paused")],
    )
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # axes, five curves, a legend; an empty figure is ~3 kB


def test_an_empty_run_still_writes_both_files(tmp_path: Path) -> None:
    write_csv(tmp_path / "s.csv", [])
    write_png(tmp_path / "c.png", [], title="nothing")
    assert (tmp_path / "s.csv").read_text().strip() == ",".join(CSV_FIELDS)
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
    assert summarise([]).visitors == 0


def test_the_summary_is_over_the_last_quarter() -> None:
    runs = outcomes(4_000, learns_after=3_000)
    summary = summarise(runs)
    tail = runs[3_000:]
    assert summary.visitors == 1_000
    assert summary.bandit_expected == pytest.approx(summary.oracle)
    assert summary.bandit_realised == pytest.approx(sum(o.clicked for o in tail) / 1_000)
    assert summary.uniform == pytest.approx(sum(o.expected.uniform for o in tail) / 1_000)
    assert summary.of_oracle(summary.bandit_expected) == pytest.approx(1.0)
    assert 0.4 < summary.of_oracle(summary.uniform) < 0.5
    assert "bandit / oracle: " in summary_text(summary)


def test_moving_average() -> None:
    assert moving_average([1, 0, 1, 0, 1], 2) == [1.0, 0.5, 0.5, 0.5, 0.5]
    assert moving_average([], 5) == []
    assert moving_average([3.0], 5) == [3.0]
    assert curve_window(100) == 50 and curve_window(20_000) == 1_000


def test_recovery_counts_the_visitors_after_a_change_until_the_window_is_back() -> None:
    from proxy.simulate.curve import recovery_after

    oracle = [0.2] * 100
    served = [0.2] * 40 + [0.05] * 30 + [0.2] * 30  # drift at 40, following from visitor 70
    # window 10 ending at visitor 78 (nine at 0.2, one at 0.05): 1.85 >= 0.9 * 2.0, 39 visitors
    assert recovery_after(served, oracle, at=40, window=10, ratio=0.9) == 39
    assert recovery_after(served, oracle, at=40, window=10, ratio=1.01) is None
    assert recovery_after(served, oracle, at=95, window=10, ratio=0.5) is None  # too short
