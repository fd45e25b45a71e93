"""The --html report in a real headless browser (Debian's chromium): the page loads offline with
no console errors, each chart and table holds the data the log implies, no line is drawn across
a quiet gap, and a screenshot of the page is read back (its size, and that it is not blank).

chromium is driven directly: --dump-dom prints the DOM after loading, --screenshot writes a PNG,
--enable-logging=stderr prints every console message (a Content-Security-Policy violation, i.e.
any attempt to fetch something, included). Host names resolve to nothing and any request would go
to a closed loopback port, so neither the page nor chromium's own services reach past this
machine. Skipped when chromium is missing, except under CONFGEN_REQUIRE_NGINX=1.
"""

from __future__ import annotations

import math
import re
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import require_binary
import synthetic_logs as synthetic
from confgen.measure.measurements import per_second_series
from confgen.measure.measuring import measure_logs
from confgen.measure.report import render_report, write_report

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0",
         "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>"]
SHOT_WIDTH, SHOT_HEIGHT = 1000, 1800


def load_in_chromium(page: Path, profile_dir: Path) -> tuple[str, list[str]]:
    """(the DOM after loading, the console messages)."""
    browser = require_binary("chromium")
    completed = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile_dir}", "--dump-dom", page.as_uri()],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    console = [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
    return completed.stdout, console


def screenshot(page: Path, profile_dir: Path, shot: Path) -> list[str]:
    """A PNG of the page's first SHOT_HEIGHT pixels; the console messages."""
    browser = require_binary("chromium")
    completed = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile_dir}", f"--screenshot={shot}",
                                f"--window-size={SHOT_WIDTH},{SHOT_HEIGHT}", page.as_uri()],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]


def png_facts(data: bytes) -> tuple[int, int, int]:
    """(width, height, distinct colours in the first rows) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and colour in (2, 6)
    idat, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    channels = 3 if colour == 2 else 4
    stride = 1 + width * channels
    raw = zlib.decompressobj().decompress(idat, stride * 200)  # the first 200 rows are enough
    rows, previous = [], bytearray(width * channels)
    for row in range(min(200, len(raw) // stride)):
        kind, line = raw[row * stride], bytearray(raw[row * stride + 1:(row + 1) * stride])
        for i in range(len(line)):  # undo the PNG filter (RFC 2083, 6)
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        previous = line
    colours = {row[i:i + 3] for row in rows for i in range(0, len(row), channels * 7)}
    return width, height, len(colours)


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict, str | None]] = []  # (tag, attributes, enclosing chart)
        self.chart: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "svg":
            self.chart = attributes.get("data-chart")
        self.found.append((tag, attributes, self.chart))

    def handle_endtag(self, tag):
        if tag == "svg":
            self.chart = None

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A 10-minute log and the report of it, loaded in chromium."""
    tmp = tmp_path_factory.mktemp("report")
    log = tmp / "access.log"
    with open(log, "w") as handle:
        truth = synthetic.generate(handle.write, rate=20, seconds=600, seed=11)
    result = measure_logs([str(log)])
    page = tmp / "report.html"
    write_report(str(page), result)
    dom, console = load_in_chromium(page, tmp / "chromium-profile")
    parser = Elements()
    parser.feed(dom)
    return log, truth, result, parser.found, console


def test_page_loads_offline_without_console_errors(report, tmp_path):
    _, _, _, found, console = report
    assert console == []
    assert [a.get("data-chart") for tag, a, _ in found if tag == "svg"] == [
        "qps", "in-flight", "latency", "statuses", "response-size", "request-body"]
    # The check can fail: a page that fetches something is reported on the console.
    control = tmp_path / "control.html"
    control.write_text(Path(report[0]).with_name("report.html").read_text().replace(
        "</body>", '<img src="https://example.com/x.png"></body>'))
    _, control_console = load_in_chromium(control, tmp_path / "profile")
    assert any("Content Security Policy" in line for line in control_console)


def test_requests_chart_has_one_point_per_second_and_the_chosen_qps(report):
    _, truth, result, found, _ = report
    series = per_second_series(truth.per_second)
    svg = next(a for tag, a, _ in found if tag == "svg" and a.get("data-chart") == "qps")
    assert int(svg["data-points"]) == len(series.seconds)
    lines = [a for tag, a, chart in found if chart == "qps" and tag == "polyline"]
    assert len(lines) == 1  # no quiet gap: one line
    line = lines[0]
    assert [int(v) for v in line["data-values"].split()] == series.counts
    assert len(line["points"].split()) == len(series.seconds)
    target = next(a for tag, a, chart in found if chart == "qps" and a.get("data-series") == "expected_qps")
    expected = next(m.value for m in result.measurements if m.key == "expected_qps")
    assert float(target["data-value"]) == expected


