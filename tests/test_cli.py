"""The real ``vernier`` command in a subprocess: usage errors, config errors, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from proxy import __version__

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "vernier.yaml"


def vernier(
    cwd: Path, *args: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **(environ or {})}
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_usage_error(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr
    assert "Traceback" not in result.stderr


def test_version(tmp_path: Path) -> None:
    result = vernier(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"vernier {__version__}"


@pytest.mark.parametrize(
    "args",
    [
        ("--frobnicate",),
        (),
        ("serve", "--frobnicate"),
        ("serve", "--listen", "nonsense"),
        ("serve", "--listen", "host:99999"),
        ("serve", "--workers", "0"),
        ("serve", "--workers", "65"),
        ("serve", "--workers", "two"),
        ("serve", "--upstream", "ftp://origin"),
        ("validate", "--upstream", "http://origin"),
        ("serve", "--admin-listen", "nonsense"),
        ("serve", "--admin-listen"),
        ("preview", "/", "--profile", "engaged_s=abc"),
    ],
)
def test_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert_usage_error(vernier(tmp_path, *args))


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (("pauses", "--json"), "usage: vernier pauses [-h]"),
        (("report", "--bogus"), "usage: vernier report [-h]"),
        (("schema", "--bogus"), "usage: vernier schema [-h]"),
        (("segments", "explain", "v1", "--bogus"), "usage: vernier segments explain [-h]"),
        (("preview", "/", "--bogus"), "usage: vernier preview [-h]"),
    ],
)
def test_an_unknown_flag_gets_the_subcommands_own_usage(
    tmp_path: Path, args: tuple[str, ...], usage: str
) -> None:
    result = vernier(tmp_path, *args)
    assert_usage_error(result)
    assert result.stderr.startswith(usage), result.stderr
    assert f"unrecognized arguments: {args[-1]}" in result.stderr


@pytest.mark.parametrize("args", [("--vers",), ("--he",), ("segments", "--he")])
def test_an_abbreviated_option_is_still_argparses(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert vernier(tmp_path, *args).returncode == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--bogus",), "vernier: error: --bogus: the COMMAND comes first (serve, "),
        (
            ("segments", "--config", "x"),
            "segments: error: --config: the ACTION comes first (list, ",
        ),
    ],
)
def test_an_option_where_the_command_belongs_is_named(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    result = vernier(tmp_path, *args)
    assert_usage_error(result)
    assert said in result.stderr, result.stderr


def test_preview_names_a_misspelt_profile_field(tmp_path: Path) -> None:
    result = vernier(tmp_path, "preview", "/", "--profile", "engagd_s=4")
    assert_usage_error(result)
    assert "unknown profile field 'engagd_s' (did you mean engaged_s?)" in result.stderr


def test_serve_without_an_origin(tmp_path: Path) -> None:
    result = vernier(tmp_path, "serve")
    assert result.returncode == 2
    assert "no origin" in result.stderr
    assert "--upstream" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("server:\n  listen: ':80'\n  listne: ':81'\n", "bad.yaml:3:3 $.server.listne"),
        ("origin:\n  url: http://a\n  url: http://b\n", "bad.yaml:3:3 $.origin.url"),
        ("server:\n  workers: 0\n", "bad.yaml:2:3 $.server.workers"),
        (
            "server:\n  trusted_proxies: [10.0.0.1, nope]\n",
            "bad.yaml:2:31 $.server.trusted_proxies[1]",
        ),
        ("log_level: info\norigin: &o\n  url: http://a\n", "bad.yaml:2:9 $"),
        ("a: !!python/object/apply:os.system [echo pwned]\n", "bad.yaml:1:4 $.a"),
        ("server:\n  listen: [\n", "bad.yaml:3:1 $"),
    ],
)
def test_validate_names_file_line_and_key(tmp_path: Path, text: str, where: str) -> None:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    result = vernier(tmp_path, "validate", "--config", "bad.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith(f"vernier: error: {where}"), result.stderr
    assert "Traceback" not in result.stderr
    assert "pwned" not in result.stdout


@pytest.mark.parametrize(
    ("condition", "where"),
    [
        ("rules: [{id: r, when: \"devce == 'mobile'\", then: [{op: hide, selector: p}]}]", "1:24"),
        (
            "slots: [{id: s, selector: p, control: a, variants: {a: [], b: []},"
            " pin: [{when: \"devce == 'mobile'\", variant: b}]}]",
            "1:82",
        ),
        ("segments: [{id: m, when: \"devce == 'mobile'\"}]", "1:27"),
    ],
)
def test_validate_refuses_a_misspelt_field_in_any_condition(
    tmp_path: Path, condition: str, where: str
) -> None:
    (tmp_path / "typo.yaml").write_text(condition + "\n", encoding="utf-8")
    result = vernier(tmp_path, "validate", "--rules", "typo.yaml")
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("vernier: error: "), result.stderr
    assert f"/typo.yaml:{where} $." in result.stderr
    assert "unknown field 'devce' (did you mean device?)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "environ", "source"),
    [
        (("serve", "--upstream", "http://127.0.0.1:9", "--store", "mysql://x"), {}, "--store"),
        (("validate",), {"VERNIER_STORE": "mysql://x"}, "VERNIER_STORE"),
        (("pauses", "--store", "mysql://x"), {}, "--store"),
        (("serve", "--upstream", "http://127.0.0.1:9/a"), {}, "--upstream"),
        (("validate",), {"VERNIER_WORKERS": "two"}, "VERNIER_WORKERS"),
    ],
)
def test_a_bad_value_names_the_flag_or_variable_that_set_it(
    tmp_path: Path, args: tuple[str, ...], environ: dict[str, str], source: str
) -> None:
    """The repository's config (which writes ``store: {url: null}``) is in the cwd, as it is for
    a newcomer in a fresh clone: the error must name the flag or variable, not its line."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "vernier.yaml").write_text(REPO_CONFIG.read_text())
    result = vernier(tmp_path, *args, environ=environ)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"vernier: error: {source} $."), result.stderr
    assert "vernier.yaml" not in result.stderr and "Traceback" not in result.stderr


