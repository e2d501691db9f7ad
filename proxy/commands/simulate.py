"""``vernier simulate``: drive synthetic visitors through the proxy and draw the learning curve.

Starts the demo shop, the embedded store and the proxy in this process (loopback, ports the OS
picks, a temporary data directory), with rules whose home ``hero`` slot is a bandit
(``proxy/simulate/rules/hero.yaml`` unless ``--rules``); sends ``--visitors`` visitors, at most
``--concurrency`` at a time, whose hidden preferences are in :mod:`proxy.simulate.world`; writes
``simulate.csv`` and ``learning-curve.png`` to ``--out`` (and, when there are some, the learner's
``decisions.jsonl`` and ``hero.vw`` with a copy of the rules in ``rules/``, and the ``vernier
evaluate`` command that reads them); prints how close the bandit came to the oracle over
the last quarter of the visitors. ``--max-seconds`` ends the run early; what was measured is
still written. Ctrl-C ends it the same way (no new visitors, those in flight finish, the results
so far are written) and exits 130; a second Ctrl-C exits 130 at once, writing nothing.

``--world FILE`` replaces the built-in visitors with a world file's
(:mod:`proxy.simulate.world_file`), and the rules with a ``hero`` slot offering the world's
variants under ``policy: bandit`` with no other setting (unless ``--rules`` is given too); when
the world drifts, the result says how many visitors the bandit needed to follow the change.

The run itself is :mod:`proxy.simulate.simulation`; this module is its flags, its errors as one
line on stderr, and the printed result.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from proxy.errors import EXIT_INTERRUPTED, VernierError
from proxy.simulate.curve import summary_text
from proxy.simulate.driver import SLOT
from proxy.simulate.interrupt import Interrupted
from proxy.simulate.simulation import (
    CSV_NAME,
    LOG_NAME,
    MODEL_NAME,
    PNG_NAME,
    RECOVERY_RATIO,
    RECOVERY_WINDOW,
    RULES_NAME,
    Options,
    Result,
    load_sim_world,
    simulate,
)
from proxy.simulate.site import SIMULATION_RULES


def _positive_int(high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
        if not 1 <= number <= high:
            raise argparse.ArgumentTypeError(f"must be from 1 to {high}, got {number}")
        return number

    return parse


def _seed(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < seconds <= 7 * 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most a week, got {value}")
    return seconds


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < rate <= 100_000:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 100000, got {value}")
    return rate


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    defaults = Options()
    simulate_parser = commands.add_parser(
        "simulate",
        help="synthetic visitors through the proxy and the demo shop: the bandit's learning curve",
    )
    simulate_parser.add_argument(
        "--visitors",
        type=_positive_int(10_000_000),
        default=None,
        help=f"how many visitors (default {defaults.visitors}, or the world file's count)",
    )
    simulate_parser.add_argument(
        "--seed", type=_seed, default=defaults.seed, help=f"seed (default {defaults.seed})"
    )
    simulate_parser.add_argument(
        "--concurrency",
        type=_positive_int(256),
        default=defaults.concurrency,
        help=f"visitors in flight at once (default {defaults.concurrency})",
    )
    simulate_parser.add_argument(
        "--rate",
        type=_rate,
        default=None,
        help="visitors per second at most, as a real site's pace (default: as fast as "
        "--concurrency allows; the learning loop's delay spans fewer visitors at a slower pace)",
    )
    simulate_parser.add_argument(
        "--out",
        type=Path,
        default=defaults.out,
        help=f"folder for {CSV_NAME}, {PNG_NAME} and the learner's {LOG_NAME} and "
        f"{MODEL_NAME} (default ./{defaults.out})",
    )
    simulate_parser.add_argument(
        "--rules",
        type=Path,
        default=None,
        help="rules file or folder with a bandit slot 'hero' (default: the bundled "
        "simulation rules; with --world, a hero slot with the world's variants and the "
        "bandit's defaults)",
    )
    simulate_parser.add_argument(
        "--world",
        type=Path,
        default=None,
        help="a world file (YAML: contexts, variants, click rates, optional drift; "
        "docs/simulate-worlds.md) instead of the built-in visitors",
    )
    simulate_parser.add_argument(
        "--max-seconds",
        type=_seconds,
        default=defaults.max_seconds,
        help="stop after this long and write what was measured, as Ctrl-C does (default "
        f"{defaults.max_seconds:g})",
    )


def run(args: argparse.Namespace) -> int:
    """The body of ``vernier simulate``; the exit code. Errors are one line on stderr."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    try:
        world = load_sim_world(args.world) if args.world is not None else None
        visitors = args.visitors
        if visitors is None:
            visitors = world.spec.visitors if world is not None else Options().visitors
        options = Options(
            visitors=visitors,
            seed=args.seed,
            concurrency=args.concurrency,
            rate=args.rate,
            out=args.out,
            rules=args.rules if args.rules is not None else SIMULATION_RULES,
            max_seconds=args.max_seconds,
            world=args.world,
            rules_given=args.rules is not None,
        )
        if options.rate is not None and options.visitors / options.rate > options.max_seconds:
            print(
                f"vernier simulate: {options.visitors} visitors at {options.rate:g} a second "
                f"take longer than --max-seconds {options.max_seconds:g}: the run will stop "
                "early",
                file=sys.stderr,
            )
        result = simulate(options, world=world, report=sys.stderr)
    except VernierError as err:
        print(f"vernier: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"vernier: error: {err.strerror or err}", file=sys.stderr)
        return 1
    except (Interrupted, KeyboardInterrupt):
        print("vernier simulate: interrupted before the results were written", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(result_text(result, options))
    return EXIT_INTERRUPTED if result.interrupted else 0


def result_text(result: Result, options: Options) -> str:
    done = len(result.outcomes)
    stopped = ""
    if result.interrupted:
        stopped = " (interrupted by Ctrl-C)"
    elif result.stopped_early:
        stopped = f" (stopped at --max-seconds {options.max_seconds:g})"
    lines = [
        f"vernier simulate: {done} of {options.visitors} visitors in {result.driving_s:.0f} s "
        f"({result.visitors_per_s:.1f} visitors/s; {result.seconds:.0f} s with the proxy's start "
        f"and stop){stopped}; {result.failed} failed, {result.retried_beacons} beacons retried",
        summary_text(result.summary),
        *(
            f"paused during the run: {p.target} by the {p.by} at visitor "
            f"{result.paused_at(p)}: {p.why}"
            for p in result.pauses
        ),
        *(
            [
                f"preferences changed at visitor {result.drift_at}: back to "
                f"{RECOVERY_RATIO:.2f} of the new oracle after "
                + (
                    f"{result.recovery} visitors"
                    if result.recovery is not None
                    else "more visitors than the run had"
                )
                + f" (moving mean of {RECOVERY_WINDOW})"
            ]
            if result.drift_at is not None and result.drift_at < done
            else []
        ),
        *(
            [f"preferences change at visitor {result.drift_at}, after this run's {done}"]
            if result.drift_at is not None and result.drift_at >= done
            else []
        ),
        "wrote " + ", ".join(str(path) for path in result.files),
        *_not_written(result.files),
        *_evaluate_hint(result.files, options.rules),
    ]
    return "\n".join(lines)


def _not_written(files: list[Path]) -> list[str]:
    """Why the learner's files are missing after a short run (it is not an error)."""
    written = {path.name for path in files}
    missing = {
        LOG_NAME: "joined a decision with its reward",
        MODEL_NAME: "published a model (every 100 learned examples or ~10 s)",
    }
    why = [f"{name}: the run ended before the learner {what}" for name, what in missing.items()
           if name not in written]  # fmt: skip
    them = "them" if len(why) > 1 else "it"
    return [f"not written: {'; '.join(why)}; a longer run writes {them}"] if why else []


def _evaluate_hint(files: list[Path], rules: Path) -> list[str]:
    """The command that evaluates policies on the run's log, with the rules it used."""
    written = {path.name: path for path in files}
    if LOG_NAME not in written:
        return []
    words = ["--log", str(written[LOG_NAME]), "--rules", str(written.get(RULES_NAME, rules))]
    if MODEL_NAME in written:
        words += ["--model", f"{SLOT}={written[MODEL_NAME]}"]
    return [f"evaluate: vernier evaluate {shlex.join(words)}"]
