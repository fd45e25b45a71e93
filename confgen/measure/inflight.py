"""Requests in flight: the real maximum overlap of the requests' intervals ``[end - latency, end)``.

A request is in flight from the millisecond it started (its end, ``$msec``, less its latency) up
to the millisecond it ended, not at that millisecond: two requests, one ending when the other
starts, never overlap. Each request gives a start and an end event; a sweep over the events in
time order keeps the running count, whose maximum inside each second is the second's peak.

Memory stays bounded: events are kept for a window of time only. nginx writes a line when its
request ends, so lines come in the order of their ends, give or take lines logged out of order;
a request that is not long-lived (:data:`LONG_LIVED_MS`) started at most that long before it
ended. Events older than the latest end less :data:`SETTLED_AFTER_MS` can therefore no longer
change and are folded into per-second peaks. A line later than that (out of order by more than
the slack) still counts: its whole seconds already folded go up by one, which is exact for the
seconds it spans and at most one too many for the second it started in.

Per-second peaks of one source combine by ``max``. Two sources (two hosts, or two files read
apart) add up: the peaks of the same second are summed, the most that both together can have in
flight at once, and exactly what they have when their periods do not overlap.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate, repeat
from operator import add, and_, sub

# nginx's proxy_read_timeout defaults to 60 s (https://nginx.org/en/docs/http/ngx_http_proxy_module.html
# #proxy_read_timeout: "Default: proxy_read_timeout 60s", a timeout between two reads; uwsgi_ and
# fastcgi_read_timeout likewise): a proxied request that lasts longer either had it raised (a
# long-poll) or kept sending (a stream, server-sent events). Such requests, and WebSocket upgrades
# (status 101), hold a connection, not a worker's time, in an async app.
LONG_LIVED_MS = 60_000
# Lines logged out of order by up to this much are still in order here (and for client connections).
REORDER_SLACK_MS = 60_000
SETTLED_AFTER_MS = LONG_LIVED_MS + REORDER_SLACK_MS


# An event is one int: its time in ms from the sweep's origin, times two, plus one for a start.
# Sorted, the ends of a millisecond come before its starts (half-open intervals); the ints stay
# small (one machine word for six days from the origin); and sorting a list of ints runs in C.
_DELTA = (-1, 1).__getitem__  # event & 1 -> change of the count


class InFlightSweep:
    """Feeds the requests of one source, a block at a time; ``peaks`` (second -> most requests in
    flight at once in that second) is filled as events settle and completed by ``close()``."""

    def __init__(self, peaks: dict[int, int]) -> None:
        self.peaks = peaks
        self._origin_s: int | None = None    # second 0 of the events' times
        self._pending: list[int] = []        # events not yet settled, in no particular order
        self._settled_to: int | None = None  # every event before this (doubled) time is folded into peaks
        self._running = 0                    # requests in flight at _settled_to
        self._latest_end = 0
        self._earliest: int | None = None

    def add(self, time_column, seconds: dict, fractions, fraction_ms: dict, latency_column, ms_of_raw: dict) -> None:
        """One block's requests: each one's raw time, whole second (``seconds[raw]``) and, if the
        log has them, milliseconds (``fraction_ms[raw]`` of ``fractions``), and its latency as a
        raw value that ``ms_of_raw`` turns into ms (None: no time, or a long-lived request)."""
        if not time_column:
            return
        if self._origin_s is None:
            self._origin_s = min(second for second in seconds.values() if second is not None) - 1
        origin = self._origin_s
        # Per distinct value, never per row: the seconds and milliseconds doubled, from the origin.
        doubled = {raw: (second - origin) * 2000 for raw, second in seconds.items() if second is not None}
        ends = map(doubled.__getitem__, time_column)
        if fractions is not None:
            ends = map(add, ends, map({raw: 2 * ms for raw, ms in fraction_ms.items()}.__getitem__, fractions))
        ends = list(ends)
        # end - (2 x latency - 1) = 2 x start + 1. A request without a time counts as one of no
        # length, [end, end): never in flight (its end sorts before its start).
        back = {raw: 2 * (ms or 0) - 1 for raw, ms in ms_of_raw.items()}
        starts = list(map(sub, ends, map(back.__getitem__, latency_column)))
        settled = self._settled_to
        if settled is not None and min(starts) < settled:
            starts, ends = self._late(starts, ends, settled)
            if not ends:
                return
        pending = self._pending
        pending.extend(ends)
        pending.extend(starts)
        self._latest_end = max(self._latest_end, max(ends))
        if self._earliest is None:
            self._earliest = min(starts)
        first = settled if settled is not None else self._earliest
        if self._latest_end - first > 4 * SETTLED_AFTER_MS:
            self._settle(self._latest_end - 2 * SETTLED_AFTER_MS)

    def close(self) -> None:
        if self._pending:
            self._settle(max(self._pending) + 2)

    def _late(self, starts: list[int], ends: list[int], settled: int) -> tuple[list[int], list[int]]:
        """Requests that began before the settled time: +1 on each settled second they cover;
        what is left of them after it (if anything) goes on as a request starting there."""
        kept_starts, kept_ends = [], []
        peaks, origin = self.peaks, self._origin_s
        for start, end in zip(starts, ends):
            if start >= settled:
                kept_starts.append(start)
                kept_ends.append(end)
                continue
            if end < start:  # of no length
                continue
            last = min(end, settled) - 2  # the last ms it covers, doubled
            for second in range(start // 2000 + origin, last // 2000 + origin + 1):
                peaks[second] = peaks.get(second, 0) + 1
            if end > settled:
                kept_starts.append(settled + 1)
                kept_ends.append(end)
        return kept_starts, kept_ends

    def _settle(self, horizon: int) -> None:
        """Fold the events before ``horizon`` (a doubled time, even) into per-second peaks."""
        pending = self._pending
        pending.sort()
        cut = bisect_left(pending, horizon)
        events, self._pending = pending[:cut], pending[cut:]
        if not events:
            return
        # counts[i]: requests in flight just before events[i]; counts[i + 1]: just after it.
        counts = list(accumulate(map(_DELTA, map(and_, events, repeat(1))), initial=self._running))
        peaks, origin = self.peaks, self._origin_s
        begin = self._settled_to if self._settled_to is not None else events[0]
        previous_second = begin // 2000
        index, total = 0, len(events)
        while index < total:
            second = events[index] // 2000
            stop = bisect_left(events, (second + 1) * 2000, index)
            carried = counts[index]  # in flight since the last event before this second
            if carried:  # seconds with no event in them hold that count
                for quiet in range(previous_second + origin, second + origin):
                    if carried > peaks.get(quiet, 0):
                        peaks[quiet] = carried
            first = events[index] & ~1  # its ms, doubled
            if first > second * 2000:
                top = max(counts[index:stop + 1])  # the carried count held for a while too
            else:
                # Events at the second's first ms: only the count after all its ends is real
                # there (one end after another is not a moment of its own).
                after_ends = bisect_right(events, first, index, stop)
                top = max(counts[max(after_ends, index + 1):stop + 1])
            if top > peaks.get(second + origin, 0):
                peaks[second + origin] = top
            previous_second = second + 1
            index = stop
        self._running = counts[-1]
        # The count left by the last event holds up to the horizon.
        if self._running:
            for quiet in range(previous_second + origin, (horizon - 2) // 2000 + origin + 1):
                if self._running > peaks.get(quiet, 0):
                    peaks[quiet] = self._running
        self._settled_to = horizon


def brute_force_peaks(intervals: list[tuple[int, int]]) -> dict[int, int]:
    """Per second, the most of ``(start, end)`` ms intervals containing one millisecond, by
    counting at every candidate millisecond (each start, each second's first ms): for tests."""
    candidates = {start for start, end in intervals if end > start}
    candidates |= {second * 1000 for start, end in intervals if end > start
                   for second in range(start // 1000, (end - 1) // 1000 + 1)}
    peaks: dict[int, int] = {}
    for moment in candidates:
        count = sum(1 for start, end in intervals if start <= moment < end)
        if count and count > peaks.get(moment // 1000, 0):
            peaks[moment // 1000] = count
    return peaks