def test_latency_chart_has_p50_and_p99_per_minute(report):
    _, truth, _, found, _ = report
    minutes = {second // 60 for second in truth.per_second}
    lines = {a["data-series"]: a for tag, a, chart in found if chart == "latency" and tag == "polyline"}
    assert set(lines) == {"p50", "p99"}
    p50 = [float(v) for v in lines["p50"]["data-values"].split()]
    p99 = [float(v) for v in lines["p99"]["data-values"].split()]
    assert len(p50) == len(p99) == len(minutes)
    assert all(a <= b for a, b in zip(p50, p99))
    assert all(30 <= v <= 50 for v in p50)  # the log-normal's median is 40 ms


def test_size_charts_count_what_the_log_holds(report):
    log, _, _, found, _ = report
    text = log.read_text()
    sizes = Counter(int(size) for size in re.findall(r'" \d{3} (\d+) "', text))
    bodies = Counter(int(b) for b in re.findall(r'"(\d+)" \d+ \d+$', text, re.M) if int(b) > 0)
    for chart, counts in (("response-size", sizes), ("request-body", bodies)):
        bars = [a for tag, a, c in found if c == chart and tag == "rect"]
        drawn = {(int(a["data-low"]), int(a["data-high"])): int(a["data-count"]) for a in bars}
        expected: Counter = Counter()
        for size, count in counts.items():
            low = (1 << (size.bit_length() - 1)) if size else 0
            expected[(low, (1 << size.bit_length()) - 1)] += count
        assert drawn == dict(expected), chart


def test_profile_table_gives_each_value_and_its_reason(report):
    _, _, result, found, _ = report
    rows = {a["data-key"] for tag, a, _ in found if tag == "tr" and "data-key" in a}
    assert {m.key for m in result.measurements} == rows


def test_profile_keys_link_to_the_chart_they_come_from(report):
    _, _, result, found, _ = report
    anchors = {a["id"] for tag, a, _ in found if "id" in a}
    links = {a["data-chart-link"]: a["href"] for tag, a, _ in found if tag == "a" and "data-chart-link" in a}
    assert {"chart-qps", "chart-latency", "chart-in-flight", "chart-response-size", "chart-request-body"} <= set(links)
    assert all(href == f"#{chart}" and chart in anchors for chart, href in links.items())


def test_statuses_routes_and_slowest_endpoints_match_the_log(report):
    log, truth, result, found, _ = report
    text = log.read_text()
    statuses = Counter(re.findall(r'" (\d{3}) \d+ "', text))
    shown = {a["data-status"]: a for tag, a, _ in found if tag == "tr" and "data-status" in a}
    assert set(shown) == set(statuses)
    by_requests = [a for tag, a, _ in found if tag == "tr" and "data-route" in a and "data-requests" in a]
    first_table = by_requests[:len(truth.routes)]
    assert {a["data-route"]: int(a["data-requests"]) for a in first_table} == dict(truth.routes)
    slowest = [a for tag, a, _ in found if tag == "tr" and "data-p99" in a]
    assert slowest and [int(a["data-p99"]) for a in slowest] == sorted((int(a["data-p99"]) for a in slowest), reverse=True)
    assert all(int(a["data-p50"]) <= int(a["data-p99"]) for a in slowest)
    # The ids are collapsed: /api/items/42 is counted as /api/items/{id}.
    assert "GET /api/items/{id}" in {a["data-route"] for a in first_table}
    assert not any(a.get("data-chart") == "upstream-errors" for tag, a, _ in found if tag == "svg")


def test_axis_labels_are_round(report):
    log = report[0]
    page = log.with_name("report.html").read_text()
    for chart in re.findall(r'<svg class="chart".*?</svg>', page, re.S):
        labels = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', chart)
        values = [float(label[:-1]) * {"k": 1e3, "M": 1e6}[label[-1]] if label[-1] in "kM" else float(label)
                  for label in labels]
        assert 2 <= len(values) <= 5, labels
        step = values[0]
        assert all(abs(v - (i + 1) * step) < 1e-9 * max(1, v) for i, v in enumerate(values)), labels
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 9) in (1, 2, 5), labels


def test_nice_axis_gives_round_steps():
    from confgen.measure.report import nice_axis

    for top in (0.7, 3, 9.99, 37, 123.4, 1000, 5001, 77_777):
        maximum, step = nice_axis(top)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 9) in (1, 2, 5), (top, step)
        assert top <= maximum <= top + step and 2 <= maximum / step <= 5 + 1e-9, (top, maximum, step)


