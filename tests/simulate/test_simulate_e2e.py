"""``vernier simulate`` end to end: the demo shop behind the real proxy, the embedded store and
its learner, visitors over HTTP with real beacons, and the bandit learning their hidden
preferences.

A looser, seeded version of issue #5's target (after 20,000 visitors the bandit's CTR over the
last 5,000 is at least 90 % of the oracle's), sized to run in under a minute here. The numbers
behind the thresholds (docs/benchmarks.md, "Simulation"): over the context mix the oracle earns
0.100, uniform random 0.043, the control 0.053 and the best single variant for everyone (b)
0.066. With the bundled rules 5,000 visitors reached 0.83-0.99 of the oracle's expected CTR over
the last quarter in 20 runs (seed 1, 10 of them beside ``stress -c 2``; the proxy's own draws
are seeded by session ids, and the learning lag follows the machine's load, so runs differ).

* Expected CTR (the hidden table's probability for each variant served, free of click noise)
  at least 0.70 of the oracle's: more than any one variant shown to everyone can earn (0.66),
  so the bandit must serve different contexts different variants; the worst run cleared it by
  0.13. (0.75 failed once in CI with the earlier rules, whose runs spread to 0.71.)
* Realised CTR (its clicks) at least uniform's expected + 0.015: over 1,250 visitors a policy no
  better than uniform has a realised CTR with a standard deviation of 0.0065, so the margin is
  2.3 of those. The 20 runs measured 0.077-0.097 against the threshold's 0.058.
"""

from __future__ import annotations

import argparse
import csv
import shlex
from pathlib import Path

import pytest

from proxy.cli import main
from proxy.commands import simulate as command
from proxy.simulate.simulation import CSV_NAME, LOG_NAME, MODEL_NAME, PNG_NAME, Options, simulate
from proxy.simulate.site import SIMULATION_RULES

VISITORS = 5_000


def test_the_bandit_learns_the_hidden_preferences(tmp_path: Path) -> None:
    result = simulate(
        Options(visitors=VISITORS, seed=1, concurrency=8, out=tmp_path, max_seconds=900)
    )

    done = len(result.outcomes)
    assert done == VISITORS  # every visitor: the time bound is only a deadline against a hang
    assert result.failed <= done // 200
    assert (tmp_path / CSV_NAME).stat().st_size > 0
    assert (tmp_path / PNG_NAME).read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / LOG_NAME).stat().st_size > 0  # the learner's joined decisions
    assert sum(o.reason == "bandit" for o in result.outcomes) >= 0.99 * done
    # the command the run prints evaluates its log with its model and the rules it used
    [hint] = command._evaluate_hint(result.files, SIMULATION_RULES)
    assert hint.startswith("evaluate: vernier evaluate --log ") and "--model hero=" in hint
    assert main([*shlex.split(hint.removeprefix("evaluate: vernier ")), "--no-store"]) == 0

    s = result.summary
    assert s.oracle == pytest.approx(0.100, abs=0.004)
    assert s.uniform == pytest.approx(0.043, abs=0.003)
    # a guardrail pause of a variant (see docs/benchmarks.md, "Simulation") shows in the message
    assert s.bandit_expected >= 0.70 * s.oracle, (s, result.pauses)
    assert s.bandit_realised >= s.uniform + 0.015, (s, result.pauses)


