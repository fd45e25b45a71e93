"""The comparison: every configuration once per round, summarized per endpoint with its ratios to
the baseline and to the references (medians of per-round ratios, by req/s and by CPU per request).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict

from .configurations import BASELINE, REFERENCES
from .measure import Measurement
from .rounds import alternating_schedule, load_by_round, median_or_none, run_schedule, spread


def summarize(per_round: dict[str, list[Measurement]]) -> dict[str, dict]:
    """Median and spread over rounds. Ratios to the baseline and to the references are medians of
    per-round ratios, so that a slow round slows both sides of each ratio alike."""
    summary = {}
    for name, rounds in per_round.items():
        rates = [m.requests_per_s for m in rounds]
        median_rate = statistics.median(rates)
        app_requests = sum(m.app_requests for m in rounds)
        app_connections = sum(m.app_connections for m in rounds)
        entry = {
            "requests_per_s": round(median_rate, 1),
            "requests_per_s_min": round(min(rates), 1),
            "requests_per_s_max": round(max(rates), 1),
            "spread_pct": round(100 * (max(rates) - min(rates)) / median_rate, 1) if median_rate else None,
            "p50_ms": round(statistics.median(m.p50_ms for m in rounds), 2),
            "p99_ms": round(statistics.median(m.p99_ms for m in rounds), 2),
            "non_2xx": sum(m.non_2xx for m in rounds),
            "socket_errors": sum(m.socket_errors for m in rounds),
            "app_requests": app_requests,
            "app_connections": app_connections,
            # None when no connection was opened in the window: every request reused a pooled one.
            "requests_per_connection": (round(app_requests / app_connections, 2)
                                        if app_connections else None),
            # A connection opened for a request the client abandoned as wrk stopped carries no
            # request, so connections can exceed requests by a few: not negative reuse.
            "reused_pct": (round(max(0.0, 100 * (1 - app_connections / app_requests)), 2)
                           if app_requests else None),
            "other_cpu_pct": round(statistics.median(m.other_cpu_pct for m in rounds), 1),
            "server_cpu_us_per_request": median_or_none(
                [m.server_cpu_us_per_request for m in rounds]),
            "ratio_to_baseline": None,
            "ratios": {},
            # The reference's server CPU per request over this one's, per round: > 1 is cheaper.
            "cpu_ratios": {},
            "rounds": [asdict(m) for m in rounds],
        }
        for reference in REFERENCES:
            reference_rounds = per_round.get(reference)
            if not reference_rounds or len(reference_rounds) != len(rounds):
                continue
            ratios = [m.requests_per_s / r.requests_per_s
                      for m, r in zip(rounds, reference_rounds) if r.requests_per_s]
            if ratios:
                entry["ratios"][reference] = spread(ratios)
            cpu_ratios = [r.server_cpu_us_per_request / m.server_cpu_us_per_request
                          for m, r in zip(rounds, reference_rounds)
                          if m.server_cpu_us_per_request and r.server_cpu_us_per_request]
            if cpu_ratios:
                entry["cpu_ratios"][reference] = spread(cpu_ratios)
        if BASELINE in entry["ratios"]:
            entry["ratio_to_baseline"] = entry["ratios"][BASELINE]["median"]
        summary[name] = entry
    return summary


def run_throughput(registry, configurations, layouts, options, conf_dir, workdir
                   ) -> tuple[dict, list[dict]]:
    """Every configuration once per round; per endpoint a summary, and the load per round."""
    schedule = alternating_schedule(list(configurations), options.rounds)
    slots = run_schedule(registry, configurations, layouts, options, conf_dir, workdir, schedule)
    results = {}
    for endpoint in options.endpoints:
        per_config: dict[str, list[Measurement]] = {name: [] for name in configurations}
        for slot in sorted(slots, key=lambda s: s.round):
            per_config[slot.name].append(slot.measurements[endpoint])
        results[endpoint] = summarize(per_config)
    return results, load_by_round(slots)
