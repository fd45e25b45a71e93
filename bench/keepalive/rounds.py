"""Rounds: the configurations take turns, in an order that alternates from round to round, each
turn measured on every endpoint; and the statistics over rounds (median and range, the load).
"""

from __future__ import annotations

import contextlib
import os
import statistics
from dataclasses import dataclass

from .configurations import ENDPOINTS
from .measure import WRK_REPORT_LUA, Measurement, measure, run_wrk
from .report import fmt, log
from .stack import RunningStack


def alternating_schedule(names: list[str], rounds: int) -> list[list[str]]:
    """One list of configurations per round, the order reversed every other round, so that a
    drift in the machine's load over a round weighs on every configuration alike."""
    return [list(names) if number % 2 == 0 else list(reversed(names)) for number in range(rounds)]


@dataclass
class Slot:
    """One configuration's turn in a round: where it ran, and what each endpoint measured."""

    round: int
    position: int
    name: str
    measurements: dict[str, Measurement]


def run_schedule(registry, configurations, layouts, options, conf_dir, workdir,
                 schedule: list[list[str]]) -> list[Slot]:
    """Start every configuration once, side by side (an idle stack uses no CPU), then give each
    its turns as the schedule says: a warm-up, then one measurement per endpoint. Turns a few
    seconds apart see the same machine, whatever else it runs."""
    lua_script = workdir / "report.lua"
    lua_script.write_text(WRK_REPORT_LUA)
    slots = []
    with contextlib.ExitStack() as running:
        stacks = {}
        for name in dict.fromkeys(name for names in schedule for name in names):
            log(f"starting {name}")
            stacks[name] = running.enter_context(
                RunningStack(registry, configurations[name], layouts[name], options, conf_dir))
        for round_number, names in enumerate(schedule, start=1):
            log(f"round {round_number}/{len(schedule)}: load {os.getloadavg()[0]:.2f}")
            for position, name in enumerate(names):
                stack = stacks[name]
                slot = Slot(round_number, position, name, {})
                if options.warmup:
                    # Refills nginx's pool (idle connections close while other stacks have their
                    # turn) and warms the app; its connections are outside every measured window.
                    run_wrk(registry, stack, ENDPOINTS[options.endpoints[0]], options.warmup,
                            lua_script)
                for endpoint in options.endpoints:
                    measurement = measure(registry, stack, ENDPOINTS[endpoint], lua_script)
                    slot.measurements[endpoint] = measurement
                    log(f"  {name} {endpoint}: {measurement.requests_per_s:.0f} req/s, "
                        f"p99 {measurement.p99_ms:.1f} ms, app {measurement.app_requests} req / "
                        f"{measurement.app_connections} conn, server CPU "
                        f"{fmt(measurement.server_cpu_us_per_request, '.0f')} us/req, other CPU "
                        f"{measurement.other_cpu_pct:.0f} %")
                slots.append(slot)
    return slots


def load_by_round(slots: list[Slot]) -> list[dict]:
    """Per round: the 1-minute load average at its start and end and the other processes' CPU."""
    rounds = []
    for number in sorted({slot.round for slot in slots}):
        measured = [m for slot in slots if slot.round == number
                    for m in slot.measurements.values()]
        other = [m.other_cpu_pct for m in measured]
        rounds.append({"round": number, "load_start": measured[0].load_before,
                       "load_end": measured[-1].load_after,
                       "other_cpu_pct_median": round(statistics.median(other), 1),
                       "other_cpu_pct_max": round(max(other), 1)})
    return rounds


def median_or_none(values: list[float | None]) -> float | None:
    """The median of the values present (rounded to 0.1); None when there are none."""
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 1) if present else None


def spread(values: list[float]) -> dict:
    """Median, min and max of per-round values (rounded to 0.001): how ratios are reported."""
    median = statistics.median(values)
    return {"median": round(median, 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}