def test_the_time_bound_ends_the_run_early_and_still_writes_what_it_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = argparse.ArgumentParser(prog="vernier")
    command.add_parser(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(
        ["simulate", "--visitors", "1000000", "--max-seconds", "2", "--out", str(tmp_path)]
    )

    assert command.run(args) == 0

    out = capsys.readouterr().out
    assert "of 1000000 visitors in" in out and "(stopped at --max-seconds 2)" in out
    assert "bandit / oracle: " in out and "uniform / oracle: " in out
    with (tmp_path / CSV_NAME).open() as file:
        rows = sum(1 for _ in file) - 1  # the header
    assert 0 < rows < 1_000_000
    assert f"vernier simulate: {rows} of 1000000 visitors" in out
    assert (tmp_path / PNG_NAME).read_bytes().startswith(b"\x89PNG")


def test_visits_that_keep_failing_end_the_run_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "elsewhere.yaml"  # the slot's element is not on the page: no marks
    rules.write_text((SIMULATION_RULES / "hero.yaml").read_text().replace('"#hero"', '"#nowhere"'))
    root = argparse.ArgumentParser(prog="vernier")
    command.add_parser(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["simulate", "--rules", str(rules), "--out", str(tmp_path / "out")])

    assert command.run(args) == 2

    err = capsys.readouterr().err
    assert err.startswith("vernier: error: 20 of ")
    assert 'the page has no data-vernier-slot="hero" element' in err
    assert err.count("\n") == 1


DRIFTING_WORLD = """\
name: tiny-drift
variants: [a, b, c]
contexts:
  device: {mobile: 0.5, desktop: 0.5}
  country: {DE: 0.5, FR: 0.5}
rates:
  - set: {a: 0.05, b: 0.05, c: 0.05}
  - {when: {device: mobile}, set: {b: 0.25}}
drift:
  at: 150
  rates:
    - {when: {country: FR}, set: {c: 0.40}}
"""


def test_a_world_file_drives_its_visitors_through_the_proxy_with_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A small seeded run of a world file: its variants are served (rules made from the world,
    the bandit's defaults), its hidden rates give the expected CTRs, its drift is reported."""
    world = tmp_path / "tiny.yaml"
    world.write_text(DRIFTING_WORLD)
    root = argparse.ArgumentParser(prog="vernier")
    command.add_parser(root.add_subparsers(dest="command", required=True))
    out = tmp_path / "out"
    args = root.parse_args(
        ["simulate", "--world", str(world), "--visitors", "300", "--out", str(out)]
    )

    assert command.run(args) == 0

    text = capsys.readouterr().out
    assert "vernier simulate: 300 of 300 visitors" in text
    assert "preferences changed at visitor 150: back to 0.85 of the new oracle after" in text
    with (out / CSV_NAME).open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 300
    assert {row["variant"] for row in rows} <= {"a", "b", "c"}
    assert sum(row["reason"] == "bandit" for row in rows) >= 0.99 * len(rows)
    for row in rows:  # the world's table, seen through the proxy's own context
        index, device = int(row["index"]), row["device"]
        oracle = 0.25 if device == "mobile" else 0.05
        if index >= 150 and float(row["ctr_oracle"]) == 0.40:
            continue  # a French visitor after the drift: c is best
        assert float(row["ctr_oracle"]) == oracle, row


def test_a_rate_paces_the_visitors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # visitor n starts no earlier than n / rate seconds into the run, so its visit ends later;
    # unpaced, these 30 visits take a fraction of a second
    root = argparse.ArgumentParser(prog="vernier")
    command.add_parser(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["simulate", "--visitors", "30", "--rate", "10", "--out", str(tmp_path)])
    earlier = b"an earlier run's model"
    (tmp_path / MODEL_NAME).write_bytes(earlier)  # never listed as this run's

    assert command.run(args) == 0
    model = tmp_path / MODEL_NAME
    assert not model.exists() or model.read_bytes() != earlier

    with (tmp_path / CSV_NAME).open() as file:
        ended = {int(row["index"]): float(row["elapsed_s"]) for row in csv.DictReader(file)}
    assert len(ended) == 30
    starts = sorted(ended.values())
    assert all(at >= n / 10 for n, at in enumerate(starts)), starts
    assert "vernier simulate: 30 of 30 visitors" in capsys.readouterr().out


def test_a_rate_too_slow_for_the_time_bound_is_told_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = tmp_path / "tiny.yaml"
    world.write_text(DRIFTING_WORLD)  # its preferences change at visitor 150
    root = argparse.ArgumentParser(prog="vernier")
    command.add_parser(root.add_subparsers(dest="command", required=True))
    flags = ["--visitors", "200", "--rate", "10", "--max-seconds", "2", "--out", str(tmp_path)]

    assert command.run(root.parse_args(["simulate", "--world", str(world), *flags])) == 0

    captured = capsys.readouterr()
    assert "200 visitors at 10 a second take longer than --max-seconds 2" in captured.err
    assert "(stopped at --max-seconds 2)" in captured.out
    # the change is after the visitors the run had: said so, not measured
    assert "preferences change at visitor 150, after this run's " in captured.out
    assert "preferences changed" not in captured.out
