"""``vernier simulate``'s command line: flags, and errors as one line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from proxy.commands import simulate as command
from proxy.simulate.simulation import Options
from proxy.simulate.site import SIMULATION_RULES


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="vernier")
    command.add_parser(root.add_subparsers(dest="command", required=True))
    return root


def test_the_defaults() -> None:
    args = parser().parse_args(["simulate"])
    assert (args.visitors, args.seed, args.concurrency, args.max_seconds) == (None, 1, 8, 900.0)
    assert (args.rules, args.world) == (None, None)  # the bundled rules, the built-in visitors
    assert Options().visitors == 20_000 and Options().rules == SIMULATION_RULES
    assert args.out == Path("simulation") and args.rate is None  # unpaced


@pytest.mark.parametrize(
    "flags",
    [
        ["--visitors", "0"],
        ["--visitors", "many"],
        ["--concurrency", "1000"],
        ["--max-seconds", "-1"],
        ["--rate", "0"],
        ["--rate", "fast"],
        ["--seed", "x"],
        ["--colour", "blue"],
    ],
)
def test_a_bad_flag_gets_the_usage_message(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["simulate", *flags])
    assert exit_info.value.code == 2
    assert "usage: vernier" in capsys.readouterr().err


def test_rules_without_the_hero_slot_are_one_line_of_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "other.yaml"
    rules.write_text("slots:\n  - {id: promo, selector: '#promo', control: a, variants: {a: []}}\n")
    args = parser().parse_args(["simulate", "--rules", str(rules), "--out", str(tmp_path / "o")])
    assert command.run(args) == 2
    err = capsys.readouterr().err
    assert err == f"vernier: error: {rules}: no slot 'hero' (the slot the simulated visitors see)\n"


def test_a_missing_or_broken_rules_file_is_one_line_of_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("slots:\n  - id: hero\n    selector: '#hero'\n    colour: red\n")
    for rules in (tmp_path / "absent.yaml", broken):
        args = parser().parse_args(["simulate", "--rules", str(rules)])
        assert command.run(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("vernier: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err


def test_the_variants_must_be_those_the_visitors_know(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "two.yaml"
    rules.write_text(
        "slots:\n  - {id: hero, selector: '#hero', control: a, variants: {a: [], z: []}}\n"
    )
    assert command.run(parser().parse_args(["simulate", "--rules", str(rules)])) == 2
    assert "preferences on ['a', 'b', 'c', 'd']" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("contexts", "message"),
    [
        # the weekday is the proxy's date (a visitor's zone moves it by a day at most)
        ("{weekday: {mon: 0.5, sat: 0.5}}", "weekday cannot be sent to the proxy over HTTP"),
        # a watch would be sent as a desktop, "USA" is no country code: the oracle would be wrong
        (
            "{device: {mobile: 0.5, watch: 0.5}, country: {USA: 0.5, DE: 0.5}}",
            "the proxy would not see device 'watch', country 'USA' as written",
        ),
    ],
)
def test_a_world_the_proxy_cannot_see_over_http_is_one_line_of_error(
    contexts: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = tmp_path / "world.yaml"
    world.write_text(
        f"name: unseen\nvariants: [a, b]\ncontexts: {contexts}\nrates: [{{set: {{a: 0.1, b: 0.2}}}}]\n"
    )
    assert command.run(parser().parse_args(["simulate", "--world", str(world)])) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vernier: error: {world}: {message}")
    assert err.count("\n") == 1


def test_a_broken_or_missing_world_file_is_one_line_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = tmp_path / "broken.yaml"
    world.write_text("name: x\nvariants: [a]\ncontexts: {device: {mobile: 1}}\nrates: []\n")
    assert command.run(parser().parse_args(["simulate", "--world", str(world)])) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vernier: error: {world}:2") and err.count("\n") == 1, err
    absent = tmp_path / "absent.yaml"
    assert command.run(parser().parse_args(["simulate", "--world", str(absent)])) == 2
    assert capsys.readouterr().err == f"vernier: error: --world {absent}: no such file\n"


def test_a_short_run_says_why_the_learners_files_are_missing(tmp_path: Path) -> None:
    csv, png, log, model = (tmp_path / n for n in ("s.csv", "c.png", "decisions.jsonl", "hero.vw"))
    assert command._not_written([csv, png, log, model]) == []
    [line] = command._not_written([csv, png, log])
    assert line.startswith("not written: hero.vw: the run ended before the learner published")
    [line] = command._not_written([csv, png])
    assert "decisions.jsonl: the run ended before the learner joined a decision" in line
    assert "hero.vw" in line


def test_the_evaluate_hint_names_the_runs_files_quoted(tmp_path: Path) -> None:
    out = tmp_path / "my run"
    log, model, rules = out / "decisions.jsonl", out / "hero.vw", out / "rules"
    [hint] = command._evaluate_hint([log, model, rules], SIMULATION_RULES)
    assert hint == (
        f"evaluate: vernier evaluate --log '{log}' --rules '{rules}' --model 'hero={model}'"
    )
    [own] = command._evaluate_hint([log], SIMULATION_RULES)  # the rules were not copied
    assert own.endswith(f"--rules {SIMULATION_RULES}")
    assert command._evaluate_hint([model], SIMULATION_RULES) == []
