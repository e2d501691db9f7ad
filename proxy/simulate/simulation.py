"""One simulation run: the demo shop, the embedded store and the proxy, driven by synthetic visitors.

:func:`simulate` starts all three in this process (loopback, ports the OS picks, a temporary data
directory), with rules whose home ``hero`` slot is a bandit (``proxy/simulate/rules/hero.yaml``
unless :attr:`Options.rules`, or, for a world file's visitors, a ``hero`` slot offering the
world's variants under ``policy: bandit``); sends the visitors, a bounded number at a time; writes
``simulate.csv``, ``learning-curve.png`` and, when there is one, the learner's ``decisions.jsonl``
and the slot's last model to :attr:`Options.out`; and returns a :class:`Result` with the summary
against the oracle and, when the world drifts, how many visitors the bandit needed to follow.
``max_seconds`` ends the run early, and so does Ctrl-C; what was measured is still written. A
second Ctrl-C ends it at once, writing nothing (:mod:`proxy.simulate.interrupt`). The command
line around it is :mod:`proxy.commands.simulate`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import shutil
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from proxy.errors import VernierError
from proxy.rules.load import load_rules
from proxy.server.safety import check_aiohttp
from proxy.simulate.curve import Summary, recovery_after, summarise, write_csv, write_png
from proxy.simulate.driver import SLOT, Driver, Progress, TooManyFailures
from proxy.simulate.interrupt import CtrlC, Interrupted
from proxy.simulate.site import (
    SIMULATION_RULES,
    Pause,
    embedded_store,
    read_model,
    read_pauses,
    running_site,
    scratch_dir,
    world_rules,
)
from proxy.simulate.spec_world import SpecWorld, http_fields_missing, http_values_unseen
from proxy.simulate.world import Outcome, World
from proxy.simulate.world_file import load_world
from proxy.tasks import BackgroundTasks

CSV_NAME = "simulate.csv"
PNG_NAME = "learning-curve.png"
LOG_NAME = "decisions.jsonl"  # what the learner writes in its data directory
MODEL_NAME = "hero.vw"  # the last published model of the slot
RULES_NAME = "rules"  # a copy of the rules the run used (a world run's exist only during it)
PROGRESS_EVERY_S = 15.0
RECOVERY_RATIO = 0.85  # of the new oracle's CTR, after a world's drift
RECOVERY_WINDOW = 200  # visitors in the moving mean
AnyWorld = World | SpecWorld


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
    rate: float | None = None  # visitors per second at most (None: as fast as they come)
    world: Path | None = None  # a world file; its rules unless `rules` is given explicitly
    rules_given: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    outcomes: list[Outcome]
    summary: Summary
    seconds: float
    failed: int
    retried_beacons: int
    stopped_early: bool
    interrupted: bool  # by Ctrl-C: stopped early as at max_seconds
    files: list[Path]
    pauses: list[Pause]  # what was paused during the run (the guardrail can pause variants)
    started_ms: int  # wall clock, for placing the pauses among the visitors
    drift_at: int | None = None  # the world's change of preferences, if it has one
    recovery: int | None = None  # visitors after it until back to RECOVERY_RATIO of the oracle

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


def check_rules(path: Path, world: AnyWorld) -> None:
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


def load_sim_world(path: Path) -> SpecWorld:
    """A world file's visitors, if the proxy can tell them apart over HTTP."""
    if not path.is_file():
        raise SimulationError(f"--world {path}: no such file")
    spec = load_world(path)  # ConfigError names file:line and key
    missing = http_fields_missing(spec)
    if missing:
        raise SimulationError(
            f"{path}: {', '.join(missing)} cannot be sent to the proxy over HTTP (only device, "
            "referrer, country, language and hour can); run this world in process with "
            "bench/worlds_bench.py"
        )
    unseen = http_values_unseen(spec)
    if unseen:
        raise SimulationError(
            f"{path}: the proxy would not see {', '.join(unseen)} as written (device: mobile, "
            "desktop or tablet; referrer: search, social, email, direct or other; country: a "
            "two-letter ISO code such as US; language: a primary subtag such as de)"
        )
    return SpecWorld(spec)


