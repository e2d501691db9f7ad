"""The simulation's files beside the run: the rules it used, copied for ``vernier evaluate``."""

from __future__ import annotations

from pathlib import Path

from proxy.simulate.simulation import _copy_rules

RULE = "slots: []\n"


def test_the_rules_are_copied_as_a_folder_evaluate_can_read(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "hero.yaml").write_text(RULE)
    out = tmp_path / "out"
    assert _copy_rules(folder, out / "rules") == out / "rules"
    assert (out / "rules" / "hero.yaml").read_text() == RULE
    single = tmp_path / "one.yml"  # a folder's rules are its *.yaml files
    single.write_text(RULE)
    assert _copy_rules(single, out / "rules") == out / "rules"
    assert [p.name for p in (out / "rules").iterdir()] == ["rules.yaml"]


def test_rules_inside_the_output_or_holding_it_are_never_touched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "rules").mkdir(parents=True)
    (out / "rules" / "hero.yaml").write_text(RULE)
    for rules in (out / "rules", out / "rules" / "hero.yaml", tmp_path):
        assert _copy_rules(rules, out / "rules") is None
        assert (out / "rules" / "hero.yaml").read_text() == RULE
