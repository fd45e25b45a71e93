"""From an aggregate to the profile's keys: each value with how it was measured, from how many
requests, and the distribution behind it; a key the log format cannot give is not guessed but
names the variables to add to the log_format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from confgen.measure.inflight import LONG_LIVED_MS
from confgen.measure.logformat import MSEC_FRACTION
from confgen.measure.stats import Aggregate, Histogram
from confgen.units import format_size

# Seconds without a request inside a longer quiet stretch than this are a clock jump, a restart
# or a night without traffic: not counted as zero-request seconds of the busy period.
MAX_IDLE_GAP_S = 300
QPS_QUANTILE = 0.99
MIN_LATENCY_MS = 1  # nginx logs times in whole milliseconds


@dataclass
class Measurement:
    key: str                      # profile key, dotted ("app.latency_ms")
    value: Any                    # the profile value; None when the log cannot give it
    how: str                      # one line: how it was measured
    sample: int = 0               # requests (or seconds) it was measured from
    distribution: dict = field(default_factory=dict)  # p50/p90/p99/max of what it was measured from
    unit: str = ""
    missing: tuple[str, ...] = ()  # nginx variables the log_format needs for it
    in_profile: bool = True       # False: shown in --explain only (e.g. requests in flight)

    def to_json(self) -> dict:
        return {"key": self.key, "value": self.value, "how": self.how, "sample": self.sample,
                "distribution": self.distribution, "unit": self.unit, "missing": list(self.missing),
                "in_profile": self.in_profile}


@dataclass
class Series:
    """Per-second request counts over the busy period (zero-filled only inside short gaps)."""

    seconds: list[int]
    counts: list[int]
    gaps: list[tuple[int, int]]  # (last second before, first second after) of each long gap


def per_second_series(per_second: dict[int, int]) -> Series:
    seconds, counts, gaps = [], [], []
    previous = None
    for second in sorted(per_second):
        if previous is not None:
            gap = second - previous
            if gap > MAX_IDLE_GAP_S:
                gaps.append((previous, second))
            else:
                for empty in range(previous + 1, second):
                    seconds.append(empty)
                    counts.append(0)
        seconds.append(second)
        counts.append(per_second[second])
        previous = second
    return Series(seconds, counts, gaps)


def open_connections(delta: dict[int, int]) -> tuple[list[int], list[int]]:
    """Client connections open in each second (as change points: second, count from there on)."""
    seconds, counts, running = [], [], 0
    for second in sorted(delta):
        running += delta[second]
        seconds.append(second)
        counts.append(running)
    return seconds, counts


def quantile_of(values: list[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))])


def list_distribution(values: list[int]) -> dict:
    if not values:
        return {}
    return {"p50": quantile_of(values, 0.5), "p90": quantile_of(values, 0.9),
            "p99": quantile_of(values, 0.99), "max": max(values)}


def day(second: int) -> str:
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%d")


def stamp(second: int) -> str:
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def period_text(series: Series) -> str:
    if not series.seconds:
        return "no requests"
    first, last = day(series.seconds[0]), day(series.seconds[-1])
    if first == last:
        return f"{stamp(series.seconds[0])}..{stamp(series.seconds[-1])[11:]} UTC"
    return f"{first}..{last}"


def requests_text(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1e6:.1f}M"
    if count >= 10_000:
        return f"{count / 1e3:.0f}k"
    return str(count)


def round_qps(value: float) -> float | int:
    return int(round(value)) if value >= 10 or float(value).is_integer() else round(value, 1)


def size_up(nbytes: int) -> str | int:
    """A body limit a little above the largest body seen: the next whole k or m."""
    if nbytes <= 0:
        return 0
    if nbytes >= 1024 * 1024:
        return format_size(math.ceil(nbytes / (1024 * 1024)) * 1024 * 1024)
    return format_size(math.ceil(nbytes / 1024) * 1024)


def measure_profile(agg: Aggregate) -> list[Measurement]:
    """Every profile key the log can give, plus the rows --explain shows for context."""
    series = per_second_series(agg.per_second)
    requests = sum(series.counts)
    period = period_text(series)
    seen = agg.fields_seen
    results: list[Measurement] = []

    # expected_qps
    if requests:
        qps = quantile_of(series.counts, QPS_QUANTILE)
        peak = max(series.counts)
        gaps = f"; {len(series.gaps)} gap(s) > {MAX_IDLE_GAP_S // 60} min left out" if series.gaps else ""
        results.append(Measurement(
            "expected_qps", round_qps(max(qps, 0.1)),
            f"p99 of per-second counts over {requests_text(requests)} requests, {period}; max {peak}{gaps}",
            requests, list_distribution(series.counts), "req/s"))
    else:
        results.append(Measurement("expected_qps", None, "no request with a readable time",
                                   missing=("$msec",)))

    # app.latency_ms
    app = agg.latency if agg.latency.count else agg.request_time
    source = "$upstream_response_time" if agg.latency.count else "$request_time"
    if app.count:
        mean = max(app.mean, MIN_LATENCY_MS)
        dist = app.distribution()
        left_out = f"; {agg.no_upstream_time} without one (cached, refused) left out" if agg.no_upstream_time else ""
        if agg.long_lived:
            left_out += f"; {sum(agg.long_lived.values())} long-lived left out (see long_lived)"
        nginx_side = "" if agg.latency.count else " (nginx's whole time: add $upstream_response_time for the app's share)"
        results.append(Measurement(
            "app.latency_ms", round(mean, 1),
            f"mean of {source} over {requests_text(app.count)} requests{nginx_side}; "
            f"p50 {_num(dist['p50'])}, p99 {_num(dist['p99'])}, max {dist['max']} ms{left_out}",
            app.count, dist, "ms"))
    else:
        results.append(Measurement("app.latency_ms", None, "the log has no request times",
                                   missing=("$upstream_response_time",)))

    # avg_response_size
    results.append(_size_mean("avg_response_size", agg.response_size, "$body_bytes_sent", "responses",
                               "body_bytes_sent" in seen))

    # avg_request_body_size and max_body_size
    if "content_length" in seen:
        results.append(_size_mean("avg_request_body_size", agg.request_body, "$content_length",
                                  "requests with a body", True, empty="no request in the log had a body"))
        refused = f"; {agg.refused_413} refused with 413 (above the current limit)" if agg.refused_413 else ""
        if agg.max_body_accepted > 0:
            results.append(Measurement(
                "max_body_size", size_up(agg.max_body_accepted),
                f"largest accepted $content_length ({agg.max_body_accepted} bytes), rounded up{refused}",
                agg.request_body.count, agg.request_body.distribution(), "bytes"))
        else:
            results.append(Measurement("max_body_size", None, f"no request in the log had a body{refused}"))
    else:
        results.append(Measurement("avg_request_body_size", None, "the log has no request body sizes",
                                   missing=("$content_length",)))
        results.append(Measurement("max_body_size", None, "the log has no request body sizes",
                                   missing=("$content_length",)))

    # clients
    if "connection" in seen and agg.connection_delta:
        _, open_counts = open_connections(agg.connection_delta)
        peak = max(open_counts)
        results.append(Measurement(
            "clients", max(1, peak),
            f"max client connections open in a second, from $connection spans of {agg.connections} "
            f"connections plus keepalive_timeout {agg.keepalive_s}s",
            agg.connections, list_distribution([c for c in open_counts if c > 0]), "connections"))
    else:
        results.append(Measurement("clients", None, "the log does not say which connection carried a request",
                                   missing=("$connection",)))

    # Context for --explain: requests in flight, long-lived requests, the slowest request.
    qps_row = results[0]
    if agg.in_flight and app.count:
        peaks = [agg.in_flight.get(second, 0) for second in series.seconds]
        overlap = list_distribution(peaks)
        little = f"; Little's law (expected_qps x mean latency) gives {qps_row.value * app.mean / 1000:.1f}" \
            if qps_row.value is not None else ""
        coarse = "" if agg.fields_seen.get(MSEC_FRACTION, 0) >= app.count else \
            " (ends known to the second only: add $msec for the millisecond)"
        results.append(Measurement(
            "in_flight", max(agg.in_flight.values()),
            f"most requests in flight at once, from the intervals [end - latency, end) of "
            f"{requests_text(app.count)} requests{coarse}; p99 of each second's most "
            f"{_num(overlap.get('p99'))}{little}", app.count, overlap, "requests", in_profile=False))
    if agg.long_lived:
        upgrades, long = agg.long_lived.get("upgrade", 0), agg.long_lived.get("long", 0)
        dist = agg.long_lived_ms.distribution()
        results.append(Measurement(
            "long_lived", upgrades + long,
            f"{upgrades} WebSocket upgrades (101) and {long} requests over {LONG_LIVED_MS // 1000} s (long-polls, "
            f"streams; nginx's proxy_read_timeout default): kept out of app.latency_ms and in_flight, since in an "
            f"async app they hold connections, not workers' time; they lasted p50 {_num(dist['p50'])}, "
            f"max {_num(dist['max'])} ms", upgrades + long, dist, "requests", in_profile=False))
    if app.count:
        results.append(Measurement(
            "slowest_request_s", round(app.maximum / 1000, 3),
            "the slowest request in the log (app.timeout_s is not measured: set it above this)",
            app.count, app.distribution(), "s", in_profile=False))
    return results


def _size_mean(key: str, hist: Histogram, variable: str, what: str, available: bool,
               empty: str = "no responses") -> Measurement:
    if not available:
        return Measurement(key, None, f"the log has no {variable}", missing=(variable,))
    if not hist.count:
        return Measurement(key, None, empty)
    dist = hist.distribution()
    return Measurement(key, max(1, round(hist.mean)),
                       f"mean {variable} over {requests_text(hist.count)} {what}; p50 {_num(dist['p50'])}, "
                       f"p99 {_num(dist['p99'])}, max {dist['max']} bytes", hist.count, dist, "bytes")


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def explain_table(results: list[Measurement]) -> str:
    header = ("key", "value", "n", "p50", "p90", "p99", "max", "how")
    rows = [header]
    for m in results:
        d = m.distribution
        rows.append((m.key + ("" if m.in_profile else " *"), "-" if m.value is None else str(m.value),
                     str(m.sample), _num(d.get("p50")), _num(d.get("p90")), _num(d.get("p99")),
                     _num(d.get("max")),
                     m.how + (f" (add {' '.join(m.missing)} to the log_format)" if m.missing else "")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]
    lines.append("* not a profile key: context for the values above")
    return "\n".join(line.rstrip() for line in lines) + "\n"
