"""The --html report in a real headless browser (Debian's chromium): the page loads offline with
no console errors, and each chart holds the data points the log implies.

chromium is driven directly: --dump-dom prints the DOM after loading, --enable-logging=stderr
prints every console message (a Content-Security-Policy violation, i.e. any attempt to fetch
something, included). Skipped when chromium is missing, except under CONFGEN_REQUIRE_NGINX=1.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import require_binary
from confgen.measure import synthetic
from confgen.measure.measurements import per_second_series
from confgen.measure.measuring import measure_logs
from confgen.measure.report import write_report

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]


def load_in_chromium(page: Path, profile_dir: Path) -> tuple[str, list[str]]:
    """(the DOM after loading, the console messages)."""
    browser = require_binary("chromium")
    completed = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile_dir}", "--dump-dom", page.as_uri()],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    console = [line for line in completed.stderr.splitlines() if ":CONSOLE" in line]
    return completed.stdout, console


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
    assert [a.get("data-chart") for tag, a, _ in found if tag == "svg"] == ["qps", "latency", "response-size", "request-body"]
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
    line = next(a for tag, a, chart in found if chart == "qps" and tag == "polyline")
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
