"""Build the one :class:`Config` a process runs with.

Precedence, highest first: command-line flags, ``VERNIER_*`` environment variables, the config
file, the schema's defaults. Everything is validated here, once; nothing downstream re-checks.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from proxy.config.schema import Config
from proxy.config.yaml_hints import unquoted_hint
from proxy.config.yaml_strict import LineMap, load_file
from proxy.errors import ConfigError
from proxy.messages import invalid_value
from proxy.records.http_token import HTTP_TOKEN

# environment variable -> dotted config key
ENVIRONMENT_KEYS: dict[str, str] = {
    "VERNIER_UPSTREAM": "origin.url",
    "VERNIER_PUBLIC_URL": "origin.public_url",
    "VERNIER_LISTEN": "server.listen",
    "VERNIER_WORKERS": "server.workers",
    "VERNIER_STORE": "store.url",
    "VERNIER_DATA_DIR": "data_dir",
    "VERNIER_RULES": "rules",
    "VERNIER_ADMIN_LISTEN": "admin.listen",
    "VERNIER_ADMIN_TOKEN": "admin.token",
    "VERNIER_LOG_LEVEL": "log_level",
    # what the edge in front sets, which differs between a deployment behind a CDN and one not
    "VERNIER_GEO_HEADER": "context.geo_header",
    "VERNIER_TIME_ZONE_HEADER": "context.time_zone_header",
}
# command-line flag -> dotted config key; every command spells a setting it takes the same way
FLAG_KEYS: dict[str, str] = {
    "--upstream": "origin.url",
    "--public-url": "origin.public_url",
    "--listen": "server.listen",
    "--workers": "server.workers",
    "--admin-listen": "admin.listen",
    "--store": "store.url",
    "--data-dir": "data_dir",
    "--rules": "rules",
}
_FLAG_OF = {dotted: flag for flag, dotted in FLAG_KEYS.items()}
_INT_KEYS = {"server.workers"}


def flag_overrides(args: object) -> dict[str, Any]:
    """The settings a parsed command line (argparse's namespace) gives with the flags of
    :data:`FLAG_KEYS`, for :func:`load_config`; a flag the command has not, or that was not
    given, is None."""
    return {
        dotted: getattr(args, flag.removeprefix("--").replace("-", "_"), None)
        for flag, dotted in FLAG_KEYS.items()
    }


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


def _from_environment(environ: Mapping[str, str], given: dict[str, str]) -> dict[str, Any]:
    """The settings of the ``VERNIER_*`` variables; each one's key path is recorded in
    ``given`` (path -> variable), so that an error in its value names the variable."""
    out: dict[str, Any] = {}
    for var, dotted in ENVIRONMENT_KEYS.items():
        raw = environ.get(var)
        if raw is None or raw == "":
            continue
        value: Any = raw
        if dotted in _INT_KEYS:
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(
                    f"must be a whole number, got {raw!r}", file=var, path=f"$.{dotted}"
                ) from None
        _set_dotted(out, dotted, value)
        given[f"$.{dotted}"] = var
    return out


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def msgspec_error_path(err: msgspec.ValidationError, schema: Any) -> tuple[str, str]:
    """(what is wrong, key path) for a config value msgspec refused as a ``schema``, in
    Vernier's words."""
    path, what = invalid_value(err, field_word="key", schema=schema)
    return what, path


def load_config(
    file: Path | None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read ``file`` (optional), apply environment and ``overrides`` (dotted keys), validate.

    An error in a value set by an override names its flag (:data:`FLAG_KEYS`; ``<overrides>``
    for a key no flag sets), one set by the environment its variable, not the file's line.
    """
    data: dict[str, Any] = {}
    lines = LineMap(str(file) if file else "<defaults>")
    if file is not None:
        loaded, lines = load_file(file)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise lines.error("the config file must be a mapping of sections")
        data = loaded
    environment = _from_environment(os.environ if environ is None else environ, lines.given)
    data = _merge(data, environment)
    # top-level keys given by the environment or flags: their relative paths mean the cwd
    given_outside = set(environment)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
            given_outside.add(dotted.split(".", 1)[0])
            lines.given[f"$.{dotted}"] = _FLAG_OF.get(dotted, "<overrides>")
    try:
        config = msgspec.convert(data, Config, strict=True)
    except msgspec.ValidationError as err:
        message, path = msgspec_error_path(err, Config)
        raise lines.error(message + unquoted_hint(data, path, message), path) from None
    file_dir = file.parent if file is not None else Path.cwd()

    def resolve(key: str, value: str) -> str:
        return str((Path.cwd() if key in given_outside else file_dir) / value)

    config = msgspec.structs.replace(
        config,
        rules=resolve("rules", config.rules),
        data_dir=resolve("data_dir", config.data_dir),
    )
    _check(config, lines)
    return config


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` → (host, port); raises ValueError with a readable reason."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} is out of range")
    return host, number


def _check_http_url(value: str, path: str, lines: LineMap) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise lines.error("must be an http:// or https:// URL", path)
    if parts.username is not None or parts.password is not None:
        raise lines.error("must not contain a user name or password", path)
    try:
        parts.port  # noqa: B018 - urlsplit only validates the port when asked
    except ValueError:
        raise lines.error("has an invalid port", path) from None


def _check_header_names(config: Config, lines: LineMap) -> None:
    """The header names of ``context``: a name that is not a field name could never match."""
    context = config.context
    single = {"geo_header": context.geo_header, "time_zone_header": context.time_zone_header}
    names = [(f"$.context.{key}", name) for key, name in single.items() if name]  # "": none
    names += [(f"$.context.extra_headers[{i}]", n) for i, n in enumerate(context.extra_headers)]
    for path, name in names:
        if not HTTP_TOKEN.fullmatch(name):  # RFC 9110 §5.1: a field name is a token
            raise lines.error(
                f"not an HTTP header name: {name!r} (RFC 9110 allows letters, digits and "
                "!#$%&'*+-.^_`|~)",
                path,
            )


def _check(config: Config, lines: LineMap) -> None:
    """Cross-field checks msgspec's types cannot express."""
    for key in ("url", "public_url"):
        value = getattr(config.origin, key)
        if not value:
            continue
        _check_http_url(value, f"$.origin.{key}", lines)
        parts = urlsplit(value)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            # Vernier maps whole origins; a path prefix would need rewriting every request path
            raise lines.error("must not have a path, query or fragment", f"$.origin.{key}")
    try:
        ZoneInfo(config.context.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise lines.error(
            f"unknown time zone {config.context.time_zone!r}", "$.context.time_zone"
        ) from None
    _check_header_names(config, lines)
    if config.origin.pool_size < 1:
        raise lines.error("must be at least 1", "$.origin.pool_size")
    for dotted in ("server.listen", "admin.listen"):
        section, key = dotted.split(".")
        value = getattr(getattr(config, section), key)
        if section == "admin" and not value:
            continue
        try:
            parse_listen(value)
        except ValueError as err:
            raise lines.error(str(err), f"$.{dotted}") from None
    if not 1 <= config.server.workers <= 64:
        raise lines.error("must be between 1 and 64", "$.server.workers")
    for i, peer in enumerate(config.server.trusted_proxies):
        try:
            ipaddress.ip_network(peer, strict=False)
        except ValueError:
            raise lines.error(
                f"not an IP address or CIDR: {peer!r}", f"$.server.trusted_proxies[{i}]"
            ) from None
    positive = {
        "$.server.header_timeout_s": config.server.header_timeout_s,
        "$.server.keepalive_s": config.server.keepalive_s,
        "$.origin.connect_timeout_s": config.origin.connect_timeout_s,
        "$.origin.read_timeout_s": config.origin.read_timeout_s,
        "$.html.budget_ms": config.html.budget_ms,
        "$.store.op_timeout_ms": config.store.op_timeout_ms,
        "$.store.connect_timeout_ms": config.store.connect_timeout_ms,
        "$.intake.session_events_per_min": config.intake.session_events_per_min,
        "$.intake.address_events_per_min": config.intake.address_events_per_min,
        "$.overload.shed_changes_lag_ms": config.overload.shed_changes_lag_ms,
        "$.overload.shed_changes_in_flight": config.overload.shed_changes_in_flight,
        "$.overload.sample_ms": config.overload.sample_ms,
        "$.overload.window_s": config.overload.window_s,
        "$.retention.events_max_age_s": config.retention.events_max_age_s,
        "$.retention.decisions_max_age_s": config.retention.decisions_max_age_s,
        "$.retention.dedupe_s": config.retention.dedupe_s,
        "$.retention.trim_every_s": config.retention.trim_every_s,
    }
    for path, number in positive.items():
        if not 0 < number < math.inf:  # nor NaN (YAML's .nan, which compares false) nor .inf
            raise lines.error("must be a finite number greater than 0", path)
    overload = config.overload
    if overload.shed_tag_lag_ms < overload.shed_changes_lag_ms:
        raise lines.error("must be at least shed_changes_lag_ms", "$.overload.shed_tag_lag_ms")
    if overload.shed_tag_in_flight < overload.shed_changes_in_flight:
        raise lines.error(
            "must be at least shed_changes_in_flight", "$.overload.shed_tag_in_flight"
        )
    if config.html.max_rewrite_bytes < 0:
        raise lines.error("must be 0 or greater", "$.html.max_rewrite_bytes")
    if config.origin.max_header_bytes < 8190:
        raise lines.error("must be at least 8190", "$.origin.max_header_bytes")
    if config.store.url is not None:
        scheme = urlsplit(config.store.url).scheme
        if scheme not in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
            kinds = "redis://, rediss://, unix:// or redis+cluster://"
            raise lines.error(f"must be a {kinds} URL, got {scheme}://", "$.store.url")
