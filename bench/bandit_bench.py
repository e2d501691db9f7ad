"""Bandit decision and learning cost, in process (no server, no Redis).

Targets (issue #5): a decision — context features + VW predict + floor + seeded sampling —
with 10 variants at p50 <= 60 µs; learning <= 60 µs per example.

For each explorer the model is first trained on ``--warmup`` examples of a synthetic population
(so predictions are not the trivial untrained ones), then timed one call at a time with
``time.perf_counter_ns``:

* **decide** — ``context_features`` on a realistic request context (device, time, geo,
  referrer, UTM, landing path, profile with click counters, plus the header and cookie fields a
  real context carries and the bandit ignores) → ``BanditModel.predict`` (floor 0.01) →
  ``sample`` with a per-decision seed key;
* **learn** — ``BanditModel.learn`` on shared features already computed (the learner reads them
  from the decision log), formatting included.

The decision's steps are then timed one by one (a quarter as many calls) for a breakdown:
features, VW predict (``shared_line`` formatting included), floor, seed key + sampling.
Also the one-off costs: ``to_bytes`` and ``from_bytes`` (snapshot publish and hot-swap).
Garbage collection stays on, as in the proxy. The whole run is bounded (about 20 s by default).

    .venv/bin/python bench/bandit_bench.py
    .venv/bin/python bench/bandit_bench.py --repeats 5000 --explorers epsilon,squarecb
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.bandit.drift import DriftWatch
from proxy.bandit.features import ActionSet, context_features, shared_line
from proxy.bandit.model import BanditModel
from proxy.bandit.policy_config import (
    Bag,
    BanditPolicy,
    Cover,
    DriftPolicy,
    Epsilon,
    Explorer,
    Softmax,
    SquareCB,
    effective_interactions,
)
from proxy.bandit.sampling import apply_floor, sample, seed_key

EXPLORERS: dict[str, Explorer] = {
    "epsilon": Epsilon(0.05),
    "squarecb": SquareCB(),
    # the same on VW's estimates alone (the explorer of the rounds before the tenth)
    "squarecb-vw": SquareCB(gamma_scale=0.3, cells=False),
    "softmax": Softmax(5.0),
    "bag": Bag(5),
    "cover": Cover(3),
}
N_VARIANTS = 10
NOW_MS = 1_700_000_000_000
DEVICES = ("mobile", "desktop", "tablet")
REFERRERS = ("search", "social", "email", "direct", "internal", "other")


def variants() -> ActionSet:
    return ActionSet(
        [
            (f"v{i}", {"tone": ("calm", "urgent", "playful")[i % 3], "image": f"img{i % 4}"})
            for i in range(N_VARIANTS)
        ]
    )


def visitor(rng: random.Random) -> dict[str, object]:
    """A request context like ``proxy.rules.context.build_context`` makes."""
    context: dict[str, object] = {
        "device": rng.choice(DEVICES),
        "browser": rng.choice(("chrome", "safari", "firefox")),
        "os": rng.choice(("ios", "android", "windows", "macos")),
        "hour": rng.randrange(24),
        "weekday": rng.choice(("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
        "country": rng.choice(("DE", "FR", "US", "GB")),
        "language": "en",
        "referrer.class": rng.choice(REFERRERS),
        "referrer.domain": "www.google.com",
        "utm.source": rng.choice(("newsletter", "google", "facebook")),
        "utm.medium": "cpc",
        "landing": rng.random() < 0.3,
        "path": "/products/grinder",
        "header.user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) ...",
        "header.accept-language": "en-GB,en;q=0.9",
        "cookie.vernier_sid": "s-2f9c0a",
        "cookie.theme": "dark",
        "visits": rng.randrange(1, 40),
        "visits_7d": rng.randrange(0, 8),
        "pageviews": rng.randrange(1, 200),
        "engaged_s": rng.random() * 900,
        "engaged_ema": rng.random() * 120,
        "max_scroll": rng.random(),
        "purchases_30d": rng.randrange(0, 3),
        "conversions": rng.randrange(0, 4),
        "last_seen_ms": NOW_MS - rng.randrange(0, 30 * 86400 * 1000),
        "clicks.hero": rng.randrange(0, 4),
        "clicks:hero": 0,
        "impressions.hero": rng.randrange(0, 20),
        "clicks.promo": rng.randrange(0, 2),
    }
    return context


def reward(context: dict[str, object], variant: int, rng: random.Random) -> float:
    """Hidden preference: mobile evenings like v1, search visitors v2, the rest v0."""
    hour = context["hour"]
    if context["device"] == "mobile" and isinstance(hour, int) and hour >= 18:
        best = 1
    elif context["referrer.class"] == "search":
        best = 2
    else:
        best = 0
    return 1.0 if rng.random() < (0.3 if variant == best else 0.05) else 0.0


def percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


def bench_explorer(name: str, explorer: Explorer, repeats: int, warmup: int) -> dict[str, float]:
    policy = BanditPolicy(explorer=explorer, floor=0.01)
    actions = variants()
    model = BanditModel(policy)
    rng = random.Random(7)
    contexts = [visitor(rng) for _ in range(2000)]
    shared = [context_features(c, policy, now_ms=NOW_MS) for c in contexts]
    for i in range(warmup):
        j = i % len(contexts)
        chosen = rng.randrange(N_VARIANTS)
        model.learn(
            shared[j],
            actions,
            chosen,
            reward=reward(contexts[j], chosen, rng),
            probability=1 / N_VARIANTS,
        )

    decide_ns: list[int] = []
    parts_ns: dict[str, list[int]] = {"features": [], "predict": [], "floor": [], "sample": []}
    clock = time.perf_counter_ns
    for i in range(repeats):
        context = contexts[i % len(contexts)]
        key = seed_key(f"s-{i}", "hero", 0)
        start = clock()
        features = context_features(context, policy, now_ms=NOW_MS)
        pmf = model.predict(features, actions)
        sample(pmf, key)
        decide_ns.append(clock() - start)
    for i in range(repeats // 4):  # the same steps timed one by one (each timer adds ~0.1 µs)
        context = contexts[i % len(contexts)]
        t0 = clock()
        features = context_features(context, policy, now_ms=NOW_MS)
        t1 = clock()
        raw = model.predict_lines(shared_line(features), actions, floor=False)
        t2 = clock()
        pmf = apply_floor(raw, policy.floor)
        t3 = clock()
        sample(pmf, seed_key(f"s-{i}", "hero", 0))
        t4 = clock()
        for part, ns in zip(parts_ns, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts_ns[part].append(ns)

    learn_ns: list[int] = []
    for i in range(repeats):
        j = i % len(contexts)
        chosen = i % N_VARIANTS
        value = reward(contexts[j], chosen, rng)
        start = clock()
        model.learn(shared[j], actions, chosen, reward=value, probability=0.1)
        learn_ns.append(clock() - start)
    watch = DriftWatch(DriftPolicy(detect=True), actions)  # the learner's path with bandit.drift on
    watched_ns: list[int] = []
    for i in range(repeats):
        j = i % len(contexts)
        chosen = i % N_VARIANTS
        value = reward(contexts[j], chosen, rng)
        start = clock()
        model = watch.learn(model, shared[j], chosen, reward=value, probability=0.1)
        watched_ns.append(clock() - start)
    watched_ns.sort()

    start = clock()
    data = model.to_bytes()
    save_ms = (clock() - start) / 1e6
    start = clock()
    loaded = BanditModel.from_bytes(data, policy)
    load_ms = (clock() - start) / 1e6
    loaded.finish()
    model.finish()
    decide_ns.sort()
    learn_ns.sort()
    parts = {f"{part}_p50": percentile(sorted(ns), 0.5) for part, ns in parts_ns.items()}
    return parts | {
        "decide_p50": percentile(decide_ns, 0.5),
        "decide_p90": percentile(decide_ns, 0.9),
        "decide_p99": percentile(decide_ns, 0.99),
        "learn_p50": percentile(learn_ns, 0.5),
        "learn_p90": percentile(learn_ns, 0.9),
        "learn_p99": percentile(learn_ns, 0.99),
        "watched_p50": percentile(watched_ns, 0.5),
        "watched_p99": percentile(watched_ns, 0.99),
        "restarts": len(watch.restarts),
        "model_kib": len(data) / 1024,
        "save_ms": save_ms,
        "load_ms": load_ms,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=20_000, help="timed calls per measure")
    parser.add_argument("--warmup", type=int, default=5_000, help="training examples first")
    parser.add_argument("--explorers", default=",".join(EXPLORERS), help="comma-separated")
    parser.add_argument("--budget-s", type=float, default=55.0, help="stop starting explorers")
    args = parser.parse_args()
    names = [n.strip() for n in args.explorers.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPLORERS]
    if unknown:
        parser.error(f"unknown explorers: {', '.join(unknown)}")
    defaults = BanditPolicy()
    print(
        f"# bandit bench: {N_VARIANTS} variants, default features ({' '.join(defaults.features)})"
        f" and interactions ({' '.join(effective_interactions(defaults))}: the most a chosen set has),"
    )
    print(f"# floor 0.01, {args.warmup} warm-up examples, {args.repeats} timed calls each")
    print(f"# {platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    print()
    print(
        "| explorer | decide p50 / p90 / p99 µs | features / predict / floor / sample p50 µs "
        "| learn p50 / p90 / p99 µs | learn with the drift watch p50 / p99 µs (restarts) "
        "| model KiB | save / load ms |"
    )
    print("|---|---|---|---|---|---|---|")
    began = time.monotonic()
    for name in names:
        if time.monotonic() - began > args.budget_s:
            print(f"| {name} | skipped: over the time budget | | | | | |")
            continue
        r = bench_explorer(name, EXPLORERS[name], args.repeats, args.warmup)
        print(
            f"| {name} | {r['decide_p50']:.1f} / {r['decide_p90']:.1f} / {r['decide_p99']:.1f} "
            f"| {r['features_p50']:.1f} / {r['predict_p50']:.1f} / {r['floor_p50']:.1f} "
            f"/ {r['sample_p50']:.1f} "
            f"| {r['learn_p50']:.1f} / {r['learn_p90']:.1f} / {r['learn_p99']:.1f} "
            f"| {r['watched_p50']:.1f} / {r['watched_p99']:.1f} ({r['restarts']:.0f}) "
            f"| {r['model_kib']:.0f} | {r['save_ms']:.1f} / {r['load_ms']:.1f} |",
            flush=True,
        )
    print(f"\n# {time.monotonic() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
