"""``vernier evaluate`` on a log whose truth is known: the rules that pin the better variant per
context rank first, uniform next, always-control last; bad logs get file:line errors."""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

from proxy.cli import main
from proxy.records.decision import LoggedDecision

RULES = """
slots:
  - id: hero
    selector: "#hero"
    control: a
    policy: bandit
    variants: {a: [], b: [{op: hide, selector: p}]}
    pin: [{when: "device == 'mobile'", variant: b}]
"""
# hidden click rates: mobile visitors like b, desktop visitors like a a little more
RATES = {
    ("mobile", "a"): 0.05,
    ("mobile", "b"): 0.30,
    ("desktop", "a"): 0.10,
    ("desktop", "b"): 0.08,
}


def write_log(path: Path, n: int = 4000, seed: int = 7) -> None:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        device = rng.choice(["mobile", "desktop"])
        chosen = rng.choice(["a", "b"])
        record = LoggedDecision(
            id=f"decision{i:08d}",
            slot="hero",
            actions=("a", "b"),
            chosen=chosen,
            p=0.5,
            context={"D": (f"dev={device}",)},
            reward=float(rng.random() < RATES[device, chosen]),
            reason="bandit",
            rule_context={"device": device},
        )
        lines.append(msgspec.json.encode(record))
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_policies_rank_as_the_truth_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    write_log(tmp_path / "decisions.jsonl")
    code = main(
        [
            "evaluate",
            "--log",
            str(tmp_path / "decisions.jsonl"),
            "--rules",
            str(tmp_path / "rules.yaml"),
            "--no-store",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    table = out.split("DR [95% CI]\n", 1)[1].splitlines()
    ranked = [line.split()[0] for line in table[:3]]
    assert ranked == ["rules", "uniform", "always-a"], out
    rules_line = table[0]
    assert "4000" in rules_line  # n
    # the rules' true value is 0.5 * 0.30 + 0.5 * 0.10 = 0.20 (interval coverage itself is
    # tested over seeded repetitions in test_estimators.py)
    dr = float(rules_line.rsplit("[", 1)[0].split()[-1])
    assert abs(dr - 0.20) < 0.03


def test_a_bad_log_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_text('{"id": "x", "slot": "hero"}\n')
    assert main(["evaluate", "--log", str(log), "--no-store", "--rules", str(tmp_path)]) == 2
    assert f"{log}:1:" in capsys.readouterr().err


def test_a_reward_out_of_range_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "decisions.jsonl"
    write_log(log, n=20)
    lines = log.read_text().splitlines()
    lines[2] = json.dumps({**json.loads(lines[2]), "reward": 1e200})
    log.write_text("\n".join(lines) + "\n")
    assert main(["evaluate", "--log", str(log), "--no-store", "--rules", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{log}:3: reward 1e+200 is outside ±1e+30" in err and "Traceback" not in err


def test_a_rules_path_that_does_not_exist_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "decisions.jsonl"
    write_log(log, n=50)
    missing = tmp_path / "nonexistent"
    assert main(["evaluate", "--log", str(log), "--no-store", "--rules", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"--rules {missing}: no such file or folder" in err and "Traceback" not in err


def test_a_log_that_is_no_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The log is read twice: a pipe (``--log <(zcat …)``) would be empty the second time."""
    fifo = tmp_path / "piped.jsonl"
    os.mkfifo(fifo)
    # opening a FIFO waits for the other end: the writer, in a thread
    writer = threading.Thread(target=lambda: fifo.write_text(""), daemon=True)
    writer.start()
    try:
        assert main(["evaluate", "--log", str(fifo), "--no-store", "--rules", str(tmp_path)]) == 2
    finally:
        writer.join(timeout=10)
    err = capsys.readouterr().err
    assert f"{fifo}: not a file: the log is read twice" in err and "Traceback" not in err


def rules_pmf_file(log: Path, out: Path) -> None:
    """The pin policy (b on mobile, else a) as per-decision probabilities, in the log's order."""
    lines = []
    for line in log.read_text().splitlines():
        record = json.loads(line)
        mobile = record["context"]["D"] == ["dev=mobile"]
        lines.append(json.dumps({"id": record["id"], "pmf": {"b" if mobile else "a": 1.0}}))
    out.write_text("\n".join(lines) + "\n")


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["evaluate", "--no-store", "--json", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    document: dict[str, Any] = json.loads(out.out)
    return document


def test_policy_file_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, pmf = tmp_path / "decisions.jsonl", tmp_path / "pins.jsonl"
    write_log(log)
    rules_pmf_file(log, pmf)
    document = run_json(
        ["--log", str(log), "--rules", str(tmp_path), "--policy-file", str(pmf)], capsys
    )
    assert document["format"] == "vernier-evaluate/1"
    assert document["interval"]["method"] == "bootstrap-percentile"
    (slot,) = document["slots"]
    assert slot["slot"] == "hero" and slot["examples"] == 4000
    assert slot["reward_range"] == [0.0, 1.0] and slot["dr_features"] == ["D"]
    ranked = [p["name"] for p in slot["policies"]]
    assert ranked == ["file:pins.jsonl", "uniform", "always-a"]
    best = slot["policies"][0]
    assert set(best) >= {"ips", "snips", "dr", "ess", "max_weight", "min_logged_p", "warnings"}
    for name in ("ips", "snips", "dr"):
        estimate = best[name]
        assert 0.0 <= estimate["low"] <= estimate["high"] <= 1.0
    assert abs(best["dr"]["value"] - 0.20) < 0.03  # the true value, as in the rules test
    assert best["ess"] == pytest.approx(2000, rel=0.1)  # deterministic target, p = 0.5
    text = json.dumps(best["dr"]["value"])
    assert len(text) > 8  # full precision, not 4 decimals


POLICY_MODULE = """
def pins(decision):
    if decision.context.get("D") == ("dev=mobile",):
        return {"b": 1.0}
    return [1.0, 0.0]


def broken(decision):
    return {"a": 0.7}
"""


def test_python_entry_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "decisions.jsonl"
    write_log(log, n=1000)
    (tmp_path / "vernier_test_policies.py").write_text(POLICY_MODULE)
    monkeypatch.chdir(tmp_path)
    document = run_json(
        ["--log", str(log), "--rules", str(tmp_path), "--policy", "vernier_test_policies:pins",
         "--dr-features", "none", "--resamples", "50", "--seed", "3"],
        capsys,
    )  # fmt: skip
    (slot,) = document["slots"]
    assert slot["policies"][0]["name"] == "vernier_test_policies:pins"
    assert slot["dr_features"] == [] and slot["reward_model_cells"] == 2
    assert document["interval"]["resamples"] == 50 and document["interval"]["seed"] == 3
    code = main(["evaluate", "--no-store", "--log", str(log), "--rules", str(tmp_path),
                 "--policy", "vernier_test_policies:broken"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert f"{log}:1: decision decision00000000: policy vernier_test_policies:broken: " in err
    assert "the pmf sums to 0.7" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--policy", "nocolon"], "--policy nocolon: expected MODULE:FUNCTION"),
        (["--policy", "no_such_module_x:f"], "cannot load it: ModuleNotFoundError"),
        (["--policy", "json:nothing"], "cannot load it: AttributeError"),
        (["--policy", "json:decoder"], "decoder is not a function"),
        (["--dr-features", ","], "--dr-features ',': expected all, none or namespaces"),
        (["--slot", "nope"], "--slot nope: the log"),
        (["--dr-features", "X"], "--dr-features: no namespace X in the log"),
        (["--dr-features", "D,d,r"], "no namespace d, r in the log"),
        (["--dr-features", "d"], "(its namespaces, case-sensitive: D)"),
        (["--resamples", "1"], "--resamples: expected a whole number from 20 to 10000, got '1'"),
        (["--resamples", "100000000"], "--resamples: expected a whole number from 20 to 10000"),
        (["--resamples", "2.5"], "--resamples: expected a whole number"),
        (["--seed", "-1"], "--seed: expected a whole number from 0 to 4294967295, got '-1'"),
        (["--seed", str(2**32)], "--seed: expected a whole number from 0 to 4294967295"),
        (["--policy-file", "missing.jsonl"], "missing.jsonl: No such file or directory"),
        (
            ["--model", "hero=hero.vw"],
            "(it has no bandit slot: name the slot's rules with --rules)",
        ),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    log = tmp_path / "decisions.jsonl"
    write_log(log, n=50)
    args = ["evaluate", "--no-store", "--log", str(log), "--rules", str(tmp_path), *extra]
    code: object
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse's usage error
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert "Traceback" not in err


def test_dr_features_are_each_taken_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "decisions.jsonl"
    write_log(log, n=200)
    args = ["--log", str(log), "--rules", str(tmp_path), "--resamples", "20"]
    document = run_json([*args, "--dr-features", "D, D"], capsys)
    assert document["slots"][0]["dr_features"] == ["D"]


def test_policy_file_errors_name_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, pmf = tmp_path / "decisions.jsonl", tmp_path / "p.jsonl"
    write_log(log, n=50)
    rules_pmf_file(log, pmf)
    lines = pmf.read_text().splitlines()

    def fails_with(content: list[str]) -> str:
        pmf.write_text("\n".join(content) + "\n")
        code = main(["evaluate", "--no-store", "--log", str(log), "--rules", str(tmp_path),
                     "--policy-file", str(pmf)])  # fmt: skip
        assert code == 2
        return capsys.readouterr().err

    assert (
        f"{log}:4: decision decision00000003: policy file:p.jsonl: no line for this decision"
        in (fails_with(lines[:3]))
    )
    assert f"{pmf}:2: decision decision00000001: unknown action 'z'" in fails_with(
        [lines[0], '{"id": "decision00000001", "pmf": {"z": 1}}', *lines[2:]]
    )
    assert f"{pmf}:3: decision decision00000002: the pmf sums to 0.5" in fails_with(
        [*lines[:2], '{"id": "decision00000002", "pmf": {"a": 0.5}}', *lines[3:]]
    )
    assert f"{pmf}:1: Input data was truncated" in fails_with(["{", *lines[1:]])


def test_help_names_the_log_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "docs/decision-log.md" in out and '"pmf": {action: probability}' in out
