"""Rule matching cost per page: the no-rule fast path, and match + context + conditions.

    .venv/bin/python bench/rules_bench.py [--rules N] [--seconds S]

The same in-process work the match and decide stages do, on a synthetic rule set of N rules
(each scoped by a path glob, a third of them with conditions) plus the demo's five scenarios:

- ``no rule``: a page no ``where`` matches (most pages of a site), target <= 20 us p50;
- ``match``: a page with rules and a slot in scope: the context built, conditions evaluated,
  the slot decided.

CPU time per call (time.process_time_ns around batches), p50 and p90 of the batch means. Bounded
by ``--seconds`` per case. No network.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from multidict import CIMultiDict

from proxy.decide.slots import decide_by_rules
from proxy.demo.run import DEMO_RULES
from proxy.rules import load_rules
from proxy.rules.context import build_context
from proxy.rules.engine import RuleEngine

BATCH = 200
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36"
)


def synthetic_rules(count: int, folder: Path) -> Path:
    lines = ["rules:"]
    for i in range(count):
        lines += [
            f"  - id: rule-{i}",
            f'    where: {{paths: ["/section-{i}/**"], methods: [GET]}}',
        ]
        if i % 3 == 0:
            lines.append(f"    when: \"device == 'mobile' and visits_7d >= {i % 5}\"")
        lines.append(f'    then: [{{op: add_class, selector: "#s{i}", value: "x"}}]')
    (folder / "synthetic.yaml").write_text("\n".join(lines) + "\n")
    for example in DEMO_RULES.glob("*.yaml"):
        (folder / example.name).write_text(example.read_text())
    return folder


def measure(fn: Callable[[], object], seconds: float) -> tuple[float, float]:
    """p50 and p90 of the per-call CPU microseconds of batches of ``BATCH`` calls."""
    samples: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or len(samples) < 20:
        start = time.process_time_ns()
        for _ in range(BATCH):
            fn()
        samples.append((time.process_time_ns() - start) / BATCH / 1000)
    deciles = statistics.quantiles(samples, n=10)
    return statistics.median(samples), deciles[8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rules", type=int, default=200, help="synthetic rules (default 200)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per case (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = RuleEngine.build(load_rules(synthetic_rules(args.rules, Path(folder))))
    headers = CIMultiDict({"User-Agent": CHROME, "Accept-Language": "en-GB,en;q=0.8"})
    zone = ZoneInfo("Europe/Berlin")

    def no_rule() -> object:
        return engine.match(method="GET", host="shop.example", path="/about/team", query={})

    def matched() -> tuple[object, object]:
        found = engine.match(method="GET", host="shop.example", path="/", query={})
        context = build_context(
            method="GET",
            host="shop.example",
            path="/",
            query={},
            headers=headers,
            cookies={"theme": "dark"},
            profile={"visits_7d": "4", "engaged_s": "1300", "purchases_30d": "1"},
            now=datetime.now(UTC),
            time_zone=zone,
            geo_header=None,
            own_hosts=frozenset({"shop.example"}),
            landing=False,
            page_type="home",
        )
        assert found.needs_context  # what the match stage asks before building the context
        rules = engine.applicable(found.rules, context)
        return rules, [decide_by_rules(slot, context) for slot in found.slots]

    assert not no_rule() and matched()[0]
    print(f"{len(engine.ruleset.rules)} rules, {len(engine.ruleset.slots)} slots")
    for name, fn in (("no rule", no_rule), ("match", matched)):
        p50, p90 = measure(fn, args.seconds)
        print(f"{name:8} p50 {p50:7.1f} us   p90 {p90:7.1f} us")


if __name__ == "__main__":
    main()
