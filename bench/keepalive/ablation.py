"""Ablation (``--ablate``): the rendered config with one setting removed or changed at a time.

The variants (``ABLATIONS``) are edits of the rendered text; each runs next to the unmodified
rendered config (``RENDERED``) in every round, and its ratio is to that config measured just before
and after it.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .configurations import HAND_TUNED_GUNICORN_CONF, RENDERED, Configuration
from .rounds import Slot, alternating_schedule, load_by_round, median_or_none, run_schedule, spread


@dataclass(frozen=True)
class Ablation:
    name: str
    change: str
    # Rendered nginx.conf -> the variant's text; None when the rendered config has nothing to change.
    apply: Callable[[str], str | None]
    # The app side, when the variant changes it instead (default: the rendered gunicorn.conf.py).
    gunicorn_conf: Path | None = None


def _header_line(header: str) -> str:
    return rf"^[ \t]*proxy_set_header[ \t]+{re.escape(header)}[ \t][^;]*;[^\n]*\n"


def _drop(*patterns: str) -> Callable[[str], str | None]:
    """Remove the lines matching every pattern; None unless each pattern matched at least once."""
    def apply(text: str) -> str | None:
        for pattern in patterns:
            text, count = re.subn(pattern, "", text, flags=re.M)
            if not count:
                return None
        return text
    return apply


def _substitute(pattern: str, replacement) -> Callable[[str], str | None]:
    def apply(text: str) -> str | None:
        changed, count = re.subn(pattern, replacement, text, flags=re.M)
        return changed if count and changed != text else None
    return apply


def _only_headers(*kept: str) -> Callable[[str], str | None]:
    """Drop every proxy_set_header except those named (case-insensitive)."""
    kept_lower = {header.lower() for header in kept}

    def keep(match: re.Match) -> str:
        return match.group(0) if match.group(1).lower() in kept_lower else ""
    return _substitute(r"^[ \t]*proxy_set_header[ \t]+(\S+)[ \t][^;]*;[^\n]*\n", keep)


def _set_proxy_buffering_off(text: str) -> str | None:
    if re.search(r"^[ \t]*proxy_buffering[ \t]", text, flags=re.M):
        return _substitute(r"^([ \t]*proxy_buffering[ \t]+)on;", r"\g<1>off;")(text)
    # Right after each proxy_pass, with its indentation.
    return _substitute(r"^([ \t]*)(proxy_pass[ \t][^;]*;[^\n]*\n)", r"\1\2\1proxy_buffering off;\n")(text)


def _scale_pool(factor: float) -> Callable[[str], str | None]:
    def scaled(match: re.Match) -> str:
        return f"{match.group(1)}{max(1, round(int(match.group(2)) * factor))};"
    return _substitute(r"^([ \t]*keepalive[ \t]+)(\d+);", scaled)


# The access log the rendered config writes when the profile does not turn it off (the adaptation
# moves the path into the run's directory).
_ACCESS_LOG_ON = "access_log /var/log/nginx/access.log"

ABLATIONS = (
    Ablation("hand-tuned", "configs/hand-tuned.conf and its gunicorn.conf.py, for scale "
             "(ratio > 1: faster than the rendered config)", lambda text: None),
    Ablation("no-x-real-ip", "drop proxy_set_header X-Real-IP", _drop(_header_line("X-Real-IP"))),
    Ablation("no-x-forwarded-host", "drop proxy_set_header X-Forwarded-Host",
             _drop(_header_line("X-Forwarded-Host"))),
    Ablation("no-x-forwarded-for-proto", "drop X-Forwarded-For and X-Forwarded-Proto "
             "(correctness: the app loses the client's address and scheme)",
             _drop(_header_line("X-Forwarded-For"), _header_line("X-Forwarded-Proto"))),
    Ablation("host-only", "pass only Host (and Connection \"\"), as hand-tuned does",
             _only_headers("Host", "Connection")),
    Ablation("forwarded-for-proto-only", "pass only Host, X-Forwarded-For and X-Forwarded-Proto "
             "(and Connection \"\"): what correctness needs, nothing repeated",
             _only_headers("Host", "Connection", "X-Forwarded-For", "X-Forwarded-Proto")),
    Ablation("no-add-header", "drop every add_header (the security headers sent with each "
             "response)", _drop(r"^[ \t]*add_header[ \t][^\n]*\n")),
    Ablation("keepalive-requests-10000", "keepalive_requests 10000 (client side and upstream)",
             _substitute(r"^([ \t]*keepalive_requests[ \t]+)\d+;", r"\g<1>10000;")),
    Ablation("gzip-off", "gzip off", _substitute(r"^([ \t]*gzip)[ \t]+on;", r"\1 off;")),
    Ablation("proxy-buffering-off", "proxy_buffering off", _set_proxy_buffering_off),
    Ablation("default-proxy-buffers", "drop proxy_buffer_size and proxy_buffers (nginx's "
             "defaults: one page each, 8 buffers)",
             _drop(r"^[ \t]*proxy_buffer_size[ \t][^\n]*\n", r"^[ \t]*proxy_buffers[ \t][^\n]*\n")),
    Ablation("access-log-on", f"{_ACCESS_LOG_ON}; (combined, unbuffered) instead of off",
             _substitute(r"^([ \t]*)access_log[ \t]+off;", rf"\1{_ACCESS_LOG_ON};")),
    Ablation("access-log-buffered", f"{_ACCESS_LOG_ON} combined buffer=64k flush=1s; instead of "
             "off", _substitute(r"^([ \t]*)access_log[ \t]+off;",
                                rf"\1{_ACCESS_LOG_ON} combined buffer=64k flush=1s;")),
    Ablation("pool-half", "upstream keepalive halved", _scale_pool(0.5)),
    Ablation("pool-double", "upstream keepalive doubled", _scale_pool(2)),
    Ablation("hand-tuned-app", "the rendered nginx.conf with hand-tuned's gunicorn.conf.py instead "
             "of the rendered one (app side only)", lambda text: text, HAND_TUNED_GUNICORN_CONF),
)


def _all_of(*names: str) -> Callable[[str], str | None]:
    """Several ablations at once, each applied where the rendered config has its setting."""
    def apply(text: str) -> str | None:
        changed = text
        for ablation in ABLATIONS:
            if ablation.name in names:
                changed = ablation.apply(changed) or changed
        return changed if changed != text else None
    return apply


# Everything the rendered config has beyond hand-tuned's, except the headers correctness needs:
# if this variant matches hand-tuned, the gap is the sum of these settings' small costs.
EXTRAS = ("no-add-header", "gzip-off", "default-proxy-buffers", "keepalive-requests-10000")
ABLATIONS += (Ablation("extras-off", "all of " + ", ".join(EXTRAS) + " at once (forwarded "
                       "headers kept)", _all_of(*EXTRAS)),)
ABLATION_NAMES = tuple(ablation.name for ablation in ABLATIONS)


def ablation_configurations(rendered: Configuration, hand_tuned: Configuration | None,
                            names: list[str]) -> tuple[dict[str, Configuration], dict[str, str]]:
    """The rendered config and one variant per ablation; and, per ablation that does not apply
    to this rendered config, why it was skipped."""
    configurations = {RENDERED: rendered}
    skipped = {}
    for ablation in ABLATIONS:
        if ablation.name not in names:
            continue
        if ablation.name == "hand-tuned":
            configurations[ablation.name] = hand_tuned
            continue
        text = ablation.apply(rendered.nginx_conf_text)
        if text is None:
            skipped[ablation.name] = f"the rendered config has nothing to change ({ablation.change})"
            continue
        configurations[ablation.name] = Configuration(
            ablation.name, text, ablation.gunicorn_conf or rendered.gunicorn_conf)
    return configurations, skipped


def ablation_schedule(variants: list[str], rounds: int, every: int = 2) -> list[list[str]]:
    """Per round, the reference before, between every ``every`` variants, and after, so that each
    variant is measured next to the reference; the order reverses every other round."""
    schedule = []
    for order in alternating_schedule(variants, rounds):
        names = [RENDERED]
        for start in range(0, len(order), every):
            names += order[start:start + every] + [RENDERED]
        schedule.append(names)
    return schedule


def summarize_ablation(slots: list[Slot], endpoint: str) -> dict[str, dict]:
    """Each variant's req/s over the mean of the reference measured nearest before and after it
    in the same round; median and range over rounds."""
    ratios: dict[str, list[float]] = {}
    cpu_ratios: dict[str, list[float]] = {}
    rates: dict[str, list[float]] = {}
    cpu_costs: dict[str, list[float | None]] = {}
    for slot in slots:
        rate = slot.measurements[endpoint].requests_per_s
        cost = slot.measurements[endpoint].server_cpu_us_per_request
        rates.setdefault(slot.name, []).append(rate)
        cpu_costs.setdefault(slot.name, []).append(cost)
        if slot.name == RENDERED:
            continue
        same_round = [s for s in slots if s.round == slot.round and s.name == RENDERED]
        before = [s for s in same_round if s.position < slot.position]
        after = [s for s in same_round if s.position > slot.position]
        neighbours = ([max(before, key=lambda s: s.position)] if before else []) + \
                     ([min(after, key=lambda s: s.position)] if after else [])
        reference = statistics.mean(s.measurements[endpoint].requests_per_s for s in neighbours)
        if reference:
            ratios.setdefault(slot.name, []).append(rate / reference)
        reference_costs = [s.measurements[endpoint].server_cpu_us_per_request for s in neighbours]
        if cost and all(reference_costs):
            cpu_ratios.setdefault(slot.name, []).append(statistics.mean(reference_costs) / cost)
    summary = {}
    for name, values in rates.items():
        entry = {"requests_per_s": round(statistics.median(values), 1),
                 "spread_pct": round(100 * (max(values) - min(values)) / statistics.median(values), 1),
                 "server_cpu_us_per_request": median_or_none(cpu_costs[name])}
        if name in ratios:
            entry["ratio_to_rendered"] = spread(ratios[name])
        if name in cpu_ratios:
            entry["cpu_ratio_to_rendered"] = spread(cpu_ratios[name])
        summary[name] = entry
    return summary


def run_ablation(registry, configurations: dict[str, Configuration], skipped: dict[str, str],
                 layouts, options, conf_dir, workdir) -> dict:
    """The rendered config and its variants (``ablation_configurations``), each variant measured
    next to the rendered config in every round; the ratios per endpoint, and the load per round."""
    variants = [name for name in configurations if name != RENDERED]
    schedule = ablation_schedule(variants, options.rounds)
    slots = run_schedule(registry, configurations, layouts, options, conf_dir, workdir, schedule)
    changes = {ablation.name: ablation.change for ablation in ABLATIONS}
    return {"changes": {name: changes[name] for name in variants},
            "skipped": skipped,
            "endpoints": {endpoint: summarize_ablation(slots, endpoint)
                          for endpoint in options.endpoints},
            "load": load_by_round(slots)}
