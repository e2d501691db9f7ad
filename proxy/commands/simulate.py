"""``vernier simulate``: drive synthetic visitors through the proxy and draw the learning curve.

Starts the demo shop, the embedded store and the proxy in this process (loopback, ports the OS
picks, a temporary data directory), with rules whose home ``hero`` slot is a bandit
(``proxy/simulate/rules/hero.yaml`` unless ``--rules``); sends ``--visitors`` visitors, at most
``--concurrency`` at a time, whose hidden preferences are in :mod:`proxy.simulate.world`; writes
``simulate.csv`` and ``learning-curve.png`` to ``--out`` (and the learner's ``decisions.jsonl``,
for ``vernier evaluate``, when there is one); prints how close the bandit came to the oracle over
the last quarter of the visitors. ``--max-seconds`` ends the run early; what was measured is
still written.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from proxy.errors import VernierError
from proxy.rules.load import load_rules
from proxy.server.safety import check_aiohttp
from proxy.simulate.curve import Summary, summarise, summary_text, write_csv, write_png
from proxy.simulate.driver import SLOT, Driver, Progress, TooManyFailures
from proxy.simulate.site import (
    SIMULATION_RULES,
    Pause,
    embedded_store,
    read_model,
    read_pauses,
    running_site,
    scratch_dir,
)
from proxy.simulate.world import Outcome, World
from proxy.tasks import BackgroundTasks

CSV_NAME = "simulate.csv"
PNG_NAME = "learning-curve.png"
LOG_NAME = "decisions.jsonl"  # what the learner writes in its data directory
MODEL_NAME = "hero.vw"  # the last published model of the slot
PROGRESS_EVERY_S = 15.0


class SimulationError(VernierError):
    """The simulation cannot run or could not finish (one line for the user)."""


@dataclass(frozen=True, slots=True)
class Options:
    visitors: int = 20_000
    seed: int = 1
    concurrency: int = 8
    out: Path = Path("simulation")
    rules: Path = SIMULATION_RULES
    max_seconds: float = 900.0


@dataclass(frozen=True, slots=True)
class Result:
    outcomes: list[Outcome]
    summary: Summary
    seconds: float
    failed: int
    retried_beacons: int
    stopped_early: bool
    files: list[Path]
    pauses: list[Pause]  # what was paused during the run (the guardrail can pause variants)
    started_ms: int  # wall clock, for placing the pauses among the visitors

    def paused_at(self, pause: Pause) -> int | None:
        return visitor_at(self.outcomes, self.started_ms, pause.at_ms)

    @property
    def driving_s(self) -> float:
        """From the first visit's start to the last visit's end."""
        return max((o.elapsed_s for o in self.outcomes), default=0.0)

    @property
    def visitors_per_s(self) -> float:
        return len(self.outcomes) / self.driving_s if self.driving_s > 0 else 0.0


def visitor_at(outcomes: list[Outcome], started_ms: int, at_ms: int) -> int | None:
    """The index of the first visitor to finish at or after ``at_ms``, if any did."""
    for o in outcomes:
        if started_ms + o.elapsed_s * 1000 >= at_ms:
            return o.visitor.index
    return None


def check_rules(path: Path, world: World) -> None:
    """The rules must load and offer the variants the simulated visitors have preferences on."""
    if not path.exists():
        raise SimulationError(f"--rules {path}: no such file or folder")
    ruleset = load_rules(path)  # ConfigError names file:line and key
    slot = next((s for s in ruleset.slots if s.id == SLOT), None)
    if slot is None:
        raise SimulationError(f"{path}: no slot '{SLOT}' (the slot the simulated visitors see)")
    if set(slot.variants) != set(world.variants):
        raise SimulationError(
            f"{path}: slot '{SLOT}' offers {sorted(slot.variants)}; the simulated visitors have "
            f"preferences on {sorted(world.variants)}"
        )


def simulate(
    options: Options, *, world: World | None = None, report: TextIO | None = None
) -> Result:
    """Run one simulation and write its files; ``report`` gets progress lines."""
    world = world or World()
    check_rules(options.rules, world)
    check_aiohttp()
    options.out.mkdir(parents=True, exist_ok=True)
    with scratch_dir() as data_dir:
        with embedded_store(data_dir / "store") as store_url:
            started = time.monotonic()
            outcomes, progress, stopped_early, pauses = _run_loop(
                _drive(options, world, data_dir, store_url, report)
            )
            seconds = time.monotonic() - started
        files = [options.out / CSV_NAME, options.out / PNG_NAME]
        write_csv(files[0], outcomes)
        marks = [
            (index, f"{pause.target} paused")
            for pause in pauses
            if (index := visitor_at(outcomes, progress.started_ms, pause.at_ms)) is not None
        ]
        write_png(
            files[1],
            outcomes,
            title=f"vernier simulate: hero slot, {len(outcomes)} visitors, seed {options.seed}",
            marks=marks,
        )
        if (options.out / MODEL_NAME).exists():
            files.append(options.out / MODEL_NAME)
        log = data_dir / LOG_NAME
        if log.exists():
            files.append(Path(shutil.copy(log, options.out / LOG_NAME)))
    return Result(
        outcomes=outcomes,
        summary=summarise(outcomes),
        seconds=seconds,
        failed=progress.failed,
        retried_beacons=progress.retried_beacons,
        stopped_early=stopped_early,
        files=files,
        pauses=pauses,
        started_ms=progress.started_ms,
    )


Drive = tuple[list[Outcome], Progress, bool, list[Pause]]


def _run_loop(main: Coroutine[Any, Any, Drive]) -> Drive:
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - platforms without uvloop
        pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main)


async def _drive(
    options: Options, world: World, data_dir: Path, store_url: str, report: TextIO | None
) -> Drive:
    token = secrets.token_hex(16)
    async with running_site(
        options.rules, data_dir=data_dir, store_url=store_url, admin_token=token
    ) as proxy_url:
        driver = Driver(
            proxy_url,
            world,
            admin_token=token,
            concurrency=options.concurrency,
            run_id=f"sim{options.seed}x{secrets.token_hex(4)}",
        )
        deadline = time.monotonic() + options.max_seconds
        tasks = BackgroundTasks()
        tasks.spawn(
            _report_progress(driver, options.visitors, report), name="vernier-simulate-progress"
        )
        try:
            outcomes = await driver.run(
                world.visitors(options.visitors, options.seed), deadline=deadline
            )
        except TooManyFailures as err:
            raise SimulationError(str(err)) from None
        finally:
            await tasks.cancel_all()
        pauses = await read_pauses(store_url)
        model = await read_model(store_url, SLOT)
        if model is not None:  # for `vernier evaluate --model hero=<out>/hero.vw`
            (options.out / MODEL_NAME).write_bytes(model)
    stopped_early = len(outcomes) + driver.progress.failed < options.visitors
    return outcomes, driver.progress, stopped_early, pauses


async def _report_progress(driver: Driver, total: int, report: TextIO | None) -> None:
    if report is None:
        return
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        p = driver.progress
        elapsed = time.monotonic() - p.started
        rate = p.done / elapsed if elapsed > 0 else 0.0
        ctr = p.clicks / p.done if p.done else 0.0
        print(
            f"vernier simulate: {p.done}/{total} visitors, {elapsed:.0f} s, "
            f"{rate:.1f} visitors/s, CTR so far {ctr:.4f}, {p.failed} failed",
            file=report,
            flush=True,
        )


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


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    defaults = Options()
    simulate_parser = commands.add_parser(
        "simulate",
        help="synthetic visitors through the proxy and the demo shop: the bandit's learning curve",
    )
    simulate_parser.add_argument(
        "--visitors",
        type=_positive_int(10_000_000),
        default=defaults.visitors,
        help=f"how many visitors (default {defaults.visitors})",
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
        "--out",
        type=Path,
        default=defaults.out,
        help=f"folder for {CSV_NAME} and {PNG_NAME} (default ./{defaults.out})",
    )
    simulate_parser.add_argument(
        "--rules",
        type=Path,
        default=defaults.rules,
        help="rules file or folder with a bandit slot 'hero' (default: the bundled "
        "simulation rules)",
    )
    simulate_parser.add_argument(
        "--max-seconds",
        type=_seconds,
        default=defaults.max_seconds,
        help=f"stop after this long and write what was measured (default {defaults.max_seconds:g})",
    )


def run(args: argparse.Namespace) -> int:
    """The body of ``vernier simulate``; the exit code. Errors are one line on stderr."""
    options = Options(
        visitors=args.visitors,
        seed=args.seed,
        concurrency=args.concurrency,
        out=args.out,
        rules=args.rules,
        max_seconds=args.max_seconds,
    )
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    try:
        result = simulate(options, report=sys.stderr)
    except VernierError as err:
        print(f"vernier: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"vernier: error: {err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(result_text(result, options))
    return 0


def result_text(result: Result, options: Options) -> str:
    done = len(result.outcomes)
    stopped = f" (stopped at --max-seconds {options.max_seconds:g})" if result.stopped_early else ""
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
        "wrote " + ", ".join(str(path) for path in result.files),
    ]
    return "\n".join(lines)