@pytest.fixture(scope="module")
def gapped(tmp_path_factory):
    """Two busy hours apart, WebSockets and long-polls in them, 502s and 504s in one minute."""
    tmp = tmp_path_factory.mktemp("gapped")
    log = tmp / "access.log"
    start = 1_795_600_000.0
    with open(log, "w") as handle:
        synthetic.generate(handle.write, rate=10, seconds=600, start=start, seed=1, long_lived=0.01)
        synthetic.generate(handle.write, rate=10, seconds=600, start=start + 3600, seed=2)
    lines = log.read_text().splitlines(keepends=True)
    errors = Counter()
    for index in range(300, 330):  # about half a minute into the first hour's 30th second
        status = "502" if index % 3 else "504"
        lines[index], replaced = re.subn(r'" 20[01] ', f'" {status} ', lines[index], count=1)
        errors[status] += replaced
    log.write_text("".join(lines))
    result = measure_logs([str(log)])
    page = tmp / "report.html"
    write_report(str(page), result)
    dom, console = load_in_chromium(page, tmp / "chromium-profile")
    parser = Elements()
    parser.feed(dom)
    return log, result, parser.found, console, page, errors


def test_no_line_is_drawn_across_a_quiet_gap(gapped):
    _, result, found, console, _, _ = gapped
    assert console == []
    series = per_second_series(result.aggregate.per_second)
    assert len(series.gaps) == 1
    before, after = series.gaps[0]
    for chart in ("qps", "in-flight", "latency", "statuses"):
        lines = [a for tag, a, c in found if c == chart and tag == "polyline"]
        assert lines, chart
        per_minute = chart in ("latency", "statuses")  # x: the start of each minute
        resumed = after // 60 * 60 if per_minute else after
        for line in lines:  # each line lies on one side of the gap
            assert int(line["data-last"]) <= before or int(line["data-first"]) >= resumed, chart
        gaps = [a for tag, a, c in found if c == chart and tag == "rect" and "data-gap" in a]
        assert len(gaps) == 1, chart
    qps_lines = [a for tag, a, c in found if c == "qps" and tag == "polyline"]
    assert len(qps_lines) == 2
    assert sum(len(a["data-values"].split()) for a in qps_lines) == len(series.seconds)


def test_upstream_errors_are_counted_per_minute(gapped):
    _, result, found, _, _, errors = gapped
    bars = [a for tag, a, c in found if c == "upstream-errors" and tag == "rect"]
    drawn = Counter()
    for bar in bars:
        drawn[bar["data-status"]] += int(bar["data-count"])
    assert drawn == errors
    assert {int(bar["data-minute"]) for bar in bars} <= {m for m, _ in result.aggregate.statuses_by_minute}


def test_long_lived_requests_are_said_in_the_report(gapped):
    _, result, found, _, page, _ = gapped
    text = page.read_text()
    assert "WebSocket upgrades (101)" in text and "kept out of app.latency_ms" in text
    assert any(a.get("data-key") == "long_lived" for tag, a, _ in found if tag == "tr")


def test_size_labels_do_not_overlap(gapped):
    _, _, found, _, _, _ = gapped
    from confgen.measure.report import LABEL_PX

    for chart in ("response-size", "request-body"):
        xs = [float(a["x"]) for tag, a, c in found if c == chart and tag == "text" and a.get("class") == "bin"]
        assert xs and all(b - a >= LABEL_PX - 1 for a, b in zip(xs, xs[1:])), chart


def test_long_periods_say_each_point_is_a_window_peak(tmp_path):
    from confgen.measure.report import MAX_POINTS

    log = tmp_path / "access.log"
    with open(log, "w") as handle:
        synthetic.generate(handle.write, rate=1, seconds=3 * MAX_POINTS, seed=5)
    result = measure_logs([str(log)])
    page = render_report(result)
    assert "each point: the busiest second of 3 s (the dashed p99 is of every second)" in page


def test_screenshot_is_the_page_drawn(gapped, tmp_path):
    _, _, _, _, page, _ = gapped
    shot = tmp_path / "report.png"
    console = screenshot(page, tmp_path / "profile", shot)
    assert console == []
    width, height, colours = png_facts(shot.read_bytes())
    assert (width, height) == (SHOT_WIDTH, SHOT_HEIGHT)
    assert colours > 8  # text and a chart's colours, not a blank page
    # The control: a blank page gives one colour.
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body style='background:#fff'></body></html>")
    screenshot(blank, tmp_path / "profile2", tmp_path / "blank.png")
    assert png_facts((tmp_path / "blank.png").read_bytes())[2] == 1


def test_page_refers_to_nothing_outside_itself(gapped):
    _, _, found, _, page, _ = gapped
    for tag, attributes, _ in found:
        for name in ("src", "href"):
            if name in attributes:
                assert attributes[name].startswith("#"), (tag, attributes)
    assert "url(" not in page.read_text() and "@import" not in page.read_text()