def test_validate_alias_error_names_the_anchor(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("a: &x 1\nb: *x\n", encoding="utf-8")
    result = vernier(tmp_path, "validate", "--config", "bad.yaml")
    assert result.returncode == 2
    assert "bad.yaml:1" in result.stderr and "&x" in result.stderr


def test_validate_missing_config_file(tmp_path: Path) -> None:
    result = vernier(tmp_path, "validate", "--config", "absent.yaml")
    assert result.returncode == 2
    assert "absent.yaml" in result.stderr and "Traceback" not in result.stderr


def test_validate_the_repository_config(tmp_path: Path) -> None:
    result = vernier(tmp_path, "validate", "--config", str(REPO_CONFIG))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok:")


def test_validate_picks_up_config_vernier_yaml_in_the_cwd(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "vernier.yaml").write_text("origin:\n  url: http://o:1\n")
    (tmp_path / "config" / "rules").mkdir()  # the config's folder is where its paths start
    result = vernier(tmp_path, "validate")
    assert result.returncode == 0, result.stderr
    assert "http://o:1" in result.stdout


def test_validate_counts_rules_slots_and_segments(tmp_path: Path) -> None:
    (tmp_path / "config" / "rules").mkdir(parents=True)
    (tmp_path / "config" / "vernier.yaml").write_text("origin:\n  url: http://o:1\n")
    (tmp_path / "config" / "rules" / "a.yaml").write_text(
        "segments:\n  - {id: buyers, when: 'purchases_30d >= 1'}\n"
        "  - {id: readers, when: 'engaged_s > 60'}\n"
        "rules:\n  - {id: r, when: \"'buyers' in segments\", then: [{op: hide, selector: p}]}\n"
    )
    result = vernier(tmp_path, "validate")
    assert result.returncode == 0, result.stderr
    assert "1 rules, 0 slots and 2 segments in 1 files" in result.stdout


def test_validate_environment_error_is_one_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "VERNIER_WORKERS": "x"}
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "validate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "VERNIER_WORKERS" in result.stderr


def test_validate_refuses_a_rules_path_that_does_not_exist(tmp_path: Path) -> None:
    result = vernier(tmp_path, "validate", "--rules", "/nonexistent")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "rules path /nonexistent does not exist" in result.stderr
    assert "--rules" in result.stderr and "Traceback" not in result.stderr


def test_validate_warns_about_an_empty_rules_folder(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    result = vernier(tmp_path, "validate", "--rules", "rules")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok:")
    assert "vernier: warning: no *.yaml files in" in result.stderr


def test_serve_refuses_a_rules_path_that_does_not_exist(tmp_path: Path) -> None:
    result = vernier(
        tmp_path, "serve", "--upstream", "http://127.0.0.1:9", "--rules", "/nonexistent"
    )
    assert result.returncode == 2
    assert "rules path /nonexistent does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_serve_names_a_data_dir_it_cannot_create(tmp_path: Path) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    (tmp_path / "rules").mkdir()
    result = vernier(
        tmp_path, "serve", "--upstream", "http://127.0.0.1:9", "--data-dir", str(a_file / "d")
    )
    assert result.returncode == 2
    assert f"data_dir {a_file / 'd'}: cannot be created" in result.stderr
    assert "--data-dir" in result.stderr and "Traceback" not in result.stderr


def test_serve_names_a_spool_it_cannot_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "spool").write_text("not a folder")
    (tmp_path / "rules").mkdir()
    result = vernier(tmp_path, "serve", "--upstream", "http://127.0.0.1:9", "--data-dir", str(data))
    assert result.returncode == 2
    assert f"{data / 'spool'}: the spool cannot be written" in result.stderr
    assert "Traceback" not in result.stderr


def _taken_port() -> socket.socket:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    return holder


def _closed_port() -> int:
    """A loopback port nothing listens on (bound and released: connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("flag", "setting", "hint"),
    [
        ("--listen", "server.listen", "VERNIER_LISTEN"),
        ("--admin-listen", "admin.listen", "VERNIER_ADMIN_LISTEN"),
    ],
)
def test_serve_names_the_setting_of_an_address_in_use(
    tmp_path: Path, flag: str, setting: str, hint: str
) -> None:
    (tmp_path / "rules").mkdir()
    with _taken_port() as holder:
        taken = f"127.0.0.1:{holder.getsockname()[1]}"
        addresses = {"--listen": "127.0.0.1:0", "--admin-listen": "127.0.0.1:0", flag: taken}
        result = vernier(
            tmp_path,
            "serve",
            "--upstream",
            f"http://127.0.0.1:{_closed_port()}",
            "--rules",
            "rules",
            *(part for pair in addresses.items() for part in pair),
        )
    assert result.returncode == 2, result.stderr
    assert f"vernier: error: cannot listen on {taken} ({setting})" in result.stderr
    assert hint in result.stderr and "Traceback" not in result.stderr
    # the two startup warnings came before: an empty rules folder, an origin that refuses
    assert "WARNING vernier.startup no *.yaml files in" in result.stderr
    assert "is not reachable now" in result.stderr
    # and nothing of the app started in a process that could not listen (issue #14)
    assert "learner" not in result.stderr and "consumer" not in result.stderr


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """``vernier … | head``: the pipe's reader is gone before the output is written (its end is
    closed before the command starts, so every write fails), as it is when head has had enough."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "proxy", "schema"],
            cwd=tmp_path,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")
