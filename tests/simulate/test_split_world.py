"""Known answers of the results report among a world file's visitors (seeded, in process): an
A/A world gives no significant winner and no SRM flag in at least 95 % of seeds, a planted +20 %
effect is found, a skewed split is flagged (``bench/results_known_answers.py`` runs more seeds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.simulate.split_world import run_split, significant_winner
from proxy.simulate.world_file import WorldSpec, load_world

WORLDS = Path(__file__).resolve().parents[2] / "bench" / "worlds"


@pytest.fixture(scope="module")
def aa() -> WorldSpec:
    return load_world(WORLDS / "aa.yaml")


def test_an_a_a_world_has_no_winner_and_no_srm_in_95_percent_of_seeds(aa: WorldSpec) -> None:
    clean = 0
    for seed in range(40):
        slot = run_split(aa, seed, 3_000, {"a": 1, "b": 1, "c": 1})
        assert sum(v["exposures"] for v in slot["variants"]) == 3_000
        clean += not significant_winner(slot) and not slot["srm_flagged"]
    assert clean >= 38


def test_a_planted_lift_is_found(tmp_path: Path) -> None:
    path = tmp_path / "planted.yaml"
    path.write_text(
        "name: planted\nvariants: [a, b]\ncontexts:\n  device: {mobile: 0.5, desktop: 0.5}\n"
        "rates:\n  - set: {a: 0.05, b: 0.06}\n"
    )
    world = load_world(path)
    found = covered = 0
    for seed in range(4):
        slot = run_split(world, 100 + seed, 30_000, {"a": 1, "b": 1})
        b = slot["variants"][1]
        found += significant_winner(slot) and b["lift_vs_control"] > 0
        covered += b["lift_ci"][0] < 0.2 < b["lift_ci"][1]  # the planted lift
    assert found >= 3  # ~97 % power at 15,000 exposures per arm
    assert covered >= 3


def test_a_skewed_split_is_flagged(aa: WorldSpec) -> None:
    slot = run_split(aa, 7, 20_000, {"a": 1, "b": 1}, served={"a": 52, "b": 48})
    assert slot["srm_check"] == "srm" and slot["srm_flagged"]
    fair = run_split(aa, 7, 20_000, {"a": 1, "b": 1})
    assert not fair["srm_flagged"]
