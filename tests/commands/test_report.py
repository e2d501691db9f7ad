"""``vernier report``: ``--format html`` over a real redis-server (one self-contained file, with the
report's numbers, the plots' data and the chart code inlined; nothing fetched), and ``--by
segment`` over a decision log."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from proxy.cli import main
from proxy.records.decision import encode_record
from proxy.store.client import Store
from proxy.store.connection import StoreSettings
from proxy.store.embedded import EmbeddedStore
from tests.dashboard.conftest import RESULTS, RULES, put_live, put_results
from tests.redis_server import RedisServerProcess
from tests.results.test_by_segment import decisions

DATA = re.compile(r'<script type="application/json" id="vn-data">(.*?)</script>', re.S)


async def test_html_report_is_one_self_contained_file(
    redis_server: RedisServerProcess, tmp_path: Path
) -> None:
    store = Store(redis_server.url, StoreSettings(op_timeout_s=2.0))
    try:
        now_ms = int(time.time() * 1000)
        await put_results(store, now_ms)
        await put_live(store, now_ms, impressions=250)
    finally:
        await store.close()
    (tmp_path / "rules.yaml").write_text(RULES)
    config = tmp_path / "vernier.yaml"
    config.write_text(f"store: {{url: '{redis_server.url}'}}\nrules: {tmp_path / 'rules.yaml'}\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        args = ["report", "--format", "html", "--config", str(config), "--since", "24h"]
        assert await asyncio.to_thread(main, args) == 0
    page = out.getvalue()
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no other origin
    assert (
        "<script src" not in page and 'rel="stylesheet"' not in page
    )  # nothing from this one either
    assert "uPlot" in page and ".uplot" in page  # the chart code and its styles, inlined
    found = DATA.search(page)
    assert found is not None
    charts = {c["id"]: c for c in json.loads(found[1])["charts"]}
    plots = ("exposures", "ctr", "lift", "allocation")
    # the slot's plots, and the holdout rule's: a two-arm split in the same file
    assert set(charts) == {f"{owner}-{plot}" for owner in ("hero", "measured") for plot in plots}
    clicks = {s["label"]: s["values"][-1] for s in charts["hero-ctr"]["series"]}
    assert clicks == {v: c / e for v, (_, e, c) in RESULTS.items()}
    assert "Pauses and control chart (last 60 minutes)" in page and ">250<" in page


async def test_an_empty_store_is_an_ordinary_report(
    redis_server: RedisServerProcess, tmp_path: Path
) -> None:
    """A fresh install (no decision logged yet) is an answer, exit 0, not a usage error: the
    text says so, the JSON is the usual report with every count 0."""
    (tmp_path / "rules.yaml").write_text(RULES)
    config = tmp_path / "vernier.yaml"
    config.write_text(f"store: {{url: '{redis_server.url}'}}\nrules: {tmp_path / 'rules.yaml'}\n")

    def report(*extra: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["report", "--config", str(config), *extra]) == 0
        return out.getvalue()

    text = await asyncio.to_thread(report)
    assert text == (
        "nothing to report yet: no decisions or exposures of hero, measured were logged in the "
        "last 7d\n"
    )
    data = json.loads(await asyncio.to_thread(report, "--format", "json", "--since", "24h"))
    assert (data["format"], data["version"]) == ("vernier-report", 2)
    assert [slot["id"] for slot in data["slots"]] == ["hero", "measured"]
    variants = [v for slot in data["slots"] for v in slot["variants"]]
    assert all(slot["exposures"] == 0 for slot in data["slots"])
    assert [(v["id"], v["decisions"], v["clicks"]) for v in variants] == [
        ("a", 0, 0), ("b", 0, 0), ("holdout", 0, 0), ("applied", 0, 0)
    ]  # fmt: skip


def test_html_report_of_an_unknown_slot_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    args = ["report", "--format", "html", "--rules", str(tmp_path / "rules.yaml"), "--slot", "x"]
    assert main(args) == 2
    assert "no slot 'x'" in capsys.readouterr().err


def test_report_by_segment_reads_the_decision_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    records, _ = decisions()
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(b"\n".join(encode_record(r) for r in records) + b"\n")
    base = ["report", "--rules", str(tmp_path / "rules.yaml"), "--by", "segment", "--log", str(log)]
    assert main([*base, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [hero] = data["slots"]
    assert [row["segment"] for row in hero["segment"]["rows"]] == ["buyer", "reader", "(none)"]
    assert hero["segment"]["heterogeneity"]["b"]["df"] == 2
    assert main(base) == 0
    assert "slot hero by learned segment" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("log_text", "extra", "message"),
    [
        (None, [], "--log: cannot read"),
        ("{not json\n", [], "decisions.jsonl:1:"),
        ("", ["--format", "csv"], "--by segment: --format text or json"),
    ],
)
def test_report_by_segment_errors_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    log_text: str | None,
    extra: list[str],
    message: str,
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    log = tmp_path / "decisions.jsonl"
    if log_text is not None:
        log.write_text(log_text)
    args = ["report", "--rules", str(tmp_path / "rules.yaml"), "--by", "segment", "--log", str(log)]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_decision_log_with_nothing_seen_is_an_empty_answer_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    log = tmp_path / "decisions.jsonl"
    log.write_text("")
    args = ["report", "--rules", str(tmp_path / "rules.yaml"), "--by", "segment", "--log", str(log)]
    assert main(args) == 0
    assert capsys.readouterr().out == (
        f"nothing to report yet: no seen decisions of these slots in {log}\n"
    )
    assert main([*args, "--format", "json"]) == 0
    [hero] = json.loads(capsys.readouterr().out)["slots"]
    assert hero["slot"] == "hero" and hero["segment"]["rows"] == []
    # a fresh install: the default log (in the data dir) is not written yet
    fresh = ["report", "--rules", str(tmp_path / "rules.yaml"), "--by", "segment"]
    assert main([*fresh, "--data-dir", str(tmp_path / "new")]) == 0
    assert capsys.readouterr().out.startswith("nothing to report yet: no seen decisions")


def test_report_by_segment_refuses_a_reward_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    records, _ = decisions()
    lines = [encode_record(r) for r in records[:5]]
    lines[3] = encode_record(msgspec.structs.replace(records[3], reward=1e200))
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    args = ["report", "--rules", str(tmp_path / "rules.yaml"), "--by", "segment", "--log", str(log)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{log}:4: reward 1e+200 is outside ±1e+30" in err and "Traceback" not in err


def test_the_store_commands_reach_a_serve_data_dir(embedded: EmbeddedStore, tmp_path: Path) -> None:
    """``--data-dir X`` reaches the embedded store a ``vernier serve --data-dir X`` runs, for
    every command that reads or writes the live store, as ``--store`` does (the real command)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        'slots:\n  - {id: hero, selector: "#hero", control: a, variants: {a: [], b: []}}\n'
    )
    where = ["--rules", str(rules), "--data-dir", str(embedded.data_dir)]

    def vernier(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "proxy", *args],
            cwd=tmp_path,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert vernier("pause", "hero", *where).returncode == 0
    listed = vernier("pauses", *where)
    assert listed.returncode == 0 and listed.stdout.startswith("slot:hero  since "), listed.stderr
    report = vernier("report", *where)  # reached, and empty: an ordinary answer
    assert report.returncode == 0, report.stderr
    assert report.stdout == (
        "nothing to report yet: no decisions or exposures of hero were logged in the last 7d\n"
    )
    elsewhere = vernier("report", *where[:2], "--data-dir", str(tmp_path))
    assert elsewhere.returncode == 2 and "cannot read the store at unix://" in elsewhere.stderr
    assert "is it running?" in elsewhere.stderr
    assert vernier("segments", "list", *where).returncode == 0
