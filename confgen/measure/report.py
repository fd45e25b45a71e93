"""``--html``: one self-contained page (inline SVG and CSS, no script, no network) that shows what
was measured: requests/s over the period with the chosen expected_qps drawn on it, requests in
flight, latency p50/p99 per minute, status codes over time, upstream errors (502/504) per
minute, the top routes by requests and by total time, the slowest endpoints, the body-size
distributions, and the profile with each value's reason and a link to the chart it comes from.

A quiet stretch the measurement skips (:data:`~confgen.measure.measurements.MAX_IDLE_GAP_S`) is
drawn as a shaded gap, never bridged by a line: each series is one ``<polyline>`` per stretch
with traffic. Axis labels are round numbers (steps of 1, 2 or 5 times a power of ten).

Each chart's ``<svg>`` carries ``data-chart`` and ``data-points`` (the number of points drawn),
and its series are ``<polyline>``/``<rect>`` elements with the values in ``data-values``, so a
browser test can check the page against the log.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from pathlib import Path

from confgen.measure.measurements import MAX_IDLE_GAP_S, per_second_series, stamp
from confgen.measure.stats import bucket_bounds

MAX_POINTS = 1200  # a longer series is drawn as the max of each run of seconds
WIDTH, HEIGHT, PAD = 900, 240, 48

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;
padding:4px 6px;text-align:left;vertical-align:top}th{background:#f4f4f4}td.v{font-weight:600;white-space:nowrap}
svg{background:#fafafa;border:1px solid #e2e2e2}.axis{stroke:#999;stroke-width:1}
.grid{stroke:#e6e6e6;stroke-width:1}.s1{fill:none;stroke:#2b6cb0;stroke-width:1.5}
.s2{fill:none;stroke:#c05621;stroke-width:1.5}.target{stroke:#c53030;stroke-width:1.5;stroke-dasharray:6 4}
.bar{fill:#2b6cb0}.bar2{fill:#c05621}text{font-size:11px;fill:#444}.legend{font-size:12px}
.warn{color:#9c4221}pre{overflow-x:auto;background:#f8f8f8;padding:8px}code{background:#f4f4f4;padding:0 3px}
.gap{fill:#eee}.c1{fill:none;stroke:#718096;stroke-width:1.5}.c2{fill:none;stroke:#2f855a;stroke-width:1.5}
.c3{fill:none;stroke:#2b6cb0;stroke-width:1.5}.c4{fill:none;stroke:#b7791f;stroke-width:1.5}
.c5{fill:none;stroke:#c53030;stroke-width:1.5}.e502{fill:#c53030}.e504{fill:#6b46c1}td.n{text-align:right;white-space:nowrap}
nav a{margin-right:10px}.note{color:#555;font-size:13px}
"""
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
UPSTREAM_ERRORS = ("502", "504")  # nginx's own answers when the upstream failed or timed out
TOP_ROUTES = 15
SLOW_ROUTE_MIN_REQUESTS = 20  # fewer requests than this give no meaningful p99
# The chart (its element id) each profile key (and --explain row) is read from.
KEY_CHART = {"expected_qps": "chart-qps", "in_flight": "chart-in-flight", "app.latency_ms": "chart-latency",
             "long_lived": "chart-latency", "slowest_request_s": "slowest",
             "avg_response_size": "chart-response-size", "avg_request_body_size": "chart-request-body",
             "max_body_size": "chart-request-body"}
SECTIONS = (("qps", "Requests per second"), ("in-flight", "Requests in flight"), ("latency", "Latency"),
            ("statuses", "Status codes"), ("upstream-errors", "Upstream errors"), ("routes", "Top routes"),
            ("slowest", "Slowest endpoints"), ("sizes", "Body sizes"), ("profile", "The measured profile"))



def write_report(path: str, result) -> None:
    from confgen.files import write_atomically

    target = Path(path)
    write_atomically({target.name: render_report(result)}, target.parent if str(target.parent) else Path("."))


