"""Known-answer checks of the results report over many seeds (issue #13, item 6).

    .venv/bin/python bench/results_known_answers.py [--seeds N] [--visitors V]

A split experiment among a world file's visitors (:mod:`proxy.simulate.split_world`: the
proxy's split assignment, the results fold and the report, in process):

- ``aa``: ``bench/worlds/aa.yaml`` (three identical variants at 5 %), 1/3 each: the share of
  seeds with no significant winner (Holm, alpha 0.05) and no SRM flag. Target >= 95 %.
- ``planted``: ``a`` at 5 %, ``b`` at 6 % (+20 %), 50/50: the share of seeds where b is a
  significant winner with a positive lift (the power at that size).
- ``skewed``: the aa world configured 50/50 but served 52/48 (an assignment bug): the share of
  seeds whose SRM check flags it (p < 0.001).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from proxy.simulate.split_world import run_split, significant_winner
from proxy.simulate.world_file import load_world

WORLDS = Path(__file__).parent / "worlds"
PLANTED = """
name: planted
variants: [a, b]
contexts:
  device: {mobile: 0.55, desktop: 0.45}
rates:
  - set: {a: 0.05, b: 0.06}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--visitors", type=int, default=6_000)
    parser.add_argument("--planted-visitors", type=int, default=30_000)
    args = parser.parse_args()
    aa = load_world(WORLDS / "aa.yaml")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "planted.yaml"
        path.write_text(PLANTED)
        planted = load_world(path)
    start = time.perf_counter()
    clean = 0
    for seed in range(args.seeds):
        slot = run_split(aa, seed, args.visitors, {"a": 1, "b": 1, "c": 1})
        clean += not significant_winner(slot) and not slot["srm_flagged"]
    print(f"aa       {clean}/{args.seeds} seeds clean ({clean / args.seeds:.1%}; target >= 95 %), {args.visitors} visitors each")  # fmt: skip
    seeds = max(args.seeds // 4, 1)
    found = flagged = 0
    for seed in range(seeds):
        slot = run_split(planted, 10_000 + seed, args.planted_visitors, {"a": 1, "b": 1})
        b = slot["variants"][1]
        found += significant_winner(slot) and b["lift_vs_control"] > 0
        skewed = run_split(aa, 20_000 + seed, 20_000, {"a": 1, "b": 1}, {"a": 52, "b": 48})
        flagged += skewed["srm_flagged"]
    print(f"planted  {found}/{seeds} seeds found +20 % ({args.planted_visitors} visitors each)")
    print(f"skewed   {flagged}/{seeds} seeds flagged a 52/48 split configured 50/50 (20,000 visitors each)")  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
