"""Every slot's results broken down by segment, from the decision log (pure).

Why the decision log: each of its records is a decision with its reward joined by the learner
and the visitor's named and learned segments **frozen at their first exposure to the slot** (so
the slot's own effect cannot move visitors between segments); records logged before the learned
segment was frozen fall back to the request context's ``cluster`` at decision time. The store's
hourly sums have no segment dimension.

Two breakdowns per slot, each a partition (a decision in exactly one row, as the heterogeneity
test needs): by **named segment** — the visitor's first named segment in file order (the
``segment`` field of conditions), ``(none)`` if none — and by **learned segment** (``cluster``).
A row is a segment; per variant it has ``n`` (seen decisions: records with a reward, sticky
re-serves left out), the mean reward, and for every non-control variant the **lift** (mean
reward minus the control's, Welch's standard error). Lifts of the segments where both means
have a variance are combined by :func:`proxy.stats.heterogeneity.heterogeneity`: each
segment's lift shrunk toward the overall lift (empirical Bayes), and Cochran's Q test of
whether the lift differs across segments. A segment whose variant or control has fewer than two
seen decisions, or no variation in reward (no click at all), has a raw lift only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.evaluate.log import iter_numbered
from proxy.records.decision import LoggedDecision, decode_logged
from proxy.results.html import esc, num, table
from proxy.results.report import SlotInfo
from proxy.stats.heterogeneity import heterogeneity

NONE = "(none)"
DIMENSIONS = ("segment", "cluster")  # named (frozen) and learned


@dataclass(slots=True)
class Cell:
    """Seen decisions of one variant in one segment: count, sum and sum of squares of reward."""

    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def add(self, reward: float) -> None:
        self.n += 1
        self.total += reward
        self.total_sq += reward * reward

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def mean_variance(self) -> float | None:
        """The variance of the mean (sample variance / n); None below two decisions."""
        if self.n < 2:
            return None
        variance = max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))
        return variance / self.n


@dataclass(slots=True)
class Tallies:
    """dimension -> segment -> variant -> cell, for one slot."""

    by: dict[str, dict[str, dict[str, Cell]]] = field(
        default_factory=lambda: {d: {} for d in DIMENSIONS}
    )

    def add(self, record: LoggedDecision) -> None:
        if not record.is_example or record.reward is None:
            return
        named = record.segments[0] if record.segments else NONE
        cluster: object = record.cluster
        if cluster is None:  # logged before the learned segment was frozen
            cluster = (record.rule_context or {}).get("cluster")
        learned = str(cluster) if isinstance(cluster, str) and cluster else NONE
        for dimension, segment in (("segment", named), ("cluster", learned)):
            cells = self.by[dimension].setdefault(segment, {})
            cells.setdefault(record.chosen, Cell()).add(record.reward)


def tally(records: Iterable[LoggedDecision], slots: Iterable[str]) -> dict[str, Tallies]:
    """The tallies of every slot in ``slots`` over ``records`` (other slots' records skipped)."""
    out = {slot: Tallies() for slot in slots}
    for record in records:
        found = out.get(record.slot)
        if found is not None:
            found.add(record)
    return out


def _lift(variant: Cell | None, control: Cell | None) -> tuple[float | None, float | None]:
    """Difference of means and its variance (None where not defined or not positive)."""
    if variant is None or control is None or not variant.n or not control.n:
        return None, None
    diff = (variant.mean or 0.0) - (control.mean or 0.0)
    vv, vc = variant.mean_variance, control.mean_variance
    variance = vv + vc if vv is not None and vc is not None else None
    return diff, variance if variance is not None and variance > 0 else None


def _dimension(info: SlotInfo, segments: dict[str, dict[str, Cell]]) -> dict[str, Any]:
    names = sorted(segments, key=lambda s: (s == NONE, s))
    rows: list[dict[str, Any]] = []
    for name in names:
        cells = segments[name]
        variants = {
            v: {"n": cells[v].n if v in cells else 0, "mean": cells[v].mean if v in cells else None}
            for v in info.variants
        }
        rows.append({"segment": name, "variants": variants, "lifts": {}})
    comparisons: dict[str, Any] = {}
    for variant in (v for v in info.variants if v != info.control):
        pooled: list[tuple[int, float, float]] = []
        for i, name in enumerate(names):
            diff, variance = _lift(segments[name].get(variant), segments[name].get(info.control))
            se = math.sqrt(variance) if variance is not None else None
            rows[i]["lifts"][variant] = {"lift": diff, "se": se, "shrunk": None, "shrunk_sd": None}
            if diff is not None and variance is not None:
                pooled.append((i, diff, variance))
        if len(pooled) < 2:
            comparisons[variant] = None
            continue
        found = heterogeneity([d for _, d, _ in pooled], [v for _, _, v in pooled])
        for (i, _, _), shrunk, sd in zip(pooled, found.shrunk, found.shrunk_sd, strict=True):
            rows[i]["lifts"][variant].update(shrunk=shrunk, shrunk_sd=sd)
        comparisons[variant] = {
            "segments": len(pooled),
            "overall_lift": found.mu,
            "overall_se": found.mu_se,
            "tau2": found.tau2,
            "q": found.q,
            "df": found.df,
            "p_value": found.p_value,
            "i2": found.i2,
        }
    return {"rows": rows, "heterogeneity": comparisons}


def breakdown(info: SlotInfo, tallies: Tallies) -> dict[str, Any]:
    """One slot's breakdowns (JSON-ready): per dimension, its rows and per-variant tests."""
    return {
        "slot": info.id,
        "control": info.control,
        "variants": list(info.variants),
        **{dimension: _dimension(info, tallies.by[dimension]) for dimension in DIMENSIONS},
        "not_in_rules": _not_in_rules(info, tallies),
    }


def _not_in_rules(info: SlotInfo, tallies: Tallies) -> dict[str, int]:
    """Seen decisions of variants the slot no longer offers (a log of other rules), per variant:
    left out of the tables, and said so."""
    counts: dict[str, int] = {}
    for cells in tallies.by["segment"].values():
        for variant, cell in cells.items():
            if variant not in info.variants:
                counts[variant] = counts.get(variant, 0) + cell.n
    return dict(sorted(counts.items()))


def _left_out(slot: Mapping[str, Any]) -> str | None:
    """The sentence about seen decisions of variants the rules do not offer, if any."""
    others = slot.get("not_in_rules") or {}
    if not others:
        return None
    listed = ", ".join(f"{variant} ({n})" for variant, n in others.items())
    return (
        f"left out: {sum(others.values())} seen decisions of variants slot {slot['slot']} "
        f"does not offer in these rules: {listed}"
    )


def read_breakdowns(
    path: Path, infos: Sequence[SlotInfo], *, missing_ok: bool = False
) -> list[dict[str, Any]]:
    """The breakdowns of the slots of ``infos`` over the decision log at ``path`` (what
    ``vernier report --by segment`` prints and the dashboard's slot page shows); with
    ``missing_ok``, no file is an empty log (nothing logged yet). Reads the whole file: call it
    off the event loop. Raises ``OSError`` and :class:`~proxy.evaluate.log.LogError`
    (``path:line: message``)."""
    slots = [i.id for i in infos]
    if missing_ok and not path.exists():
        tallies = tally((), slots)
    else:
        with path.open("rb") as lines:
            numbered = iter_numbered(lines, source=str(path), decode=decode_logged)
            tallies = tally((record for _, record in numbered), slots)
    return [breakdown(info, tallies[info.id]) for info in infos]


def has_seen(slots: Iterable[Mapping[str, Any]]) -> bool:
    """Whether any of the breakdowns counts a seen decision."""
    return any(slot["segment"]["rows"] for slot in slots)


TITLES = {"segment": "named segment (frozen at first exposure)", "cluster": "learned segment"}


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _test_text(variant: str, control: str, test: Mapping[str, Any] | None) -> str:
    """One variant's heterogeneity test in a sentence."""
    if test is None:
        return f"{variant} vs {control}: fewer than two segments to compare"
    return (
        f"{variant} vs {control}: overall lift {test['overall_lift']:+.4f} "
        f"({test['overall_se']:.4f}) over {test['segments']} segments; differs "
        f"across segments? Cochran's Q {test['q']:.2f} (df {test['df']}), "
        f"p {test['p_value']:.3g}, I2 {100 * test['i2']:.0f}%"
    )


def as_text(slots: list[dict[str, Any]]) -> str:
    """The breakdowns as plain-text tables, one per slot and dimension."""
    out: list[str] = []
    for slot in slots:
        control = slot["control"]
        others = [v for v in slot["variants"] if v != control]
        for dimension in DIMENSIONS:
            part = slot[dimension]
            out.append(f"slot {slot['slot']} by {TITLES[dimension]}; reward per seen decision")
            out.append(
                f"  {'segment':<20} {'variant':<12} {'n':>7} {'mean':>8} "
                f"{'lift vs ' + control:>16} {'shrunk lift':>18}"
            )
            for row in part["rows"]:
                for variant in slot["variants"]:
                    cell = row["variants"][variant]
                    lift = row["lifts"].get(variant)
                    raw = shrunk = ""
                    if lift is not None:
                        raw = f"{_num(lift['lift'], '+.4f')} ({_num(lift['se'], '.4f')})"
                        if lift["shrunk"] is not None:
                            shrunk = f"{lift['shrunk']:+.4f} ({lift['shrunk_sd']:.4f})"
                    out.append(
                        f"  {row['segment']:<20} {variant:<12} {cell['n']:>7} "
                        f"{_num(cell['mean'], '.4f'):>8} {raw:>16} {shrunk:>18}".rstrip()
                    )
            out += [f"  {_test_text(v, control, part['heterogeneity'][v])}" for v in others]
            out.append("")
        if (left_out := _left_out(slot)) is not None:
            out += [left_out, ""]
    return "\n".join(out)


def as_html(slot: Mapping[str, Any]) -> str:
    """One slot's breakdowns as HTML tables (the dashboard's slot page), one per dimension."""
    control = slot["control"]
    head = ("segment", "variant", "seen decisions", "mean reward", f"lift vs {control}",
            "shrunk lift")  # fmt: skip
    out: list[str] = []
    for dimension in DIMENSIONS:
        part = slot[dimension]
        rows = []
        for row in part["rows"]:
            for variant in slot["variants"]:
                cell, lift = row["variants"][variant], row["lifts"].get(variant)
                raw = shrunk = "–"
                if lift is not None and lift["lift"] is not None:
                    raw = f"{lift['lift']:+.4f} (± {_num(lift['se'], '.4f')})"
                if lift is not None and lift["shrunk"] is not None:
                    shrunk = f"{lift['shrunk']:+.4f} (± {lift['shrunk_sd']:.4f})"
                name = esc(variant) + (' <span class="muted">(control)</span>'
                                       if variant == control else "")  # fmt: skip
                rows.append((esc(row["segment"]), name, num(cell["n"]),
                             _num(cell["mean"], ".4f"), raw, shrunk))  # fmt: skip
        out.append(f"<h3>By {esc(TITLES[dimension])}</h3>")
        out.append(table(head, rows, numeric_from=2))
        tests = [
            _test_text(v, control, part["heterogeneity"][v])
            for v in slot["variants"]
            if v != control
        ]
        out.append("".join(f'<p class="muted">{esc(t)}.</p>' for t in tests))
    if (left_out := _left_out(slot)) is not None:
        out.append(f'<p class="muted">{esc(left_out)}.</p>')
    return "".join(out)
