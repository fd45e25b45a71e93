"""Streaming aggregation of parsed log rows in memory that does not grow with the number of lines.

What is kept: counts per second (so per-second quantiles, the period and the requests/s chart), the
app's busy milliseconds per second (requests in flight by overlapping intervals), quantile
histograms of latency and sizes, per-minute latency histograms (the report's latency over time),
statuses, and client connections as +1/-1 per second at the start and end of each connection's
span. Everything is an integer count or sum, so two aggregates merge exactly (``merge``): reading
logs A and B in one run gives the same numbers as merging the runs over A and B.

Quantiles come from :class:`Histogram`, a fixed log-bucket histogram of integers: values below 128
are kept exactly and larger ones in buckets 1/64 of their size wide (under 0.8 % relative error),
like an HDR histogram. Fixed buckets (rather than an adaptive sketch) make merging plain addition,
order-independent and exact, and the per-block work is a C-level ``Counter`` of the raw field
bytes followed by one bucket update per distinct value.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress, islice
from operator import le

from confgen.measure.logformat import EPOCH_FIELD, to_epoch

EXACT_BELOW = 128
# A connection not seen for this long after its keep-alive ended is closed: later lines of it
# would only be lines logged out of order by more than this.
REORDER_SLACK_S = 60
DEFAULT_KEEPALIVE_S = 75  # nginx's keepalive_timeout default
TIMED_SAMPLE = 2048  # rows per block that keep their (time, latency) pair


def bucket_of(value: int) -> int:
    if value < EXACT_BELOW:
        return value
    shift = value.bit_length() - 7
    return (shift << 7) | (value >> shift)


def bucket_bounds(key: int) -> tuple[int, int]:
    """The smallest and largest value in a bucket."""
    if key < EXACT_BELOW:
        return key, key
    shift, top = key >> 7, key & 127
    return top << shift, ((top + 1) << shift) - 1


@dataclass
class Histogram:
    """Counts of integer values in fixed log buckets, with the exact count, sum and maximum."""

    buckets: Counter = field(default_factory=Counter)
    count: int = 0
    total: int = 0
    maximum: int = 0

    def add(self, value: int, times: int = 1) -> None:
        self.buckets[bucket_of(value)] += times
        self.count += times
        self.total += value * times
        if value > self.maximum:
            self.maximum = value

    def add_counts(self, counts: dict[int, int]) -> None:
        """Add value -> times pairs (the inner loop of every block: kept inline)."""
        buckets = self.buckets
        total = 0
        for value, times in counts.items():
            if value < EXACT_BELOW:
                buckets[value] += times
            else:
                shift = value.bit_length() - 7
                buckets[(shift << 7) | (value >> shift)] += times
            total += value * times
        if counts:
            self.count += sum(counts.values())
            self.total += total
            self.maximum = max(self.maximum, max(counts))

    def merge(self, other: "Histogram") -> None:
        self.buckets.update(other.buckets)
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> int | None:
        """The q-quantile (0..1): the middle of the bucket holding it (exact below 128), capped
        at the true maximum."""
        if not self.count:
            return None
        rank = max(1, -(-int(q * self.count * 1_000_000) // 1_000_000))
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                low, high = bucket_bounds(key)
                return min((low + high + 1) // 2, self.maximum)
        return self.maximum

    def distribution(self) -> dict:
        return {"p50": self.quantile(0.5), "p90": self.quantile(0.9), "p99": self.quantile(0.99),
                "max": self.maximum if self.count else None}

    def to_json(self) -> dict:
        return {"buckets": sorted(self.buckets.items()), "count": self.count, "total": self.total,
                "maximum": self.maximum}

    @classmethod
    def from_json(cls, data: dict) -> "Histogram":
        return cls(Counter({int(k): int(v) for k, v in data["buckets"]}), int(data["count"]),
                   int(data["total"]), int(data["maximum"]))


def milliseconds(raw: bytes) -> int | None:
    """nginx's seconds with millisecond digits (``0.023``) -> 23; a retry's list
    (``0.010, 0.020``, or ``0.010 : 0.020`` after an internal redirect) -> the sum, the time the
    app spent on the request; ``-`` (no upstream: cached, refused) -> None."""
    total, seen = 0, False
    for part in raw.replace(b" : ", b", ").split(b", "):
        part = part.strip()
        if not part or part == b"-":
            continue
        try:
            total += round(float(part) * 1000)
        except ValueError:
            return None
        seen = True
    return total if seen else None


def is_sorted(values) -> bool:
    return all(map(le, values, islice(values, 1, None)))


def value_counts(column, comparable: bool) -> tuple[dict, bool]:
    """How often each value occurs, and whether the column is sorted. A sorted column (a log's
    epoch seconds, as written) is counted by bisecting from run to run, a few steps per distinct
    value instead of a hash per row; any other by a Counter."""
    if not (comparable and is_sorted(column)):
        return Counter(column), False
    counts, start, end = {}, 0, len(column)
    while start < end:
        value = column[start]
        stop = bisect_right(column, value, start)
        counts[value] = stop - start
        start = stop
    return counts, True


def size_counts(column) -> dict[int, int]:
    """Byte counts of a size column (``-`` and empty values left out) -> how often each occurs."""
    counts = Counter(column)
    return {int(raw): n for raw, n in counts.items() if raw.isdigit()}


@dataclass
class Aggregate:
    """Everything measured from some log lines; mergeable (``merge``) and serialisable (state.py)."""

    lines: int = 0
    malformed: int = 0
    outside_period: int = 0
    per_second: Counter = field(default_factory=Counter)
    busy_ms: Counter = field(default_factory=Counter)
    latency: Histogram = field(default_factory=Histogram)         # the app's: $upstream_response_time
    request_time: Histogram = field(default_factory=Histogram)    # nginx's: $request_time
    no_upstream_time: int = 0
    latency_by_minute: Counter = field(default_factory=Counter)   # (minute, bucket) -> count
    response_size: Histogram = field(default_factory=Histogram)
    request_body: Histogram = field(default_factory=Histogram)    # accepted bodies > 0 ($content_length)
    request_length: Histogram = field(default_factory=Histogram)  # accepted requests ($request_length)
    max_body_accepted: int = 0
    refused_413: int = 0
    statuses: Counter = field(default_factory=Counter)
    connections: int = 0
    connection_delta: Counter = field(default_factory=Counter)    # second -> opened - closed
    fields_seen: Counter = field(default_factory=Counter)         # variable -> rows that had it
    formats: Counter = field(default_factory=Counter)             # format name -> rows
    keepalive_s: int = DEFAULT_KEEPALIVE_S

    def merge(self, other: "Aggregate") -> None:
        for name in ("lines", "malformed", "outside_period", "no_upstream_time", "refused_413", "connections"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("per_second", "busy_ms", "latency_by_minute", "statuses", "connection_delta",
                     "fields_seen", "formats"):
            getattr(self, name).update(getattr(other, name))
        for name in ("latency", "request_time", "response_size", "request_body", "request_length"):
            getattr(self, name).merge(getattr(other, name))
        self.max_body_accepted = max(self.max_body_accepted, other.max_body_accepted)
        self.keepalive_s = max(self.keepalive_s, other.keepalive_s)


class Collector:
    """Feeds rows of one source (one nginx's log: connection numbers are per server) into an
    :class:`Aggregate`; ``close()`` ends the connections still open."""

    def __init__(self, aggregate: Aggregate, *, since: int | None = None, until: int | None = None) -> None:
        self.aggregate = aggregate
        self.since, self.until = since, until
        self._epochs: dict[tuple[str, bytes], int | None] = {}
        self._latencies: dict[bytes, int | None] = {}
        self._open: dict[bytes, list[int]] = {}  # connection -> [first second, last second]
        self._latest = 0
        self._sweep_above = 1000

    def _epoch_map(self, time_field: str, column: Counter) -> dict[bytes, int | None]:
        cache = self._epochs
        if len(cache) > 2_000_000:
            cache.clear()
        mapping = {}
        for raw in column:  # distinct values (a Counter's keys)
            key = (time_field, raw)
            if key not in cache:
                cache[key] = to_epoch(time_field, raw)
            mapping[raw] = cache[key]
        return mapping

    def add_rows(self, format_name: str, fields: tuple[str, ...], time_field: str, rows: list) -> int:
        """Aggregate ``rows`` (tuples in ``fields`` order); returns how many had no readable time."""
        if not rows:
            return 0
        agg = self.aggregate
        position = {name: index for index, name in enumerate(fields)}
        columns = list(zip(*rows))
        t = position[time_field]
        # Whole epoch seconds as digits sort like the numbers; a time_local string does not.
        raw_is_comparable = time_field in ("msec", EPOCH_FIELD)
        time_counts, time_is_sorted = value_counts(columns[t], raw_is_comparable)
        seconds = self._epoch_map(time_field, time_counts)
        unreadable = sum(1 for value in seconds.values() if value is None)
        since, until = self.since, self.until
        if unreadable or since is not None or until is not None:
            keep = {raw for raw, second in seconds.items() if second is not None
                    and (since is None or second >= since) and (until is None or second < until)}
            if len(keep) < len(seconds):
                kept = [row for row in rows if row[t] in keep]
                skipped = len(rows) - len(kept)
                unreadable = sum(1 for row in rows if seconds[row[t]] is None)
                agg.outside_period += skipped - unreadable
                rows = kept
                if not rows:
                    return unreadable
                columns = list(zip(*rows))
                time_counts, time_is_sorted = value_counts(columns[t], raw_is_comparable)
        count = len(rows)
        agg.formats[format_name] += count
        time_column = columns[t]
        for raw, n in time_counts.items():
            agg.per_second[seconds[raw]] += n
        present = {}
        for name, index in position.items():
            column = columns[index]
            # JSON rows hold every field, b"" where the line had no such key.
            filled = count - column.count(b"") if format_name == "json" else count
            if filled:
                agg.fields_seen["time" if name == time_field else name] += filled
                present[name] = column
        status_column = present.get("status")
        status_counts = Counter(status_column) if status_column is not None else Counter()
        for status, n in status_counts.items():
            agg.statuses[status.decode("ascii", "replace")] += n
        self._latency(present, time_column, seconds)
        if "body_bytes_sent" in present:
            agg.response_size.add_counts(size_counts(present["body_bytes_sent"]))
        if status_column is not None:
            self._bodies(present, status_column, status_counts[b"413"])
        if "connection" in present:
            self._connections(present["connection"], time_column, seconds, raw_is_sorted=time_is_sorted)
        return unreadable

    def _latency(self, present: dict, time_column, seconds: dict) -> None:
        agg = self.aggregate
        upstream = present.get("upstream_response_time")
        request_time = present.get("request_time")
        if upstream is not None and request_time is not None:
            values: Counter = Counter()
            for raw, n in Counter(request_time).items():
                value = self._ms(raw)
                if value is not None:
                    values[value] += n
            agg.request_time.add_counts(values)
        app_side = upstream if upstream is not None else request_time
        if app_side is None:
            return
        target = agg.latency if upstream is not None else agg.request_time
        values: Counter = Counter()
        app_counts = Counter(app_side)
        ms_of_raw = {raw: self._ms(raw) for raw in app_counts}  # once per distinct value
        for raw, n in app_counts.items():
            value = ms_of_raw[raw]
            if value is None:
                agg.no_upstream_time += n
            else:
                values[value] += n
        target.add_counts(values)
        # Latency by time (the busy milliseconds of each second, the per-minute chart) from every
        # row of a small block and an evenly spaced sample of a large one, scaled back up: exact
        # counts need a (time, latency) pair per row, which would cost as much as all the rest.
        stride = max(1, len(app_side) // TIMED_SAMPLE)
        busy, by_minute = agg.busy_ms, agg.latency_by_minute
        for (raw_time, raw), n in Counter(zip(time_column[::stride], app_side[::stride])).items():
            value = ms_of_raw[raw]
            if value is None:
                continue
            second = seconds[raw_time]
            busy[second] += value * n * stride
            by_minute[(second // 60, bucket_of(value))] += n * stride

    def _ms(self, raw: bytes) -> int | None:
        cache = self._latencies
        if raw not in cache:
            if len(cache) > 500_000:
                cache.clear()
            cache[raw] = milliseconds(raw)
        return cache[raw]

    def _bodies(self, present: dict, status_column, refused: int) -> None:
        """Request sizes of accepted requests; a 413's body was refused, so it is left out."""
        agg = self.aggregate
        agg.refused_413 += refused
        for name, target in (("content_length", agg.request_body), ("request_length", agg.request_length)):
            if name not in present:
                continue
            counts = Counter(present[name])
            if refused:
                counts.subtract(compress(present[name], map(b"413".__eq__, status_column)))
            sizes = {int(raw): n for raw, n in counts.items() if n > 0 and raw.isdigit()}
            if name == "content_length":
                if sizes:
                    agg.max_body_accepted = max(agg.max_body_accepted, max(sizes))
                sizes.pop(0, None)
            target.add_counts(sizes)

    def _connections(self, connection_column, time_column, seconds: dict, *, raw_is_sorted: bool) -> None:
        """Each connection's span, first request to last request plus keepalive_timeout, becomes
        +1 at its first second and -1 after its last; spans idle longer than the keep-alive (and
        a slack for lines logged out of order) are closed as the log moves on."""
        connections, times = connection_column, time_column
        if not raw_is_sorted:
            times = list(map(seconds.__getitem__, time_column))
            if not is_sorted(times):
                times, connections = zip(*sorted(zip(times, connection_column)))
        last = dict(zip(connections, times))
        first = dict(zip(reversed(connections), reversed(times)))
        if times is time_column:  # still the raw column: seconds per distinct value
            to_second = seconds.__getitem__
            last = dict(zip(last, map(to_second, last.values())))
            first = dict(zip(first, map(to_second, first.values())))
        opened = self._open
        # Only connections already open need the Python loop that widens their span; the ones
        # first seen in this block open a span each, added in log order.
        for connection in last.keys() & opened.keys():
            span = opened[connection]
            start, end = first[connection], last[connection]
            if start < span[0]:
                span[0] = start
            if end > span[1]:
                span[1] = end
        new = [connection for connection in last if connection not in opened]
        opened.update({connection: [first[connection], last[connection]] for connection in new})
        self.aggregate.connections += len(new)
        self._latest = latest = max(self._latest, max(last.values()))
        if len(opened) > self._sweep_above:  # amortised: a sweep at most each time the set doubles
            horizon = latest - self.aggregate.keepalive_s - REORDER_SLACK_S
            idle = [connection for connection, span in opened.items() if span[1] < horizon]
            self._end_spans([opened.pop(connection) for connection in idle])
            self._sweep_above = max(1000, 2 * len(opened))

    def _end_spans(self, spans: list[list[int]]) -> None:
        """+1 at each span's first second, -1 after its last second plus the keep-alive (counted
        in C: there is one span per connection)."""
        delta, keepalive = self.aggregate.connection_delta, self.aggregate.keepalive_s
        delta.update(span[0] for span in spans)
        delta.subtract(Counter(span[1] + keepalive + 1 for span in spans))

    def close(self) -> None:
        self._end_spans(list(self._open.values()))
        self._open.clear()
