"""Config loading: precedence, path resolution, and errors that name file:line and key path."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from proxy.config.load import load_config, parse_listen
from proxy.config.schema import Config
from proxy.config.yaml_strict import load_file
from proxy.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "vernier.yaml"


def write(tmp_path: Path, text: str, name: str = "vernier.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.file == str(path)
    return caught.value


# --- precedence --------------------------------------------------------------------------------


def test_defaults_without_a_file() -> None:
    config = load_config(None, environ={})
    assert config.server == Config().server
    assert config.origin.url == ""


def test_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  listen: '0.0.0.0:9000'\n")
    config = load_config(path, environ={})
    assert config.server.listen == "0.0.0.0:9000"
    assert config.server.workers == 1


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "origin:\n  url: http://file:1\nserver:\n  listen: ':1'\n  workers: 2\n")
    environ = {
        "VERNIER_UPSTREAM": "http://env:2",
        "VERNIER_LISTEN": ":2",
        "VERNIER_WORKERS": "3",
        "VERNIER_LOG_LEVEL": "debug",
    }
    config = load_config(path, environ=environ, overrides={"server.listen": ":3"})
    assert config.origin.url == "http://env:2"
    assert config.server.listen == ":3"
    assert config.server.workers == 3
    assert config.log_level == "debug"


def test_the_edges_headers_can_be_named_by_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "context:\n  geo_header: X-Geo\n  time_zone_header: X-Tz\n")
    environ = {"VERNIER_GEO_HEADER": "CF-IPCountry", "VERNIER_TIME_ZONE_HEADER": "cf-timezone"}
    context = load_config(path, environ=environ).context
    assert (context.geo_header, context.time_zone_header) == ("CF-IPCountry", "cf-timezone")
    assert load_config(path, environ={}).context.time_zone_header == "X-Tz"


def test_none_overrides_and_empty_environment_values_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  listen: ':1'\n")
    config = load_config(path, environ={"VERNIER_LISTEN": ""}, overrides={"server.listen": None})
    assert config.server.listen == ":1"


def test_the_real_environment_is_not_read_when_environ_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VERNIER_LISTEN", "nonsense")
    assert load_config(None, environ={}).server.listen == "127.0.0.1:8080"


def test_environment_workers_must_be_a_number() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ={"VERNIER_WORKERS": "many"})
    assert caught.value.file == "VERNIER_WORKERS" and "'many'" in caught.value.message
    assert caught.value.path == "$.server.workers"


@pytest.mark.parametrize(
    ("environ", "overrides", "source", "path"),
    [
        ({"VERNIER_STORE": "mysql://x"}, {}, "VERNIER_STORE", "$.store.url"),
        ({"VERNIER_STORE": "redis://ok"}, {"store.url": "mysql://x"}, "--store", "$.store.url"),
        ({}, {"origin.url": "http://a/path"}, "--upstream", "$.origin.url"),
        ({"VERNIER_LISTEN": "nonsense"}, {}, "VERNIER_LISTEN", "$.server.listen"),
        ({}, {"admin.listen": "nonsense"}, "--admin-listen", "$.admin.listen"),
        ({"VERNIER_LOG_LEVEL": "loud"}, {}, "VERNIER_LOG_LEVEL", "$.log_level"),
        ({"VERNIER_PUBLIC_URL": "ftp://a"}, {}, "VERNIER_PUBLIC_URL", "$.origin.public_url"),
        ({}, {"server.workers": 0}, "--workers", "$.server.workers"),
        ({"VERNIER_GEO_HEADER": "CF IPCountry"}, {}, "VERNIER_GEO_HEADER", "$.context.geo_header"),
        (
            {"VERNIER_TIME_ZONE_HEADER": "cf-timezone:"},
            {},
            "VERNIER_TIME_ZONE_HEADER",
            "$.context.time_zone_header",
        ),
    ],
)
def test_an_error_in_a_value_names_the_flag_or_variable_that_set_it(
    tmp_path: Path, environ: dict[str, str], overrides: dict[str, object], source: str, path: str
) -> None:
    """The file writes every one of these keys too: the error must not blame its line."""
    text = (
        "origin:\n  url: http://a\n  public_url: http://b\nserver:\n  listen: ':1'\n"
        "  workers: 1\nadmin:\n  listen: ':2'\nstore:\n  url: null\nlog_level: info\n"
        "context:\n  geo_header: X-Geo\n  time_zone_header: X-Tz\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ=environ, overrides=overrides)
    assert (caught.value.file, caught.value.path, caught.value.line) == (source, path, None)
    assert str(caught.value).startswith(f"{source} {path}: ")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("segments:\n  k_min: 9\n  k_max: 3\n", ":2:3 $.segments.k_min", "must not be above k_max"),
        (
            "log_level: loud\n",
            ":1:1 $.log_level",
            "'loud' is not one of the allowed values (debug,",
        ),
        ("segments:\n  method: means\n", ":2:3 $.segments.method", "(dbscan, hdbscan, kmeans)"),
        # a header name with a space, a colon or another non-token character never matches
        (
            "context:\n  geo_header: CF IPCountry\n",
            ":2:3 $.context.geo_header",
            "not an HTTP header name: 'CF IPCountry'",
        ),
        (
            "context:\n  time_zone_header: 'tz:'\n",
            ":2:3 $.context.time_zone_header",
            "not an HTTP header name: 'tz:'",
        ),
        (
            "context:\n  time_zone_header: ' X-Tz'\n",
            ":2:3 $.context.time_zone_header",
            "not an HTTP header name: ' X-Tz'",
        ),
        (
            "context:\n  geo_header: Län\n",
            ":2:3 $.context.geo_header",
            "not an HTTP header name: 'Län' (RFC 9110",
        ),
        (
            "context:\n  extra_headers:\n    - x-ok\n    - 'x(no)'\n",
            ":4:7 $.context.extra_headers[1]",
            "not an HTTP header name: 'x(no)'",
        ),
        (
            "context:\n  extra_headers: ['']\n",
            ":2:19 $.context.extra_headers[0]",
            "not an HTTP header name: ''",
        ),
    ],
)
def test_a_refused_value_reads_as_what_to_change(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value).startswith(f"{path}{where}: ") and message in str(caught.value)


def test_an_error_in_the_file_still_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  url: mysql://x\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"VERNIER_LISTEN": ":3"}, overrides={"rules": "r"})
    assert str(caught.value).startswith(f"{path}:2:3 $.store.url: must be a redis://")
    assert str(caught.value).endswith("URL, got mysql://")


@pytest.mark.parametrize("value", ["0", "-1", ".nan", ".inf"])
def test_a_budget_must_be_a_number_above_zero(tmp_path: Path, value: str) -> None:
    err = error_of(tmp_path, f"html:\n  budget_ms: {value}\n")
    assert (err.line, err.path) == (2, "$.html.budget_ms")
    assert "must be a finite number greater than 0" in err.message


# --- paths -------------------------------------------------------------------------------------


def test_relative_paths_in_the_file_resolve_against_its_folder(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = write(tmp_path / "etc", "rules: r\n")
    config = load_config(path, environ={})
    assert config.rules == str(tmp_path / "etc" / "r")
    assert config.data_dir == str(tmp_path / "etc" / "data")


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, f"rules: {tmp_path / 'abs'}\n")
    assert load_config(path, environ={}).rules == str(tmp_path / "abs")


def test_paths_from_flags_and_environment_resolve_against_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etc").mkdir()
    path = write(tmp_path / "etc", "rules: r\ndata_dir: d\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(path, environ={"VERNIER_DATA_DIR": "state"}, overrides={"rules": "mine"})
    assert config.rules == str(tmp_path / "mine")
    assert config.data_dir == str(tmp_path / "state")


def test_without_a_file_paths_resolve_against_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, environ={})
    assert (config.rules, config.data_dir) == (str(tmp_path / "rules"), str(tmp_path / "data"))


# --- the documented file is the schema ---------------------------------------------------------


def test_repo_config_file_equals_the_schema_defaults_except_paths() -> None:
    config = load_config(REPO_CONFIG, environ={})
    root = REPO_CONFIG.parent
    assert config.rules == str(root / "../rules")
    assert config.data_dir == str(root / "../data")
    assert msgspec.structs.replace(config, rules="rules", data_dir="data") == Config()


def test_repo_config_file_names_every_schema_key() -> None:
    data, _ = load_file(REPO_CONFIG)
    documented = Config(rules="../rules", data_dir="../data")
    assert data == msgspec.json.decode(msgspec.json.encode(documented))


# --- errors name file:line and key path --------------------------------------------------------


def test_unknown_key_names_its_own_line_and_path(tmp_path: Path) -> None:
    err = error_of(tmp_path, "server:\n  listen: ':80'\n\n  listne: ':81'\n")
    assert (err.line, err.path) == (4, "$.server.listne")
    assert str(err).endswith(":4:3 $.server.listne: unknown key 'listne'")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = error_of(tmp_path, "log_level: info\nbogus: 1\n")
    assert (err.line, err.path) == (2, "$.bogus")


@pytest.mark.parametrize(
    ("text", "line", "path"),
    [
        ("server:\n  workers: two\n", 2, "$.server.workers"),
        ("server:\n  workers: 2.5\n", 2, "$.server.workers"),
        ("origin:\n  preserve_host: 'yes'\n", 2, "$.origin.preserve_host"),
        ("server:\n  trusted_proxies: 10.0.0.1\n", 2, "$.server.trusted_proxies"),
        (
            "server:\n  trusted_proxies:\n    - 10.0.0.1\n    - 7\n",
            4,
            "$.server.trusted_proxies[1]",
        ),
        ("log_level: loud\n", 1, "$.log_level"),
        ("server: 3\n", 1, "$.server"),
    ],
)
def test_wrong_type_names_line_and_path(tmp_path: Path, text: str, line: int, path: str) -> None:
    err = error_of(tmp_path, text)
    assert (err.line, err.path) == (line, path)


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert "mapping" in error_of(tmp_path, "- a\n- b\n").message


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://origin", "http"),
        ("origin:8000", "http"),
        ("http://", "http"),
        ("http://origin/app", "path"),
        ("http://origin?x=1", "path"),
        ("http://origin:port", "port"),
        ("http://origin:99999", "port"),
        ("http://user:secret@origin", "password"),
    ],
)
def test_bad_origin_url(tmp_path: Path, url: str, why: str) -> None:
    err = error_of(tmp_path, f"# origin\norigin:\n  url: '{url}'\n")
    assert (err.line, err.path) == (3, "$.origin.url")
    assert why in err.message


@pytest.mark.parametrize("url", ["shop.example", "https://shop.example:x"])
def test_bad_public_url(tmp_path: Path, url: str) -> None:
    err = error_of(tmp_path, f"origin:\n  public_url: '{url}'\n")
    assert (err.line, err.path) == (2, "$.origin.public_url")


def test_good_origin_urls() -> None:
    for url in ("http://127.0.0.1:8000", "https://[::1]:8443/", "HTTP://Origin.Example"):
        assert load_config(None, environ={}, overrides={"origin.url": url}).origin.url == url


@pytest.mark.parametrize("listen", ["nonsense", "host:", "host:port", "1.2.3.4:70000"])
def test_bad_listen(tmp_path: Path, listen: str) -> None:
    err = error_of(tmp_path, f"server:\n  workers: 1\n  listen: '{listen}'\n")
    assert (err.line, err.path) == (3, "$.server.listen")


def test_bad_admin_listen_and_empty_admin_listen(tmp_path: Path) -> None:
    err = error_of(tmp_path, "admin:\n  listen: nowhere\n")
    assert (err.line, err.path) == (2, "$.admin.listen")
    assert load_config(write(tmp_path, "admin:\n  listen: ''\n"), environ={}).admin.listen == ""


def test_bad_trusted_proxies_entry_names_its_index(tmp_path: Path) -> None:
    text = "server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - ::1\n    - localhost\n"
    err = error_of(tmp_path, text)
    assert (err.line, err.path) == (5, "$.server.trusted_proxies[2]")
    assert "localhost" in err.message


@pytest.mark.parametrize("workers", [0, 65, -1])
def test_workers_out_of_range(tmp_path: Path, workers: int) -> None:
    err = error_of(tmp_path, f"server:\n  workers: {workers}\n")
    assert (err.line, err.path) == (2, "$.server.workers")


def test_workers_from_environment_are_range_checked_too() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ={"VERNIER_WORKERS": "100"})
    assert caught.value.path == "$.server.workers"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("server:\n  keepalive_s: 0\n", "$.server.keepalive_s"),
        ("store:\n  op_timeout_ms: -1\n", "$.store.op_timeout_ms"),
        ("html:\n  max_rewrite_bytes: -1\n", "$.html.max_rewrite_bytes"),
        ("origin:\n  max_header_bytes: 100\n", "$.origin.max_header_bytes"),
        ("store:\n  url: http://redis\n", "$.store.url"),
        ("intake:\n  session_events_per_min: 0\n", "$.intake.session_events_per_min"),
        ("intake:\n  address_events_per_min: -5\n", "$.intake.address_events_per_min"),
    ],
)
def test_range_and_scheme_checks_name_the_key(tmp_path: Path, text: str, path: str) -> None:
    err = error_of(tmp_path, text)
    assert (err.line, err.path) == (2, path)


def test_context_headers_that_are_field_names_are_kept(tmp_path: Path) -> None:
    text = (
        "context:\n  geo_header: CF-IPCountry\n  time_zone_header: cf-timezone\n"
        '  extra_headers: [x-ab_test, "X-Odd!#$%&\'*+.^`|~9"]\n'
    )
    context = load_config(write(tmp_path, text), environ={}).context
    assert (context.geo_header, context.time_zone_header) == ("CF-IPCountry", "cf-timezone")
    assert context.extra_headers == ("x-ab_test", "X-Odd!#$%&'*+.^`|~9")
    blank = load_config(write(tmp_path, "context:\n  geo_header: ''\n"), environ={})
    assert blank.context.geo_header == ""  # none, as null


def test_yaml_errors_surface_through_load_config(tmp_path: Path) -> None:
    err = error_of(tmp_path, "server:\n  listen: a\n  listen: b\n")
    assert (err.line, err.path) == (3, "$.server.listen")


# --- parse_listen ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        (":80", ("0.0.0.0", 80)),
        ("[::1]:443", ("::1", 443)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


def test_the_learners_pending_bound_is_read_and_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "learner:\n  max_pending_decisions: 250000\n")
    assert load_config(path, environ={}).learner.max_pending_decisions == 250_000
    err = error_of(tmp_path, "learner:\n  max_pending_decisions: 10\n")
    assert (err.line, err.path) == (2, "$.learner.max_pending_decisions")
