"""``--html``: one self-contained page (inline SVG and CSS, no script, no network) that shows what
was measured: requests/s over the period with the chosen expected_qps drawn on it, latency
p50/p99 per minute, the body-size distributions, and the profile with each value's reason.

Each chart's ``<svg>`` carries ``data-chart`` and ``data-points`` (the number of points drawn),
and its series are ``<polyline>``/``<rect>`` elements with the values in ``data-values``, so a
browser test can check the page against the log.
"""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

from confgen.measure.measurements import per_second_series, stamp
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
"""


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
    ]
    parts += [f'<p class="warn">{html.escape(w)}</p>' for w in result.warnings]
    parts.append("<h2>Requests per second</h2>")
    parts.append(_qps_chart(series, qps.value if qps else None))
    parts.append("<h2>Latency per minute (p50, p99)</h2>")
    parts.append(_latency_chart(agg))
    parts.append("<h2>Body sizes</h2>")
    parts.append(_size_chart("response-size", "Response bodies ($body_bytes_sent)", agg.response_size, "bar"))
    parts.append(_size_chart("request-body", "Request bodies ($content_length)", agg.request_body, "bar2"))
    parts.append("<h2>The measured profile</h2>")
    parts.append(_profile_table(result))
    parts.append(f"<h2>Profile YAML</h2><pre>{html.escape(result.profile_text)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary(result, series) -> str:
    agg = result.aggregate
    files = ", ".join(html.escape(s.path) for s in result.summaries[:6])
    period = f"{stamp(series.seconds[0])} .. {stamp(series.seconds[-1])} UTC" if series.seconds else "no requests"
    return (f"{sum(series.counts)} requests from {agg.lines} lines ({agg.malformed} unreadable) in {files}; "
            f"{period}; log format {html.escape(result.log_format)}")


def _downsample(xs: list[int], ys: list[float]) -> tuple[list[int], list[float]]:
    if len(xs) <= MAX_POINTS:
        return xs, ys
    step = -(-len(xs) // MAX_POINTS)
    return ([xs[i] for i in range(0, len(xs), step)],
            [max(ys[i:i + step]) for i in range(0, len(ys), step)])


def _scale(xs, ys_list, y_max=None):
    x0, x1 = (min(xs), max(xs)) if xs else (0, 1)
    top = y_max if y_max is not None else max((max(ys) for ys in ys_list if ys), default=1)
    top = top or 1
    span = (x1 - x0) or 1

    def sx(x):
        return PAD + (x - x0) / span * (WIDTH - 2 * PAD)

    def sy(y):
        return HEIGHT - PAD + -(y / top) * (HEIGHT - 2 * PAD)

    return sx, sy, top


def _frame(name: str, points: int, label: str, top: float, unit: str, body: list[str], first: str, last: str) -> str:
    grid = []
    for fraction in (0.25, 0.5, 0.75, 1.0):
        y = HEIGHT - PAD - fraction * (HEIGHT - 2 * PAD)
        grid.append(f'<line class="grid" x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}"/>')
        grid.append(f'<text x="4" y="{y + 4:.1f}">{_short(top * fraction)}</text>')
    return "\n".join([
        f'<svg class="chart" data-chart="{name}" data-points="{points}" role="img" aria-label="{html.escape(label)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        *grid,
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>',
        f'<line class="axis" x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}"/>',
        *body,
        f'<text x="{PAD}" y="{HEIGHT - PAD + 16}">{html.escape(first)}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end">{html.escape(last)}</text>',
        f'<text x="{PAD}" y="{PAD - 10}" class="legend">{html.escape(label)} ({html.escape(unit)})</text>',
        "</svg>",
    ])


def _polyline(cls: str, series_name: str, xs, ys, sx, sy) -> str:
    points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys))
    data = " ".join(_short(y) for y in ys)
    return f'<polyline class="{cls}" data-series="{series_name}" data-values="{data}" points="{points}"/>'


def _qps_chart(series, expected_qps) -> str:
    if not series.seconds:
        return "<p>No requests with a time.</p>"
    xs, ys = _downsample(series.seconds, series.counts)
    top = max(max(ys), expected_qps or 0) * 1.1
    sx, sy, top = _scale(xs, [ys], top)
    body = [_polyline("s1", "requests", xs, ys, sx, sy)]
    if expected_qps:
        y = sy(expected_qps)
        body.append(f'<line class="target" data-series="expected_qps" data-value="{expected_qps}" '
                    f'x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}"/>')
        body.append(f'<text x="{WIDTH - PAD}" y="{y - 4:.1f}" text-anchor="end" class="legend">'
                    f'expected_qps {expected_qps}</text>')
    label = "requests per second" + (f", max of each {-(-len(series.seconds) // MAX_POINTS)} s"
                                     if len(series.seconds) > MAX_POINTS else "")
    return _frame("qps", len(xs), label, top, "req/s", body, stamp(xs[0]), stamp(xs[-1]))


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
    sx, sy, top = _scale(xs, [p99], max(p99) * 1.1 or 1)
    body = [_polyline("s1", "p50", xs, p50, sx, sy), _polyline("s2", "p99", xs, p99, sx, sy)]
    if len(xs) == 1:  # one minute: draw the points, a line needs two
        body += [f'<circle cx="{sx(xs[0]):.1f}" cy="{sy(v):.1f}" r="3" class="bar"/>' for v in (p50[0], p99[0])]
    return _frame("latency", len(xs), "latency p50 (blue) and p99 (orange) per minute", top, "ms", body,
                  stamp(xs[0]), stamp(xs[-1]))


def size_bins(hist) -> list[tuple[int, int, int]]:
    """The histogram regrouped by powers of two: (low, high, count) for each non-empty bin."""
    bins: dict[int, int] = defaultdict(int)
    for key, count in hist.buckets.items():
        low, _ = bucket_bounds(key)
        bins[low.bit_length()] += count
    return [((1 << (b - 1)) if b else 0, (1 << b) - 1, bins[b]) for b in sorted(bins)]


def _size_chart(name: str, label: str, hist, cls: str) -> str:
    bins = size_bins(hist)
    if not bins:
        return f'<p>{html.escape(label)}: none in the log.</p>'
    top = max(count for _, _, count in bins) * 1.1
    width = (WIDTH - 2 * PAD) / len(bins)
    body = []
    for index, (low, high, count) in enumerate(bins):
        h = count / top * (HEIGHT - 2 * PAD)
        x = PAD + index * width
        body.append(f'<rect class="{cls}" data-low="{low}" data-high="{high}" data-count="{count}" '
                    f'x="{x + 1:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{max(width - 2, 1):.1f}" height="{h:.1f}">'
                    f'<title>{_short(low)}..{_short(high)} bytes: {count}</title></rect>')
        body.append(f'<text x="{x + width / 2:.1f}" y="{HEIGHT - PAD + 28}" text-anchor="middle">{_short(low)}..{_short(high)}</text>')
    return _frame(name, len(bins), label, top, "requests per size range", body, "", "")


def _profile_table(result) -> str:
    rows = ["<table><tr><th>key</th><th>value</th><th>requests</th><th>p50</th><th>p99</th><th>max</th><th>how</th></tr>"]
    for m in result.measurements:
        d = m.distribution
        value = "not measured" if m.value is None else m.value
        how = m.how + (f" — add {' '.join(m.missing)} to the log_format" if m.missing else "")
        rows.append(f'<tr data-key="{html.escape(m.key)}"><td><code>{html.escape(m.key)}</code></td>'
                    f'<td class="v">{html.escape(str(value))}</td><td>{m.sample}</td>'
                    f'<td>{_short(d.get("p50"))}</td><td>{_short(d.get("p99"))}</td><td>{_short(d.get("max"))}</td>'
                    f"<td>{html.escape(how)}</td></tr>")
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
