"""The simulation's results: one CSV row per visitor, the learning curve as a PNG, a summary.

The curve is a moving average over visitors of the bandit's realised CTR (its clicks) and
expected CTR (the hidden table's probability for the variant it served), next to the expected
CTR of uniform random, of always serving the control, and of the oracle, for the same visitors.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from proxy.simulate.world import Outcome

CSV_FIELDS = (
    "index",
    "device",
    "referrer",
    "variant",
    "reason",
    "probability",
    "clicked",
    "ctr_served",
    "ctr_uniform",
    "ctr_control",
    "ctr_oracle",
    "oracle_variant",
    "elapsed_s",
    "hour",  # the hour, country and language the visitor showed the proxy; empty if none
    "country",
    "language",
)
TAIL_FRACTION = 0.25


def write_csv(path: Path, outcomes: Sequence[Outcome]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_FIELDS)
        for o in outcomes:
            e = o.expected
            writer.writerow(
                (
                    o.visitor.index,
                    o.visitor.device,
                    o.visitor.referrer,
                    o.variant,
                    o.reason,
                    "" if o.probability is None else f"{o.probability:.4f}",
                    int(o.clicked),
                    f"{e.served:.4f}",
                    f"{e.uniform:.4f}",
                    f"{e.control:.4f}",
                    f"{e.oracle:.4f}",
                    e.oracle_variant,
                    f"{o.elapsed_s:.3f}",
                    o.visitor.hour,  # csv writes None as an empty field
                    o.visitor.country,
                    o.visitor.language,
                )
            )


@dataclass(frozen=True, slots=True)
class Summary:
    """Mean CTRs over the last ``visitors`` of the run."""

    visitors: int
    bandit_realised: float
    bandit_expected: float
    uniform: float
    control: float
    oracle: float

    def of_oracle(self, ctr: float) -> float:
        return ctr / self.oracle if self.oracle else 0.0


def summarise(outcomes: Sequence[Outcome], tail_fraction: float = TAIL_FRACTION) -> Summary:
    """Over the last ``tail_fraction`` of ``outcomes`` (at least one visitor, if any)."""
    count = max(1, round(len(outcomes) * tail_fraction)) if outcomes else 0
    tail = outcomes[len(outcomes) - count :]

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return Summary(
        visitors=count,
        bandit_realised=mean([float(o.clicked) for o in tail]),
        bandit_expected=mean([o.expected.served for o in tail]),
        uniform=mean([o.expected.uniform for o in tail]),
        control=mean([o.expected.control for o in tail]),
        oracle=mean([o.expected.oracle for o in tail]),
    )


def recovery_after(
    served: Sequence[float], oracle: Sequence[float], at: int, window: int, ratio: float
) -> int | None:
    """How many visitors from index ``at`` until the mean expected CTR of the last ``window``
    (all from ``at`` on) reaches ``ratio`` of the oracle's; ``None`` if it never does.

    ``served`` and ``oracle`` are per visitor, in visitor order: after a drift at ``at``, how
    long the bandit takes to follow the new preferences.
    """
    total_served = total_oracle = 0.0
    for i in range(at, len(served)):
        total_served += served[i]
        total_oracle += oracle[i]
        if i - at >= window:
            total_served -= served[i - window]
            total_oracle -= oracle[i - window]
        if i - at + 1 >= window and total_served >= ratio * total_oracle:
            return i - at + 1
    return None


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The mean of the last ``window`` values at each position (fewer at the start)."""
    averages: list[float] = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        averages.append(total / min(i + 1, window))
    return averages


def curve_window(visitors: int) -> int:
    """A window wide enough that ±1 s.d. of a 10 % CTR is within about ±0.01 at full width."""
    return max(50, min(1000, visitors // 20))


def write_png(
    path: Path,
    outcomes: Sequence[Outcome],
    *,
    title: str,
    marks: Sequence[tuple[int, str]] = (),
) -> None:
    """The learning curve (matplotlib's Agg backend: no display needed); ``marks`` are
    ``(visitor index, label)`` events drawn as vertical lines (a variant paused, …)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    window = curve_window(len(outcomes))
    x = [o.visitor.index + 1 for o in outcomes]
    series = (
        ("bandit, realised (clicks)", [float(o.clicked) for o in outcomes], "tab:blue", 0.9),
        ("bandit, expected", [o.expected.served for o in outcomes], "tab:blue", 2.0),
        ("uniform random, expected", [o.expected.uniform for o in outcomes], "tab:gray", 1.5),
        ("always control, expected", [o.expected.control for o in outcomes], "tab:orange", 1.5),
        ("oracle, expected", [o.expected.oracle for o in outcomes], "tab:green", 1.5),
    )
    figure = Figure(figsize=(9, 6), dpi=100)
    axes = figure.add_subplot()
    # the first averages are over a handful of visitors (a single click reads as 0.3): skip them
    start = min(window // 5, max(0, len(outcomes) - 1))
    for label, values, colour, width in series:
        style = ":" if label.endswith("(clicks)") else "-"
        averages = moving_average(values, window)[start:]
        axes.plot(x[start:], averages, style, color=colour, linewidth=width, label=label)
    for index, label in marks:
        axes.axvline(index + 1, color="tab:red", linestyle="--", linewidth=1, label=label)
    axes.set_xlabel("visitor")
    axes.set_ylabel(f"click-through rate (moving average of {window} visitors)")
    axes.set_title(title)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    # below the axes: inside, it would hide the curves it names
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png")


def summary_text(summary: Summary) -> str:
    s = summary
    return (
        f"last {s.visitors} visitors: CTR bandit {s.bandit_realised:.4f} realised, "
        f"{s.bandit_expected:.4f} expected; uniform {s.uniform:.4f}; control {s.control:.4f}; "
        f"oracle {s.oracle:.4f}\n"
        f"bandit / oracle: {s.of_oracle(s.bandit_realised):.3f} realised, "
        f"{s.of_oracle(s.bandit_expected):.3f} expected; "
        f"uniform / oracle: {s.of_oracle(s.uniform):.3f}; "
        f"control / oracle: {s.of_oracle(s.control):.3f}"
    )
