"""``vernier evaluate`` on large logs: time on one core, and peak memory against the log's size.

    .venv/bin/python bench/evaluate_bench.py [--lines 1000000] [--small 100000] [--keep DIR]

Writes a seeded synthetic log (4 variants, device × hour × referrer contexts, an epsilon-greedy
logging policy, clicks of 2-30 %) and a policy file in the log's order into a temporary folder,
then runs ``vernier evaluate --policy-file … --json --no-store`` in a child process, once on the
first ``--small`` lines and once on all of them. Reported: CPU time (one process, one core) and
peak RSS of each run (``wait4``), the time per line, and as references measured in the same run:
one pass that only decodes the log with msgspec, and a Python that imports the CLI and stops.
The target is ≤ 30 s for 1 M lines; memory is flat when the large run's peak RSS is close to the
small run's.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ("a", "b", "c", "d")
DEVICES = ("mobile", "desktop", "tablet")
HOURS = ("night", "morning", "afternoon", "evening")
REFERRERS = ("search", "social", "direct")
EPSILON = 0.2


def click_rate(device: int, hour: int, referrer: int, action: int) -> float:
    """A hidden rate per context and variant; the best variant differs by context."""
    best = (device + referrer) % len(ACTIONS)
    return 0.30 if action == best else 0.02 + 0.01 * ((action + hour) % 3)


def target_pmf(device: int, referrer: int) -> dict[str, float]:
    """The evaluated policy: the oracle's variant with probability 0.85, the others 0.05 each."""
    best = (device + referrer) % len(ACTIONS)
    return {ACTIONS[a]: 0.85 if a == best else 0.05 for a in range(len(ACTIONS))}


def true_value() -> float:
    """The target's mean reward over the (uniform) contexts: what the estimates should cover."""
    total = 0.0
    for device in range(len(DEVICES)):
        for hour in range(len(HOURS)):
            for referrer in range(len(REFERRERS)):
                pmf = target_pmf(device, referrer)
                total += sum(p * click_rate(device, hour, referrer, ACTIONS.index(a))
                             for a, p in pmf.items())  # fmt: skip
    return total / (len(DEVICES) * len(HOURS) * len(REFERRERS))


def write_files(folder: Path, lines: int, seed: int = 1) -> tuple[Path, Path]:
    rng = random.Random(seed)
    encode = msgspec.json.Encoder().encode
    log, policy = folder / "decisions.jsonl", folder / "policy.jsonl"
    explore = EPSILON / len(ACTIONS)
    with log.open("wb") as log_file, policy.open("wb") as policy_file:
        for i in range(lines):
            device, hour, referrer = rng.randrange(3), rng.randrange(4), rng.randrange(3)
            greedy = device % len(ACTIONS)  # the logging policy's (mostly wrong) favourite
            pmf = [explore + (1 - EPSILON) * (a == greedy) for a in range(len(ACTIONS))]
            chosen = rng.choices(range(len(ACTIONS)), pmf)[0]
            reward = float(rng.random() < click_rate(device, hour, referrer, chosen))
            record = {
                "id": f"d{i:09d}",
                "slot": "hero",
                "context": {
                    "D": [f"dev={DEVICES[device]}"],
                    "T": [f"dp={HOURS[hour]}"],
                    "R": [f"ref={REFERRERS[referrer]}"],
                },
                "actions": ACTIONS,
                "chosen": ACTIONS[chosen],
                "p": pmf[chosen],
                "pmf": pmf,
                "reward": reward,
            }
            log_file.write(encode(record) + b"\n")
            target = target_pmf(device, referrer)
            policy_file.write(encode({"id": record["id"], "pmf": target}) + b"\n")
    return log, policy


def head(path: Path, lines: int, out: Path) -> Path:
    with path.open("rb") as source, out.open("wb") as target:
        for number, line in enumerate(source):
            if number >= lines:
                break
            target.write(line)
    return out


def measure(command: list[str]) -> tuple[float, float, float, bytes]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MiB (``ru_maxrss``) of the child
    alone, and its stdout. One BLAS thread, so the child uses one core; its CPU time is the figure
    on a shared machine, where wall time includes waiting for a core."""
    started = time.perf_counter()
    one_core = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT, env=one_core)
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {child.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def evaluate_command(log: Path, policy: Path) -> list[str]:
    return [sys.executable, "-m", "proxy", "evaluate", "--no-store", "--json",
            "--log", str(log), "--policy-file", str(policy)]  # fmt: skip


DECODE_ONLY = """
import sys, msgspec
from proxy.records.decision import LoggedDecision
decode = msgspec.json.Decoder(LoggedDecision).decode
with open(sys.argv[1], "rb") as f:
    n = sum(1 for line in f if decode(line))
print(n)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vernier-evaluate-bench-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        log, policy = write_files(folder, args.lines)
        print(f"wrote {args.lines:,} lines in {time.perf_counter() - started:.1f} s")
        small_log = head(log, args.small, folder / "small.jsonl")
        small_policy = head(policy, args.small, folder / "small-policy.jsonl")
        _, base_s, base_mib, _ = measure([sys.executable, "-c", "import proxy.cli"])
        _, decode_s, _, _ = measure([sys.executable, "-c", DECODE_ONLY, str(log)])
        _, small_s, small_mib, _ = measure(evaluate_command(small_log, small_policy))
        large_wall_s, large_s, large_mib, out = measure(evaluate_command(log, policy))
        (slot,) = msgspec.json.decode(out)["slots"]
        target = next(p for p in slot["policies"] if p["name"].startswith("file:"))
        print(f"python importing the CLI: CPU {base_s:.2f} s, peak RSS {base_mib:.0f} MiB")
        print(f"decode-only pass over {args.lines:,} lines: CPU {decode_s:.2f} s")
        print(f"evaluate {args.small:,} lines: CPU {small_s:.2f} s, peak RSS {small_mib:.0f} MiB")
        print(
            f"evaluate {args.lines:,} lines: CPU {large_s:.2f} s (wall {large_wall_s:.2f} s; "
            f"{large_s / args.lines * 1e6:.1f} µs/line; {large_s / decode_s:.1f}x the "
            f"decode-only pass), peak RSS {large_mib:.0f} MiB "
            f"({large_mib / small_mib:.2f}x the {args.small:,}-line run's)"
        )
        dr = target["dr"]
        print(
            f"target DR {dr['value']:.4f} [{dr['low']:.4f}, {dr['high']:.4f}], "
            f"ESS {target['ess']:.0f} of {target['n']:,}; true value {true_value():.4f}"
        )
        verdict = "met" if large_s <= 30 else "NOT met"
        print(f"target <= 30 s of one core for 1 M lines: {verdict}")


if __name__ == "__main__":
    main()
