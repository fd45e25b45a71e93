"""Mergeable measurement state: ``--save-state FILE`` and ``--merge STATE...``.

A state is one JSON document holding an :class:`~confgen.measure.stats.Aggregate` (per-second
counts keyed by epoch second, the histograms' buckets, integer totals) and the summary of every
log it was read from. Merging adds the counts, so states from many hosts (or written by a batch job
that produced the same JSON) give exactly the numbers one run over every log would give.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from confgen.errors import ConfgenError
from confgen.measure.reading import SourceSummary
from confgen.measure.stats import Aggregate, Histogram

STATE_KIND = "confgen-measure-state"
STATE_VERSION = 2  # 2: requests in flight per second, long-lived requests, routes, statuses per minute
MAX_STATE_BYTES = 512 * 1024 * 1024

_COUNTERS = ("per_second", "in_flight", "statuses", "connection_delta", "fields_seen", "formats", "long_lived",
             "route_requests")
_HISTOGRAMS = ("latency", "request_time", "response_size", "request_body", "request_length", "long_lived_ms")
_TOTALS = ("lines", "malformed", "outside_period", "no_upstream_time", "max_body_accepted", "refused_413",
           "connections", "keepalive_s")


def to_json(aggregate: Aggregate, summaries: list[SourceSummary]) -> dict:
    data: dict = {"kind": STATE_KIND, "version": STATE_VERSION}
    for name in _TOTALS:
        data[name] = getattr(aggregate, name)
    for name in _COUNTERS:
        data[name] = sorted([key, value] for key, value in getattr(aggregate, name).items())
    data["latency_by_minute"] = sorted([minute, bucket, n] for (minute, bucket), n in aggregate.latency_by_minute.items())
    data["statuses_by_minute"] = sorted([minute, status, n] for (minute, status), n in aggregate.statuses_by_minute.items())
    data["route_latency"] = sorted([route, histogram.to_json()] for route, histogram in aggregate.route_latency.items())
    for name in _HISTOGRAMS:
        data[name] = getattr(aggregate, name).to_json()
    data["sources"] = [summary.to_json() for summary in summaries]
    return data


def from_json(data: dict, label: str) -> tuple[Aggregate, list[SourceSummary]]:
    if not isinstance(data, dict) or data.get("kind") != STATE_KIND:
        raise ConfgenError(f"{label}: not a confgen measure state (written by `confgen measure --save-state`)")
    if data.get("version") != STATE_VERSION:
        raise ConfgenError(f"{label}: state version {data.get('version')!r}; this confgen reads version {STATE_VERSION}")
    try:
        aggregate = Aggregate()
        for name in _TOTALS:
            setattr(aggregate, name, int(data[name]))
        int_keys = {"per_second", "in_flight", "connection_delta"}
        for name in _COUNTERS:
            setattr(aggregate, name, Counter({(int(k) if name in int_keys else str(k)): int(v) for k, v in data[name]}))
        aggregate.latency_by_minute = Counter({(int(m), int(b)): int(n) for m, b, n in data["latency_by_minute"]})
        aggregate.statuses_by_minute = Counter({(int(m), str(s)): int(n) for m, s, n in data["statuses_by_minute"]})
        aggregate.route_latency = {str(route): Histogram.from_json(h) for route, h in data["route_latency"]}
        for name in _HISTOGRAMS:
            setattr(aggregate, name, Histogram.from_json(data[name]))
        summaries = [SourceSummary.from_json(item) for item in data["sources"]]
    except (KeyError, TypeError, ValueError) as error:
        raise ConfgenError(f"{label}: damaged state ({type(error).__name__}: {error})") from None
    return aggregate, summaries


def dumps(aggregate: Aggregate, summaries: list[SourceSummary]) -> str:
    return json.dumps(to_json(aggregate, summaries), separators=(",", ":")) + "\n"


def save(path: str, aggregate: Aggregate, summaries: list[SourceSummary]) -> None:
    from confgen.files import write_atomically

    target = Path(path)
    write_atomically({target.name: dumps(aggregate, summaries)}, target.parent if str(target.parent) else Path("."))


def load(path: str) -> tuple[Aggregate, list[SourceSummary]]:
    from confgen.files import read_regular_file

    raw, problem = read_regular_file(path, MAX_STATE_BYTES)
    if problem:
        raise ConfgenError(f"{path}: {problem}")
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise ConfgenError(f"{path}: not JSON ({error})") from None
    return from_json(data, path)


def merge(paths: list[str]) -> tuple[Aggregate, list[SourceSummary]]:
    """Every state added up, in the order given."""
    total: Aggregate | None = None
    summaries: list[SourceSummary] = []
    for path in paths:
        aggregate, more = load(path)
        if total is None:
            total = aggregate
        else:
            total.merge(aggregate)
        summaries.extend(more)
    if total is None:
        raise ConfgenError("--merge: give at least one state file")
    return total, summaries