def render_report(result) -> str:
    agg = result.aggregate
    series = per_second_series(agg.per_second)
    values = {m.key: m for m in result.measurements}
    qps = values.get("expected_qps")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may be fetched: a page that tried would show console errors in the browser test.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>confgen measure report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>confgen measure</h1>",
        f'<p class="meta">{_summary(result, series)}</p>',
        "<nav>" + "".join(f'<a href="#{anchor}">{html.escape(title)}</a>' for anchor, title in SECTIONS) + "</nav>",
    ]
    parts += [f'<p class="warn">{html.escape(w)}</p>' for w in result.warnings]
    parts.append(_section("qps", "Requests per second"))
    parts.append(_qps_chart(series, qps.value if qps else None))
    parts.append(_section("in-flight", "Requests in flight"))
    parts.append(_in_flight_chart(agg, series))
    parts.append(_section("latency", "Latency per minute (p50, p99)"))
    parts.append(_latency_chart(agg))
    if agg.long_lived:
        parts.append(f'<p class="note">{html.escape(values["long_lived"].how)}.</p>' if "long_lived" in values else "")
    parts.append(_section("statuses", "Status codes"))
    parts.append(_status_table(agg))
    parts.append(_status_chart(agg))
    parts.append(_section("upstream-errors", "Upstream errors (502, 504) per minute"))
    parts.append(_upstream_errors_chart(agg))
    parts.append(_section("routes", "Top routes"))
    parts.append(_route_tables(agg))
    parts.append(_section("slowest", "Slowest endpoints"))
    parts.append(_slowest_table(agg))
    parts.append(_section("sizes", "Body sizes"))
    parts.append(_size_chart("response-size", "Response bodies ($body_bytes_sent)", agg.response_size, "bar"))
    parts.append(_size_chart("request-body", "Request bodies ($content_length)", agg.request_body, "bar2"))
    parts.append(_section("profile", "The measured profile"))
    parts.append(_profile_table(result))
    parts.append(f"<h2>Profile YAML</h2><pre>{html.escape(result.profile_text)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _section(anchor: str, title: str) -> str:
    return f'<h2 id="{anchor}">{html.escape(title)}</h2>'


def _summary(result, series) -> str:
    agg = result.aggregate
    files = ", ".join(html.escape(s.path) for s in result.summaries[:6])
    period = f"{stamp(series.seconds[0])} .. {stamp(series.seconds[-1])} UTC" if series.seconds else "no requests"
    return (f"{sum(series.counts)} requests from {agg.lines} lines ({agg.malformed} unreadable) in {files}; "
            f"{period}; log format {html.escape(result.log_format)}")


def nice_axis(top: float) -> tuple[float, float]:
    """(axis maximum, step): the smallest round maximum >= ``top`` in 2 to 5 steps of 1, 2 or 5
    times a power of ten."""
    if top <= 0:
        return 1.0, 0.25
    magnitude = 10 ** math.floor(math.log10(top / 5))
    for factor in (1, 2, 5, 10, 20, 50):
        step = factor * magnitude
        if top / step <= 5:
            return math.ceil(top / step - 1e-9) * step, step
    return top, top / 4  # not reached: 50 x (top / 5 rounded down to a power of ten) >= top


def runs(xs: list[int], gap: int) -> list[tuple[int, int]]:
    """(start, stop) index ranges of ``xs`` (sorted) with no step longer than ``gap``."""
    bounds, start = [], 0
    for index in range(1, len(xs)):
        if xs[index] - xs[index - 1] > gap:
            bounds.append((start, index))
            start = index
    if xs:
        bounds.append((start, len(xs)))
    return bounds


def _downsample(xs: list[int], ys: list[float], step: int) -> tuple[list[int], list[float]]:
    if step <= 1:
        return xs, ys
    return ([xs[i] for i in range(0, len(xs), step)], [max(ys[i:i + step]) for i in range(0, len(ys), step)])


class _Scale:
    def __init__(self, x0: int, x1: int, top: float) -> None:
        self.x0, self.span, self.top = x0, (x1 - x0) or 1, top or 1

    def x(self, value: float) -> float:
        return PAD + (value - self.x0) / self.span * (WIDTH - 2 * PAD)

    def y(self, value: float) -> float:
        return HEIGHT - PAD - (value / self.top) * (HEIGHT - 2 * PAD)


def _frame(name: str, points: int, label: str, top: float, step: float, unit: str, body: list[str],
           first: str, last: str) -> str:
    grid = []
    ticks = round(top / step) if step else 0
    for index in range(1, ticks + 1):
        value = index * step
        y = HEIGHT - PAD - value / top * (HEIGHT - 2 * PAD)
        grid.append(f'<line class="grid" x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}"/>')
        grid.append(f'<text class="tick" x="{PAD - 4}" y="{y + 4:.1f}" text-anchor="end">{_short(value)}</text>')
    return "\n".join([
        f'<svg class="chart" id="chart-{name}" data-chart="{name}" data-points="{points}" role="img" '
        f'aria-label="{html.escape(label)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'xmlns="http://www.w3.org/2000/svg">',
        *grid,
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>',
        f'<line class="axis" x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}"/>',
        *body,
        f'<text x="{PAD}" y="{HEIGHT - PAD + 16}">{html.escape(first)}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end">{html.escape(last)}</text>',
        f'<text x="{PAD}" y="{PAD - 10}" class="legend">{html.escape(label)} ({html.escape(unit)})</text>',
        "</svg>",
    ])


def _polyline(cls: str, series_name: str, xs, ys, scale: _Scale) -> str:
    points = " ".join(f"{scale.x(x):.1f},{scale.y(y):.1f}" for x, y in zip(xs, ys))
    data = " ".join(_short(y) for y in ys)
    return (f'<polyline class="{cls}" data-series="{series_name}" data-first="{xs[0]}" data-last="{xs[-1]}" '
            f'data-values="{data}" points="{points}"/>')


def _gap_rects(bounds: list[tuple[int, int]], xs: list[int], scale: _Scale) -> list[str]:
    """A shaded band (with a tooltip) over each quiet stretch between runs."""
    rects = []
    for (_, stop), (start, _) in zip(bounds, bounds[1:]):
        left, right = scale.x(xs[stop - 1]), scale.x(xs[start])
        minutes = (xs[start] - xs[stop - 1]) / 60
        rects.append(f'<rect class="gap" data-gap="{xs[stop - 1]} {xs[start]}" x="{left:.1f}" y="{PAD}" '
                     f'width="{max(right - left, 1):.1f}" height="{HEIGHT - 2 * PAD}">'
                     f'<title>no requests for {minutes:.0f} min: not drawn</title></rect>')
    return rects


def _lines(xs: list[int], named: list[tuple[str, str, list[float]]], scale: _Scale, gap: int,
           step: int = 1) -> tuple[list[str], int]:
    """One polyline per series and run of ``xs`` without a quiet gap (``step``: max of each
    ``step`` points); and the number of points drawn per series."""
    bounds = runs(xs, gap)
    body, points = _gap_rects(bounds, xs, scale), 0
    for start, stop in bounds:
        for cls, name, ys in named:
            run_xs, run_ys = _downsample(xs[start:stop], ys[start:stop], step)
            body.append(_polyline(cls, name, run_xs, run_ys, scale))
        points += len(_downsample(xs[start:stop], xs[start:stop], step)[0])
    return body, points


def _qps_chart(series, expected_qps) -> str:
    if not series.seconds:
        return "<p>No requests with a time.</p>"
    xs, ys = series.seconds, series.counts
    step = -(-len(xs) // MAX_POINTS)
    top, tick = nice_axis(max(max(ys), expected_qps or 0) * 1.05)
    scale = _Scale(xs[0], xs[-1], top)
    body, points = _lines(xs, [("s1", "requests", ys)], scale, MAX_IDLE_GAP_S, step)
    if expected_qps:
        y = scale.y(expected_qps)
        body.append(f'<line class="target" data-series="expected_qps" data-value="{expected_qps}" '
                    f'x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}"/>')
        body.append(f'<text x="{WIDTH - PAD}" y="{y - 4:.1f}" text-anchor="end" class="legend">'
                    f'expected_qps {expected_qps} (p99 of every second)</text>')
    label = ("requests in each second" if step == 1 else
             f"each point: the busiest second of {step} s (the dashed p99 is of every second)")
    return _frame("qps", points, label, top, tick, "req/s", body, stamp(xs[0]), stamp(xs[-1]))


def _in_flight_chart(agg, series) -> str:
    if not agg.in_flight or not series.seconds:
        return "<p>The log has no request times: nothing to overlap.</p>"
    xs = series.seconds
    ys = [agg.in_flight.get(second, 0) for second in xs]
    step = -(-len(xs) // MAX_POINTS)
    top, tick = nice_axis(max(ys) * 1.05)
    scale = _Scale(xs[0], xs[-1], top)
    body, points = _lines(xs, [("s1", "in-flight", ys)], scale, MAX_IDLE_GAP_S, step)
    label = ("most requests in flight at once in each second" if step == 1 else
             f"each point: the most in flight at once in {step} s")
    return _frame("in-flight", points, label, top, tick, "requests", body, stamp(xs[0]), stamp(xs[-1]))


def minute_quantiles(by_minute: dict) -> tuple[list[int], list[float], list[float]]:
    """Per minute: (minute, p50, p99) of the latency histogram buckets logged in it."""
    per_minute: dict[int, dict[int, int]] = defaultdict(dict)
    for (minute, bucket), count in by_minute.items():
        per_minute[minute][bucket] = count
    minutes, p50, p99 = [], [], []
    for minute in sorted(per_minute):
        buckets = per_minute[minute]
        total = sum(buckets.values())
        minutes.append(minute)
        p50.append(_bucket_quantile(buckets, total, 0.5))
        p99.append(_bucket_quantile(buckets, total, 0.99))
    return minutes, p50, p99


def _bucket_quantile(buckets: dict[int, int], total: int, q: float) -> float:
    rank = max(1, -(-int(q * total * 1_000_000) // 1_000_000))
    seen = 0
    for key in sorted(buckets):
        seen += buckets[key]
        if seen >= rank:
            low, high = bucket_bounds(key)
            return (low + high) / 2
    return 0.0


def _latency_chart(agg) -> str:
    minutes, p50, p99 = minute_quantiles(agg.latency_by_minute)
    if not minutes:
        return "<p>The log has no request times.</p>"
    xs = [m * 60 for m in minutes]
    top, tick = nice_axis(max(p99) * 1.05)
    scale = _Scale(xs[0], xs[-1], top)
    body, points = _lines(xs, [("s1", "p50", p50), ("s2", "p99", p99)], scale, MAX_IDLE_GAP_S)
    if len(xs) == 1:  # one minute: draw the points, a line needs two
        body += [f'<circle cx="{scale.x(xs[0]):.1f}" cy="{scale.y(v):.1f}" r="3" class="bar"/>' for v in (p50[0], p99[0])]
    return _frame("latency", points, "latency p50 (blue) and p99 (orange) per minute", top, tick, "ms", body,
                  stamp(xs[0]), stamp(xs[-1]))


def _status_table(agg) -> str:
    total = sum(agg.statuses.values()) or 1
    rows = ["<table><tr><th>status</th><th>requests</th><th>share</th></tr>"]
    for status, count in sorted(agg.statuses.items()):
        rows.append(f'<tr data-status="{html.escape(status)}"><td>{html.escape(status)}</td>'
                    f'<td class="n">{count}</td><td class="n">{100 * count / total:.2f} %</td></tr>')
    rows.append("</table>")
    return "\n".join(rows)


def _per_minute(agg, wanted) -> tuple[list[int], dict[str, list[int]]]:
    """Minutes with requests, and per key of ``wanted(status)`` its count in each of them."""
    minutes = sorted({minute for minute, _ in agg.statuses_by_minute})
    index = {minute: i for i, minute in enumerate(minutes)}
    counts: dict[str, list[int]] = {}
    for (minute, status), count in agg.statuses_by_minute.items():
        key = wanted(status)
        if key is not None:
            counts.setdefault(key, [0] * len(minutes))[index[minute]] += count
    return minutes, counts


def _status_chart(agg) -> str:
    minutes, counts = _per_minute(agg, lambda status: f"{status[:1]}xx" if f"{status[:1]}xx" in STATUS_CLASSES else None)
    if not minutes:
        return ""
    xs = [m * 60 for m in minutes]
    top, tick = nice_axis(max(max(c) for c in counts.values()) * 1.05)
    scale = _Scale(xs[0], xs[-1], top)
    named = [(f"c{name[0]}", name, counts[name]) for name in STATUS_CLASSES if name in counts]
    body, points = _lines(xs, named, scale, MAX_IDLE_GAP_S)
    legend = ", ".join(f"{name} ({colour})" for name, colour in zip(
        STATUS_CLASSES, ("grey", "green", "blue", "amber", "red")) if name in counts)
    return _frame("statuses", points, f"responses per minute by class: {legend}", top, tick, "requests", body,
                  stamp(xs[0]), stamp(xs[-1]))


def _upstream_errors_chart(agg) -> str:
    minutes, counts = _per_minute(agg, lambda status: status if status in UPSTREAM_ERRORS else None)
    total = {status: sum(values) for status, values in counts.items()}
    if not any(total.values()):
        return ('<p data-chart-empty="upstream-errors">No 502 or 504 in the log: nginx never found the app '
                "down, refusing or too slow.</p>")
    xs = [m * 60 for m in minutes]
    peak = max(a + b for a, b in zip(counts.get("502", [0] * len(xs)), counts.get("504", [0] * len(xs))))
    top, tick = nice_axis(peak * 1.05)
    scale = _Scale(xs[0], xs[-1] + 60, top)
    width = max(1.0, (WIDTH - 2 * PAD) * 60 / scale.span - 1)
    body = []
    for i, minute_start in enumerate(xs):
        base = 0
        for status in UPSTREAM_ERRORS:
            count = counts.get(status, [0] * len(xs))[i]
            if not count:
                continue
            y_top, y_base = scale.y(base + count), scale.y(base)
            body.append(f'<rect class="e{status}" data-minute="{minute_start // 60}" data-status="{status}" '
                        f'data-count="{count}" x="{scale.x(minute_start):.1f}" y="{y_top:.1f}" width="{width:.1f}" '
                        f'height="{y_base - y_top:.1f}"><title>{stamp(minute_start)}: {count} x {status}</title></rect>')
            base += count
    label = f"502 (red): {total.get('502', 0)}, 504 (purple): {total.get('504', 0)} per minute"
    return _frame("upstream-errors", sum(1 for b in body), label, top, tick, "responses", body,
                  stamp(xs[0]), stamp(xs[-1]))


def _route_rows(agg) -> list[tuple[str, int, object]]:
    return [(route, count, agg.route_latency.get(route)) for route, count in agg.route_requests.items()]


def _route_tables(agg) -> str:
    rows = _route_rows(agg)
    if not rows:
        return "<p>The log format has no $request: no routes.</p>"
    total = sum(count for _, count, _ in rows) or 1
    by_requests = sorted(rows, key=lambda row: (-row[1], row[0]))[:TOP_ROUTES]
    timed = [row for row in rows if row[2] is not None and row[2].count]
    by_time = sorted(timed, key=lambda row: (-row[2].total, row[0]))[:TOP_ROUTES]
    parts = ['<p class="note">A route is the method and path with ids (numbers, UUIDs, hashes, tokens) '
             "collapsed to {id}; the query string is left out.</p>",
             "<h3>By requests</h3>", _route_table("routes-by-requests", by_requests, total)]
    if by_time:
        parts += ["<h3>By total time (the app's, summed)</h3>", _route_table("routes-by-time", by_time, total)]
    return "\n".join(parts)


def _route_table(name: str, rows, total: int) -> str:
    out = [f'<table data-table="{name}"><tr><th>route</th><th>requests</th><th>share</th><th>total time</th>'
           "<th>mean</th><th>p50</th><th>p99</th></tr>"]
    for route, count, hist in rows:
        timed = hist is not None and hist.count
        out.append(
            f'<tr data-route="{html.escape(route)}" data-requests="{count}"'
            f'{f" data-total-ms={chr(34)}{hist.total}{chr(34)}" if timed else ""}><td><code>{html.escape(route)}</code></td>'
            f'<td class="n">{count}</td><td class="n">{100 * count / total:.1f} %</td>'
            f'<td class="n">{_duration(hist.total) if timed else "-"}</td>'
            f'<td class="n">{f"{hist.mean:.0f} ms" if timed else "-"}</td>'
            f'<td class="n">{f"{hist.quantile(0.5)} ms" if timed else "-"}</td>'
            f'<td class="n">{f"{hist.quantile(0.99)} ms" if timed else "-"}</td></tr>')
    out.append("</table>")
    return "\n".join(out)


def _slowest_table(agg) -> str:
    timed = [row for row in _route_rows(agg) if row[2] is not None and row[2].count]
    if not timed:
        return "<p>The log has no $request with a request time: no endpoints to rank.</p>"
    enough = [row for row in timed if row[2].count >= SLOW_ROUTE_MIN_REQUESTS] or timed
    slowest = sorted(enough, key=lambda row: (-row[2].quantile(0.99), row[0]))[:TOP_ROUTES]
    note = (f'<p class="note">Routes with at least {SLOW_ROUTE_MIN_REQUESTS} timed requests, by p99 of the '
            "app's time (long-lived requests left out).</p>" if len(enough) < len(timed) or
            all(row[2].count >= SLOW_ROUTE_MIN_REQUESTS for row in timed) else
            '<p class="note">Every route, by p99 of the app\'s time: none has '
            f"{SLOW_ROUTE_MIN_REQUESTS} timed requests.</p>")
    out = [note, '<table data-table="slowest"><tr><th>route</th><th>requests</th><th>p50</th><th>p99</th>'
                 "<th>max</th></tr>"]
    for route, _, hist in slowest:
        out.append(f'<tr data-route="{html.escape(route)}" data-p50="{hist.quantile(0.5)}" '
                   f'data-p99="{hist.quantile(0.99)}"><td><code>{html.escape(route)}</code></td>'
                   f'<td class="n">{hist.count}</td><td class="n">{hist.quantile(0.5)} ms</td>'
                   f'<td class="n">{hist.quantile(0.99)} ms</td><td class="n">{hist.maximum} ms</td></tr>')
    out.append("</table>")
    return "\n".join(out)


def _duration(ms: int) -> str:
    seconds = ms / 1000
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def size_bins(hist) -> list[tuple[int, int, int]]:
    """The histogram regrouped by powers of two: (low, high, count) for each non-empty bin."""
    bins: dict[int, int] = defaultdict(int)
    for key, count in hist.buckets.items():
        low, _ = bucket_bounds(key)
        bins[low.bit_length()] += count
    return [((1 << (b - 1)) if b else 0, (1 << b) - 1, bins[b]) for b in sorted(bins)]


def bytes_label(value: int) -> str:
    """Powers of two in bytes, short: 512, 1k, 64k, 1M."""
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("k", 1 << 10)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


LABEL_PX = 34  # room one size label needs: fewer bins get every label, more get every n-th


def _size_chart(name: str, label: str, hist, cls: str) -> str:
    bins = size_bins(hist)
    if not bins:
        return f'<p>{html.escape(label)}: none in the log.</p>'
    top, tick = nice_axis(max(count for _, _, count in bins) * 1.05)
    width = (WIDTH - 2 * PAD) / len(bins)
    every = max(1, math.ceil(LABEL_PX / width))
    body = []
    for index, (low, high, count) in enumerate(bins):
        h = count / top * (HEIGHT - 2 * PAD)
        x = PAD + index * width
        body.append(f'<rect class="{cls}" data-low="{low}" data-high="{high}" data-count="{count}" '
                    f'x="{x + 1:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{max(width - 2, 1):.1f}" height="{h:.1f}">'
                    f'<title>{low}..{high} bytes: {count}</title></rect>')
        if index % every == 0:
            body.append(f'<text class="bin" x="{x + width / 2:.1f}" y="{HEIGHT - PAD + 14}" '
                        f'text-anchor="middle">{bytes_label(low)}</text>')
    return _frame(name, len(bins), label + ", bins from each power of two", top, tick, "requests per size range",
                  body, "", "")


def _profile_table(result) -> str:
    rows = ["<table><tr><th>key</th><th>value</th><th>requests</th><th>p50</th><th>p99</th><th>max</th><th>how</th>"
            "<th>chart</th></tr>"]
    for m in result.measurements:
        d = m.distribution
        value = "not measured" if m.value is None else m.value
        how = m.how + (f" — add {' '.join(m.missing)} to the log_format" if m.missing else "")
        chart = KEY_CHART.get(m.key)
        link = f'<a href="#{chart}" data-chart-link="{chart}">{chart.removeprefix("chart-")}</a>' if chart else ""
        rows.append(f'<tr data-key="{html.escape(m.key)}"><td><code>{html.escape(m.key)}</code></td>'
                    f'<td class="v">{html.escape(str(value))}</td><td>{m.sample}</td>'
                    f'<td>{_short(d.get("p50"))}</td><td>{_short(d.get("p99"))}</td><td>{_short(d.get("max"))}</td>'
                    f"<td>{html.escape(how)}</td><td>{link}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _short(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and (value.is_integer() or value >= 100):
        value = round(value)
    if isinstance(value, int):
        for unit, size in (("M", 1_000_000), ("k", 1000)):
            if value >= 10 * size and value % size == 0:
                return f"{value // size}{unit}"
        return str(value)
    return f"{value:.3g}"
