"""How noisy is VW's estimate of a small difference between two variants, against counting?

A scratch-free check of why a close rival can starve the best variant (the `control-best` and
`de-challenger` worlds, docs/benchmarks.md "Seventh round"): four variants at 6 %, 4.5 %, 4 %
and 4.4 %, logged uniformly (no exploration problem), context tokens that do not matter, learned
unweighted as the bandit learns (`--cb_adf`, the policy's `--initial_weight`, no interactions).
After 1,000, 2,000 and 4,000 examples it prints the mean and the spread (standard deviation over
seeds) of the estimated difference between the first two variants, from VW's scores and from
plain click counts (the sample means). The true difference is 0.015.

    .venv/bin/python bench/vw_estimate_noise.py [--seeds 20] [--vw-args="-l 0.05"]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from vowpalwabbit import pyvw  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.bandit.policy_config import BanditPolicy

RATES = (0.06, 0.045, 0.04, 0.044)
CHECKPOINTS = (1000, 2000, 4000)


def _lines(shared: str, chosen: int | None = None, reward: float = 0.0) -> str:
    actions = [
        (f"0:{-reward}:1.0 " if i == chosen else "") + f"|A v={i}" for i in range(len(RATES))
    ]
    return "\n".join([shared, *actions])


def run(seed: int, extra: Sequence[str]) -> list[tuple[float, float]]:
    """(VW's, the counts') estimate of rate 0 - rate 1 at each checkpoint, for one seed."""
    rng = np.random.default_rng(seed)
    weight = BanditPolicy().initial_weight
    args = ["--cb_adf", "--quiet", "--sparse_weights", "--initial_weight", repr(-weight), *extra]
    vw = pyvw.Workspace(arg_list=args)
    served, clicks = np.zeros(len(RATES)), np.zeros(len(RATES))
    found = []
    try:
        for t in range(1, CHECKPOINTS[-1] + 1):
            chosen = int(rng.integers(len(RATES)))
            reward = float(rng.random() < RATES[chosen])
            device = "mobile" if rng.random() < 0.5 else "desktop"
            vw.learn(_lines(f"shared |D dev={device} |T h={rng.integers(24)}", chosen, reward))
            served[chosen] += 1
            clicks[chosen] += reward
            if t in CHECKPOINTS:
                examples = vw.parse(
                    _lines("shared |D dev=mobile |T h=3"), pyvw.LabelType.CONTEXTUAL_BANDIT
                )
                vw.predict(examples)
                costs = [e.get_partial_prediction() for e in examples[1:]]
                vw.finish_example(examples)
                means = clicks / np.maximum(served, 1)
                found.append((costs[1] - costs[0], float(means[0] - means[1])))
    finally:
        vw.finish()
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--vw-args", default="", help="extra VW options, e.g. '-l 0.05'")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (a spread needs two)")
    runs = [run(seed, shlex.split(args.vw_args)) for seed in range(args.seeds)]
    truth = RATES[0] - RATES[1]
    print(f"VW options: {args.vw_args or '(the defaults)'}; {args.seeds} seeds; true {truth:.4f}")
    print("| examples | VW: mean, spread | counts: mean, spread |\n|---|---|---|")
    for i, n in enumerate(CHECKPOINTS):
        vw_estimates = [r[i][0] for r in runs]
        counted = [r[i][1] for r in runs]
        print(
            f"| {n} | {statistics.mean(vw_estimates):.4f}, {statistics.stdev(vw_estimates):.4f} "
            f"| {statistics.mean(counted):.4f}, {statistics.stdev(counted):.4f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
