"""The guardrail over seeded bandit runs: false pauses where nothing is worse where served, and
how many impressions a half-rate variant gets before it is paused.

    .venv/bin/python bench/guardrail_bench.py [--seeds N] [--decisions N]

Pure core only (tests/govern/guardrail_worlds.py: a per-context epsilon-greedy bandit, 200
uniform decisions, then epsilon 0.05, checked every 50 decisions). Seeded; no timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the worlds live in tests/

from proxy.govern.guardrail import SlotGuardrail
from tests.govern.guardrail_worlds import (
    aa_world,
    best_somewhere_world,
    harmful_world,
    lopsided_world,
    run_bandit,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--decisions", type=int, default=60_000)
    args = parser.parse_args()
    for name, world in (("A/A", aa_world()), ("best somewhere", best_somewhere_world()),
                        ("lopsided", lopsided_world())):  # fmt: skip
        paused = sum(
            bool(run_bandit(world, seed, SlotGuardrail("hero", "a")).pauses)
            for seed in range(args.seeds)
        )
        print(f"{name}: runs with a pause {paused} of {args.seeds} (4,000 decisions each)")
    for epsilon, label in ((1.0, "uniform (a split)"), (0.05, "epsilon-greedy 0.05")):
        impressions, decisions, never = [], [], 0
        for seed in range(args.seeds):
            run = run_bandit(harmful_world(), seed, SlotGuardrail("hero", "a"),
                             decisions=args.decisions, epsilon=epsilon)  # fmt: skip
            b = [(n, p) for n, p in run.pauses if p.variant == "b"]  # type: ignore[attr-defined]
            wrong = [p for _, p in run.pauses if p.variant != "b"]  # type: ignore[attr-defined]
            assert not wrong, wrong
            if not b:
                never += 1
                continue
            impressions.append(b[0][0])
            decisions.append(b[0][1].decisions)  # type: ignore[attr-defined]
        q = statistics.quantiles(impressions, n=10) if len(impressions) > 1 else [0.0] * 9
        print(
            f"half-rate b, {label}: paused in {len(impressions)} of {args.seeds} runs "
            f"within {args.decisions:,} decisions; impressions of b at the pause: median "
            f"{statistics.median(impressions):.0f} (p10 {q[0]:.0f}, p90 {q[-1]:.0f}); "
            f"decisions median {statistics.median(decisions):.0f}"
        )


if __name__ == "__main__":
    main()
