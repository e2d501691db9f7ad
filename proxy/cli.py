"""The ``vernier`` command.

    vernier serve    --upstream URL [--listen HOST:PORT] [--config FILE] [--rules PATH]
                     [--store URL] [--data-dir DIR] [--workers N] [--public-url URL]
                     [--admin-listen HOST:PORT]
    vernier validate [--config FILE] [--rules PATH]
    vernier preview  URL [--device mobile|tablet|desktop|bot] [--hour H] [--weekday DAY]
                     [--country CC] [--referrer URL] [--profile FIELD=VALUE …]
                     [--cookie NAME=VALUE …] [--header 'NAME: VALUE' …] [--set FIELD=VALUE …]
                     [--variant SLOT=VARIANT …] [--landing] [--no-diff] [--config FILE]
                     [--rules PATH] [--upstream URL]
    vernier schema   (the JSON Schema of a rules file, for editors)
    vernier evaluate --log FILE [--policy-file FILE …] [--policy MODULE:FUNCTION …] [--json]
                     [--slot S] [--dr-features all|none|D,T] [--seed N] [--resamples N]
                     [--rules PATH] [--model SLOT=FILE …] [--no-store]   (docs/decision-log.md)
    vernier pause    SLOT|RULE|SLOT/VARIANT [--why TEXT]   (also: resume, pauses)
    vernier report   [--slot S] [--since 7d] [--format text|json|csv|md]
    vernier segments list|show ID|fit|explain VISITOR
    (validate, preview, pause, resume, pauses, report and segments reach the live proxies' store
    with --store URL or --data-dir DIR, as serve names it)
    vernier learn    [--config FILE] [--rules PATH] [--store URL] [--data-dir DIR]
    vernier simulate [--visitors N] [--seed N] [--concurrency N] [--rate N] [--out DIR]
                     [--rules FILE]
    vernier demo     [--listen HOST:PORT] [--data-dir DIR] [--rules PATH]   (prints its admin
                     token and the commands that reach it)

Precedence for every setting: flags, then ``VERNIER_*`` environment variables, then the config
file, then defaults. Errors are one readable line (file:line:column and key for config), never a
traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from proxy import __version__
from proxy.commands import evaluate as evaluate_command
from proxy.commands import flag_values
from proxy.commands import learn as learn_command
from proxy.commands import pause as pause_command
from proxy.commands import report as report_command
from proxy.commands import segments as segments_command
from proxy.commands import simulate as simulate_command
from proxy.commands.preflight import (
    add_store_flags,
    load_required_rules,
    origin_warning,
    rules_warning,
)
from proxy.config.load import flag_overrides, load_config
from proxy.config.schema import Config
from proxy.errors import EXIT_INTERRUPTED, VernierError
from proxy.preview import USER_AGENTS, Visitor, preview
from proxy.rules.compiled import RuleSet
from proxy.rules.context import WEEKDAYS
from proxy.rules.jsonschema import rules_json_schema
from proxy.store_config import store_for

DEFAULT_CONFIG = Path("config/vernier.yaml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vernier", description="A personalising reverse proxy.")
    parser.add_argument("--version", action="version", version=f"vernier {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--config", type=Path, help="YAML config file (default: config/vernier.yaml if present)"
        )
        sub.add_argument("--rules", help="rules file or folder")

    serve = commands.add_parser("serve", help="run the proxy in front of a site")
    serve.add_argument(
        "--upstream", type=flag_values.url, help="the origin, e.g. http://127.0.0.1:8000"
    )
    serve.add_argument(
        "--listen", type=flag_values.listen, help="HOST:PORT to listen on (default 127.0.0.1:8080)"
    )
    serve.add_argument(
        "--public-url",
        type=flag_values.url,
        help="the address visitors use, e.g. https://shop.example",
    )
    serve.add_argument(
        "--store", help="redis://, unix:// or redis+cluster:// URL (default: embedded)"
    )
    serve.add_argument("--data-dir", help="where the embedded store and keys live (default ./data)")
    serve.add_argument("--workers", type=flag_values.workers, help="worker processes (default 1)")
    serve.add_argument(
        "--admin-listen",
        type=flag_values.listen_or_off,
        help="HOST:PORT of the loopback admin listener (default 127.0.0.1:9901; '' turns it off)",
    )
    common(serve)

    validate = commands.add_parser("validate", help="check the config and rules, then exit")
    validate.add_argument(
        "--live",
        action="store_true",
        help="also report how each rule fares on the live site (reads the proxies' store)",
    )
    add_store_flags(validate)  # for --live
    common(validate)

    preview = commands.add_parser(
        "preview", help="show which rules and variants fire on a page for a given visitor"
    )
    preview.add_argument("url", help="a page of the site: a full URL, or a path on the origin")
    preview.add_argument("--upstream", type=flag_values.url, help="the origin, when URL is a path")
    preview.add_argument(
        "--device",
        choices=sorted(USER_AGENTS),
        help="default: as a --header 'User-Agent: …' says, else desktop",
    )
    preview.add_argument("--hour", type=flag_values.bounded_int(0, 23), help="local hour, 0-23")
    preview.add_argument("--weekday", choices=WEEKDAYS, help="local weekday")
    preview.add_argument("--country", type=flag_values.country, help="ISO country code, e.g. DE")
    preview.add_argument("--referrer", help="the Referer the visitor arrives with")
    preview.add_argument("--landing", action="store_true", help="first page of the session")
    for flag, parse, what in (
        ("--profile", flag_values.profile_field, "a visitor profile field, e.g. engaged_s=40"),
        ("--set", flag_values.context_field, "any context field, e.g. referrer.class=search"),
        ("--cookie", flag_values.pair("="), "a cookie the visitor sends"),
        (
            "--variant",
            flag_values.pair("="),
            "show this variant of a slot, e.g. hero=b, bandit slots too",
        ),
    ):
        preview.add_argument(
            flag,
            type=parse,
            action=flag_values.OncePerName,
            default=[],
            help=f"{what} (repeatable, each name once)",
        )
    preview.add_argument(
        "--header", type=flag_values.pair(":"), action="append", default=[], help="'Name: value'"
    )
    preview.add_argument("--no-diff", action="store_true", help="omit the HTML diff")
    add_store_flags(preview)  # the live proxies' pauses
    common(preview)

    commands.add_parser("schema", help="print the JSON Schema of a rules file")
    evaluate_command.add_parser(commands)
    pause_command.add_parsers(commands)
    report_command.add_parser(commands)
    segments_command.add_parser(commands)
    learn_command.add_parser(commands)
    simulate_command.add_parser(commands)

    demo = commands.add_parser("demo", help="run the proxy in front of the bundled demo shop")
    demo.add_argument(
        "--listen",
        type=flag_values.listen,
        default="127.0.0.1:8080",
        help="HOST:PORT (default 127.0.0.1:8080)",
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        help="state folder (default $XDG_STATE_HOME/vernier/demo or ~/.local/state/vernier/demo)",
    )
    demo.add_argument(
        "--rules", type=Path, help="rules file or folder (default: the demo's five scenarios)"
    )
    return parser


def _config_file(args: argparse.Namespace) -> Path | None:
    if getattr(args, "config", None) is not None:
        return Path(args.config)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


async def _validate_live(config: Config, ruleset: RuleSet) -> int:
    from proxy.rules.live_check import findings, report
    from proxy.store.rule_health import read

    store = store_for(config, None)
    try:
        live = await read(store)
    finally:
        await store.close()
    if live is None:
        print(f"vernier: error: cannot read the live store at {store.url}", file=sys.stderr)
        return 1
    found = findings(ruleset, live)
    print(report(found))
    return 1 if any(f.problem for f in found) else 0


def _preview(args: argparse.Namespace) -> int:
    config = load_config(_config_file(args), overrides=flag_overrides(args))
    context: dict[str, object] = {name: flag_values.typed(value) for name, value in args.set}
    for name in ("hour", "weekday", "country"):
        if getattr(args, name) is not None:
            context[name] = getattr(args, name)
    headers = dict(args.header)
    if args.referrer:
        headers["Referer"] = args.referrer
    visitor = Visitor(
        device=args.device,
        headers=headers,
        cookies=dict(args.cookie),
        profile=dict(args.profile),
        context=context,
        landing=args.landing,
        variants=dict(args.variant),
    )
    result = asyncio.run(preview(config, args.url, visitor))
    print(result.report(diff=not args.no_diff))
    return 0


def _validate(args: argparse.Namespace) -> int:
    config = load_config(_config_file(args), overrides=flag_overrides(args))
    ruleset = load_required_rules(config)
    print(
        f"ok: configuration valid (origin {config.origin.url or 'not set'}); "
        f"{len(ruleset.rules)} rules, {len(ruleset.slots)} slots and "
        f"{len(ruleset.segments.declared)} segments in {len(ruleset.files)} files"
    )
    if (warning := rules_warning(config, ruleset)) is not None:
        print(f"vernier: warning: {warning}", file=sys.stderr)
    return asyncio.run(_validate_live(config, ruleset)) if args.live else 0


def _serve(args: argparse.Namespace) -> int:
    from proxy.server.workers import require_origin, run

    config = load_config(_config_file(args), overrides=flag_overrides(args))
    _setup_logging(config)
    require_origin(config)
    ruleset = load_required_rules(config)
    startup = logging.getLogger("vernier.startup")
    for warning in (rules_warning(config, ruleset), asyncio.run(origin_warning(config))):
        if warning is not None:
            startup.warning("%s", warning)
    return run(config, announce=_announce)


def _command_name() -> str:
    """How the user ran Vernier (``.venv/bin/vernier`` under ``make demo``), for printed commands."""
    invoked = sys.argv[0] if sys.argv else ""
    return invoked if Path(invoked).name == "vernier" else "vernier"


def _setup_logging(config: Config) -> None:
    from proxy.server.workers import LOG_FORMAT

    logging.basicConfig(level=config.log_level.upper(), format=LOG_FORMAT)


def _announce(where: str) -> None:
    print(f"vernier: serving on {where}", file=sys.stderr, flush=True)


EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a command ended by SIGPIPE


def _reader_gone() -> int:
    """Whoever read our output stopped (``vernier preview … | head``): end quietly, as tools
    that die of SIGPIPE do. stdout is pointed at /dev/null so the flush at exit cannot fail
    again (the recipe in Python's ``signal`` docs, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def _chosen_parser(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """The parser of the (sub)command ``args`` chose: ``vernier segments explain`` ends at
    ``explain``'s, so its usage is the one printed."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, subs[0].dest, None) if subs else None
        if chosen not in (subs[0].choices if subs else {}):
            return parser
        parser = subs[0].choices[chosen]


def _option_before_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Refuse an option where a (sub)command belongs, naming it: argparse would say only that
    the command is missing (``vernier --bogus``) or take the option's value for the command
    (``vernier segments --config x``: "invalid choice: 'x'")."""
    rest = list(argv)
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or not rest:
            return
        own = {flag for action in parser._actions for flag in action.option_strings}
        token = rest.pop(0)
        if token.startswith("-") and not _known_option(token.split("=", 1)[0], own):
            parser.error(
                f"{token}: the {subs[0].metavar} comes first ({', '.join(subs[0].choices)})"
            )
        if token not in subs[0].choices:
            return
        parser = subs[0].choices[token]


def _known_option(name: str, own: set[str]) -> bool:
    """Whether argparse takes ``name`` for one of ``own``: exactly, a long one abbreviated
    (``--vers``), or a short one with more after it (``-hx``)."""
    if name in own:
        return True
    if name.startswith("--"):
        return any(flag.startswith(name) for flag in own if flag.startswith("--"))
    return name[:2] in own


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    _option_before_command(parser, sys.argv[1:] if argv is None else argv)
    # argparse leaves a subcommand's unknown flags to the top-level parser, which would print
    # its own usage; the subcommand's usage says what that command takes
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _chosen_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        if args.command == "validate":
            return _validate(args)
        if args.command == "schema":
            print(json.dumps(rules_json_schema(), indent=2))
            return 0
        if args.command == "preview":
            return _preview(args)
        if args.command == "evaluate":
            return evaluate_command.run(args, _config_file(args))
        if args.command == "learn":
            return learn_command.run(args, _config_file(args))
        if args.command == "simulate":
            return simulate_command.run(args)
        if args.command == "report":
            return report_command.run(args, _config_file(args))
        if args.command == "segments":
            return segments_command.run(args, _config_file(args))
        if args.command in ("pause", "resume", "pauses"):
            return pause_command.run(args, _config_file(args))
        if args.command == "demo":
            from proxy.demo.run import DEMO_RULES, default_data_dir, run_demo

            return run_demo(
                listen=args.listen,
                data_dir=args.data_dir or default_data_dir(),
                rules=args.rules or DEMO_RULES,
                command=_command_name(),
            )
        return _serve(args)
    except VernierError as err:
        print(f"vernier: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _reader_gone()
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"vernier: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