def simulate(
    options: Options, *, world: AnyWorld | None = None, report: TextIO | None = None
) -> Result:
    """Run one simulation and write its files; ``report`` gets progress lines. Raises
    :class:`Interrupted` at a second Ctrl-C."""
    if world is None:
        world = load_sim_world(options.world) if options.world is not None else World()
    check_aiohttp()
    options.out.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_NAME, LOG_NAME):  # an earlier run's, which this one may not replace
        (options.out / name).unlink(missing_ok=True)
    if not _overlap(options.rules, options.out / RULES_NAME):
        shutil.rmtree(options.out / RULES_NAME, ignore_errors=True)
    with scratch_dir() as data_dir:
        rules = options.rules
        if isinstance(world, SpecWorld) and not options.rules_given:
            rules = data_dir / "rules" / "hero.yaml"
            rules.parent.mkdir()
            rules.write_text(world_rules(world.variants, world.control), encoding="utf-8")
        check_rules(rules, world)
        options = dataclasses.replace(options, rules=rules)
        with embedded_store(data_dir / "store") as store_url:
            started = time.monotonic()
            outcomes, progress, stopped_early, interrupted, pauses = _run_loop(
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
        if len(files) > 2 and (copied := _copy_rules(rules, options.out / RULES_NAME)):
            files.append(copied)  # what `vernier evaluate --rules` needs beside them
    drift_at = world.spec.drift_at if isinstance(world, SpecWorld) else None
    recovery = None
    if drift_at is not None:
        recovery = recovery_after(
            [o.expected.served for o in outcomes],
            [o.expected.oracle for o in outcomes],
            drift_at,
            RECOVERY_WINDOW,
            RECOVERY_RATIO,
        )
    return Result(
        outcomes=outcomes,
        summary=summarise(outcomes),
        seconds=seconds,
        failed=progress.failed,
        retried_beacons=progress.retried_beacons,
        stopped_early=stopped_early,
        interrupted=interrupted,
        files=files,
        pauses=pauses,
        started_ms=progress.started_ms,
        drift_at=drift_at,
        recovery=recovery,
    )


Drive = tuple[list[Outcome], Progress, bool, bool, list[Pause]]


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
    options: Options, world: AnyWorld, data_dir: Path, store_url: str, report: TextIO | None
) -> Drive:
    token = secrets.token_hex(16)
    ctrl_c = CtrlC(report)
    with ctrl_c.handling():
        async with running_site(
            options.rules, data_dir=data_dir, store_url=store_url, admin_token=token
        ) as proxy_url:
            driver: Driver[Any] = Driver(
                proxy_url,
                world,
                admin_token=token,
                concurrency=options.concurrency,
                rate=options.rate,
                run_id=f"sim{options.seed}x{secrets.token_hex(4)}",
            )
            ctrl_c.on_second_press(driver.cancel_visits)
            deadline = time.monotonic() + options.max_seconds
            tasks = BackgroundTasks()
            tasks.spawn(
                _report_progress(driver, options.visitors, report), name="vernier-simulate-progress"
            )
            try:
                outcomes = await driver.run(
                    world.visitors(options.visitors, options.seed),
                    deadline=deadline,
                    stop=ctrl_c.stop,
                    on_outcome=_say_running(driver, report),
                )
            except TooManyFailures as err:
                raise SimulationError(str(err)) from None
            finally:
                await tasks.cancel_all()
            if ctrl_c.pressed_twice:
                raise Interrupted
            pauses = await read_pauses(store_url)
            model = await read_model(store_url, SLOT)
            if ctrl_c.pressed_twice:  # pressed while they were read: nothing is written
                raise Interrupted
            if model is not None:  # for `vernier evaluate --model hero=<out>/hero.vw`
                (options.out / MODEL_NAME).write_bytes(model)
        if ctrl_c.pressed_twice:  # while the site stopped, which it is left to finish
            raise Interrupted
    stopped_early = len(outcomes) + driver.progress.failed < options.visitors
    # a Ctrl-C after the last visitor (while the model is read) stopped nothing
    return outcomes, driver.progress, stopped_early, stopped_early and ctrl_c.stop.is_set(), pauses


def _copy_rules(rules: Path, to: Path) -> Path | None:
    """``rules`` (a file or a folder) copied to the folder ``to``; None, touching nothing, when
    they are in ``to`` or hold it (``--rules OUT/rules``, ``--rules .``)."""
    if _overlap(rules, to):
        return None
    shutil.rmtree(to, ignore_errors=True)
    if rules.is_dir():
        return Path(shutil.copytree(rules, to))
    to.mkdir(parents=True)
    shutil.copy(rules, to / "rules.yaml")  # a folder's rules are its *.yaml files
    return to


def _overlap(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a.is_relative_to(b) or b.is_relative_to(a)


def _say_running(driver: Driver[Any], report: TextIO | None) -> Callable[[Outcome], None] | None:
    """Once the first visitor is through: the run works, and how to stop it."""
    if report is None:
        return None

    def say(outcome: Outcome) -> None:
        if driver.progress.done == 1:
            print(
                "vernier simulate: the visitors are going through the proxy; Ctrl-C stops the "
                "run and writes what was measured",
                file=report,
                flush=True,
            )

    return say


async def _report_progress(driver: Driver[Any], total: int, report: TextIO | None) -> None:
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
