"""Streaming aggregation of parsed log rows in memory that does not grow with the number of lines.

What is kept: counts per second (so per-second quantiles, the period and the requests/s chart), the
most requests in flight at once in each second (:mod:`confgen.measure.inflight`), quantile
histograms of latency and sizes, per-minute latency histograms (the report's latency over time),
statuses (and per minute), requests and latency per route (:mod:`confgen.measure.routes`),
long-lived requests apart, and client connections as +1/-1 per second at the start and end of
each connection's span. Everything is an integer count or sum, so two aggregates merge exactly
(``merge``): reading logs A and B in one run gives the same numbers as merging the runs over A
and B. (Requests in flight of two sources add up per second: see :mod:`confgen.measure.inflight`.)

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

from confgen.measure.inflight import LONG_LIVED_MS, REORDER_SLACK_MS, InFlightSweep
from confgen.measure.logformat import EPOCH_FIELD, MSEC_FRACTION, to_epoch
from confgen.measure.routes import MAX_ROUTES, OTHER_ROUTES, route_of

EXACT_BELOW = 128
# A connection not seen for this long after its keep-alive ended is closed: later lines of it
# would only be lines logged out of order by more than this.
REORDER_SLACK_S = REORDER_SLACK_MS // 1000
DEFAULT_KEEPALIVE_S = 75  # nginx's keepalive_timeout default
TIMED_SAMPLE = 2048  # rows per block that keep their (time, latency) pair
UPGRADE = b"101"  # Switching Protocols: a WebSocket, held open until either side closes it


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
    in_flight: Counter = field(default_factory=Counter)           # second -> most requests in flight at once
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
    statuses_by_minute: Counter = field(default_factory=Counter)  # (minute, status) -> count
    long_lived: Counter = field(default_factory=Counter)          # "upgrade" (101) / "long" -> count
    long_lived_ms: Histogram = field(default_factory=Histogram)   # their durations, kept out of latency
    route_requests: Counter = field(default_factory=Counter)      # route -> requests
    route_latency: dict = field(default_factory=dict)             # route -> Histogram of the app's ms
    connections: int = 0
    connection_delta: Counter = field(default_factory=Counter)    # second -> opened - closed
    fields_seen: Counter = field(default_factory=Counter)         # variable -> rows that had it
    formats: Counter = field(default_factory=Counter)             # format name -> rows
    keepalive_s: int = DEFAULT_KEEPALIVE_S

    def merge(self, other: "Aggregate") -> None:
        for name in ("lines", "malformed", "outside_period", "no_upstream_time", "refused_413", "connections"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("per_second", "in_flight", "latency_by_minute", "statuses", "statuses_by_minute",
                     "long_lived", "connection_delta", "fields_seen", "formats"):
            getattr(self, name).update(getattr(other, name))
        for name in ("latency", "request_time", "response_size", "request_body", "request_length", "long_lived_ms"):
            getattr(self, name).merge(getattr(other, name))
        for route, requests in other.route_requests.items():
            self.route_requests[_kept_route(self.route_requests, route)] += requests
        for route, histogram in other.route_latency.items():
            self.route_latency.setdefault(_kept_route(self.route_latency, route), Histogram()).merge(histogram)
        self.max_body_accepted = max(self.max_body_accepted, other.max_body_accepted)
        self.keepalive_s = max(self.keepalive_s, other.keepalive_s)


def _kept_route(table: dict, route: str) -> str:
    """``route``, or OTHER_ROUTES once ``table`` holds MAX_ROUTES routes without it."""
    return route if route in table or len(table) < MAX_ROUTES else OTHER_ROUTES


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
        self._in_flight = InFlightSweep(aggregate.in_flight)
        self._routes: dict[bytes, str] = {}
        self._fraction_ms: dict[bytes, int] = {}

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
        return self.add_columns(format_name, fields, time_field, list(zip(*rows)))

    def add_columns(self, format_name: str, fields: tuple[str, ...], time_field: str, columns: list) -> int:
        """Aggregate ``columns`` (one sequence per field, in ``fields`` order, all as long); returns
        how many rows had no readable time."""
        if not columns or not columns[0]:
            return 0
        agg = self.aggregate
        agg.formats[format_name] += len(columns[0])  # lines each format read, in the period or not
        position = {name: index for index, name in enumerate(fields)}
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
                mask = list(map(keep.__contains__, columns[t]))
                kept = sum(mask)
                unreadable = sum(n for raw, n in time_counts.items() if seconds[raw] is None)
                agg.outside_period += len(mask) - kept - unreadable
                if not kept:
                    return unreadable
                columns = [list(compress(column, mask)) for column in columns]
                time_counts, time_is_sorted = value_counts(columns[t], raw_is_comparable)
        count = len(columns[t])
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
        status_counts: Counter = Counter()
        if status_column is not None:
            # (time, status) pairs: a few per second, and the statuses' totals come with them
            by_minute = agg.statuses_by_minute
            for (raw_time, status), n in Counter(zip(time_column, status_column)).items():
                status_counts[status] += n
                by_minute[(seconds[raw_time] // 60, status.decode("ascii", "replace"))] += n
            for status, n in status_counts.items():
                agg.statuses[status.decode("ascii", "replace")] += n
        timed = self._latency(present, time_column, seconds, status_column, status_counts[UPGRADE])
        if "request" in present and not timed:  # else counted with each route's latency
            for raw, n in Counter(present["request"]).items():
                agg.route_requests[_kept_route(agg.route_requests, self._route(raw))] += n
        if "body_bytes_sent" in present:
            agg.response_size.add_counts(size_counts(present["body_bytes_sent"]))
        if status_column is not None:
            self._bodies(present, status_column, status_counts[b"413"])
        if "connection" in present:
            self._connections(present["connection"], time_column, seconds, raw_is_sorted=time_is_sorted)
        return unreadable

    def _latency(self, present: dict, time_column, seconds: dict, status_column, upgrades: int) -> bool:
        """The app's time (and each route's, and requests in flight); False: the log has none."""
        agg = self.aggregate
        upstream = present.get("upstream_response_time")
        request_time = present.get("request_time")
        app_side = upstream if upstream is not None else request_time
        if app_side is None:
            return False
        fraction, request = present.get(MSEC_FRACTION), present.get("request")
        if upgrades and request is not None:
            for raw, n in Counter(compress(request, map(UPGRADE.__eq__, status_column))).items():
                agg.route_requests[_kept_route(agg.route_requests, self._route(raw))] += n
        if upgrades:
            # WebSockets: counted apart, and every column below without them.
            for raw, n in Counter(compress(app_side, map(UPGRADE.__eq__, status_column))).items():
                value = self._ms(raw)
                if value is not None:
                    agg.long_lived_ms.add(value, n)
            agg.long_lived["upgrade"] += upgrades
            keep = list(map(UPGRADE.__ne__, status_column))
            app_side, time_column = list(compress(app_side, keep)), list(compress(time_column, keep))
            if request_time is not None and upstream is not None:
                request_time = list(compress(request_time, keep))
            if fraction is not None:
                fraction = list(compress(fraction, keep))
            if request is not None:
                request = list(compress(request, keep))
        if upstream is not None and request_time is not None:
            values: Counter = Counter()
            for raw, n in Counter(request_time).items():
                value = self._ms(raw)
                if value is not None and value <= LONG_LIVED_MS:
                    values[value] += n
            agg.request_time.add_counts(values)
        target = agg.latency if upstream is not None else agg.request_time
        values = Counter()
        if request is not None:
            # Each request line as its route first: pairs of (route, time) are far fewer than of
            # (request line, time), a route's str keeps its hash, and the times' counts follow.
            pairs = Counter(zip(self._routes_of(request), app_side))
            app_counts: Counter = Counter()
            for (_, raw), n in pairs.items():
                app_counts[raw] += n
        else:
            app_counts = Counter(app_side)
        ms_of_raw = {raw: self._ms(raw) for raw in app_counts}  # once per distinct value
        for raw, n in app_counts.items():
            value = ms_of_raw[raw]
            if value is None:
                agg.no_upstream_time += n
            elif value > LONG_LIVED_MS:  # a long-poll or a stream: counted apart
                agg.long_lived["long"] += n
                agg.long_lived_ms.add(value, n)
                ms_of_raw[raw] = None
            else:
                values[value] += n
        target.add_counts(values)
        # Latency by time (the per-minute chart) from every row of a small block and an evenly
        # spaced sample of a large one, scaled back up: exact counts need a (time, latency) pair
        # per row, which would cost as much as all the rest.
        stride = max(1, len(app_side) // TIMED_SAMPLE)
        by_minute = agg.latency_by_minute
        for (raw_time, raw), n in Counter(zip(time_column[::stride], app_side[::stride])).items():
            value = ms_of_raw[raw]
            if value is not None:
                by_minute[(seconds[raw_time] // 60, bucket_of(value))] += n * stride
        if request is not None:
            routes, requests = agg.route_latency, agg.route_requests
            for (route, raw), n in pairs.items():
                requests[_kept_route(requests, route)] += n
                value = ms_of_raw[raw]
                if value is not None:
                    route = _kept_route(routes, route)
                    histogram = routes.get(route)
                    if histogram is None:
                        histogram = routes[route] = Histogram()
                    histogram.add(value, n)
        # Each request's end: $msec's own milliseconds, else the start of its second.
        if fraction is not None:
            known = self._fraction_ms
            for raw in set(fraction).difference(known):
                known[raw] = int((raw + b"00")[:3])  # three digits: "%T.%03M" in ngx_http_log_msec()
        self._in_flight.add(time_column, seconds, fraction, self._fraction_ms, app_side, ms_of_raw)
        return True

    def _route(self, raw: bytes) -> str:
        routes = self._routes
        route = routes.get(raw)
        if route is None:
            if len(routes) > 200_000:
                routes.clear()
            route = routes[raw] = route_of(raw)
        return route

    def _routes_of(self, request_column) -> map:
        """The route of each request line (each distinct line parsed once)."""
        routes = self._routes
        new = set(request_column).difference(routes)
        if len(routes) + len(new) > 200_000:
            routes.clear()
            new = set(request_column)
        routes.update({raw: route_of(raw) for raw in new})
        return map(routes.__getitem__, request_column)

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
        self._in_flight.close()
