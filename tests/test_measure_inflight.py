"""Requests in flight: the per-second maxima of overlapping [end - latency, end) intervals equal a
brute-force count on generated logs (one block or many, in order or not, across the window that
settles old events); long-lived requests (WebSockets, long-polls) are counted apart."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest

from confgen.measure import sources, state
import synthetic_logs as synthetic
from confgen.measure.inflight import LONG_LIVED_MS, SETTLED_AFTER_MS, InFlightSweep, brute_force_peaks
from confgen.measure.measurements import explain_table
from confgen.measure.measuring import measure_logs

START = 1_795_600_000.0


def write_log(path: Path, **options) -> synthetic.Truth:
    with open(path, "w") as handle:
        return synthetic.generate(handle.write, record_intervals=True, **options)


def measured(result) -> dict:
    return {m.key: m for m in result.measurements}


def test_brute_force_counts_what_it_should():
    # [0, 1000) and [500, 1500) overlap in 500..999; [1500, 1600) starts when the second ends.
    assert brute_force_peaks([(0, 1000), (500, 1500), (1500, 1600)]) == {0: 2, 1: 1}
    assert brute_force_peaks([(10, 10)]) == {}  # zero length: never in flight


@pytest.mark.parametrize("block_bytes", [sources.BLOCK_BYTES, 2048], ids=["one-block", "many-blocks"])
def test_in_flight_equals_a_brute_force_count(tmp_path, monkeypatch, block_bytes):
    monkeypatch.setattr(sources, "BLOCK_BYTES", block_bytes)
    log = tmp_path / "access.log"
    # Slow requests (median 300 ms, long tail) at 8/s over 5 minutes: events settle mid-log.
    truth = write_log(log, rate=8, seconds=300, seed=21, latency_mu=math.log(0.3), latency_sigma=1.2)
    assert 300_000 > 2 * SETTLED_AFTER_MS  # the window settles before the end
    result = measure_logs([str(log)], workers=1)
    expected = brute_force_peaks(truth.intervals)
    assert dict(result.aggregate.in_flight) == expected
    row = measured(result)["in_flight"]
    assert row.value == max(expected.values()) and row.value > 3


def test_in_flight_of_lines_out_of_order(tmp_path):
    log = tmp_path / "access.log"
    truth = write_log(log, rate=10, seconds=200, seed=22, latency_mu=math.log(0.5), latency_sigma=1.0)
    lines = log.read_text().splitlines(keepends=True)
    rng = random.Random(3)
    for start in range(0, len(lines), 40):  # shuffled in runs of 40 lines (a few seconds)
        chunk = lines[start:start + 40]
        rng.shuffle(chunk)
        lines[start:start + 40] = chunk
    shuffled = tmp_path / "shuffled.log"
    shuffled.write_text("".join(lines))
    assert dict(measure_logs([str(shuffled)]).aggregate.in_flight) == brute_force_peaks(truth.intervals)


def test_one_long_request_is_one_in_flight_not_its_seconds(tmp_path):
    log = tmp_path / "access.log"
    # The case: a request's whole latency used to land on the second it ended in.
    lines = [f'10.0.0.1 - - [x] "GET / HTTP/1.1" 200 5 "-" "c" {START + 50 + i / 10:.3f} 0.011 "0.010" 100 "-" {i} 1\n'
             for i in range(100)]
    lines.append(f'10.0.0.2 - - [x] "GET /report HTTP/1.1" 200 5 "-" "c" {START + 60:.3f} 50.001 "50.000" 100 "-" 999 1\n')
    log.write_text("".join(sorted(lines, key=lambda line: float(line.split('"c" ')[1].split()[0]))))
    result = measure_logs([str(log)], log_format="confgen")
    assert measured(result)["in_flight"].value == 2  # the report plus one 10 ms request
    assert result.aggregate.in_flight[int(START) + 30] == 1  # inside the report's 50 s, nothing else


def test_merged_hosts_add_up_per_second(tmp_path):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    truth_a = write_log(first, rate=5, seconds=60, seed=31, host=1, latency_mu=math.log(0.4))
    truth_b = write_log(second, rate=5, seconds=60, seed=32, host=2, latency_mu=math.log(0.4))
    a, b = measure_logs([str(first)]), measure_logs([str(second)])
    both = measure_logs([str(first), str(second)])
    expected = Counter(brute_force_peaks(truth_a.intervals))
    expected.update(brute_force_peaks(truth_b.intervals))
    assert dict(both.aggregate.in_flight) == dict(expected)
    saved = [tmp_path / "a.state", tmp_path / "b.state"]
    state.save(str(saved[0]), a.aggregate, a.summaries)
    state.save(str(saved[1]), b.aggregate, b.summaries)
    assert dict(measure_logs(merge=[str(p) for p in saved]).aggregate.in_flight) == dict(expected)


def test_sweep_matches_brute_force_on_random_intervals():
    for seed in range(25):
        rng = random.Random(seed)
        end, ends, latencies = 1_700_000_000_000, [], []
        for _ in range(rng.randint(1, 800)):
            end += int(rng.expovariate(1 / rng.choice([5, 50, 400, 2000])))
            ends.append(end - (rng.randint(0, 30_000) if rng.random() < 0.05 else 0))  # logged late
            latencies.append(min(int(rng.lognormvariate(4, rng.choice([0.5, 1.5, 2.5]))), LONG_LIVED_MS)
                             if rng.random() > 0.05 else None)
        peaks: dict[int, int] = {}
        sweep = InFlightSweep(peaks)
        step = rng.randint(1, 300)
        for index in range(0, len(ends), step):
            _add(sweep, ends[index:index + step], latencies[index:index + step])
        sweep.close()
        intervals = [(e - lat, e) for e, lat in zip(ends, latencies) if lat is not None]
        assert peaks == brute_force_peaks(intervals), seed


def test_sweep_on_events_that_share_milliseconds_and_second_edges():
    """Times on a 250 ms grid: many requests start and end at the same ms, often a second's
    first; several ends at one ms are one moment, not a count going down step by step."""
    assert _swept([1000, 1000], [1000, 1000]) == brute_force_peaks([(0, 1000)] * 2) == {0: 2}  # none at 1 s
    for seed in range(40):
        rng = random.Random(seed)
        ends = sorted(rng.randrange(0, 40) * 250 for _ in range(rng.randint(1, 60)))
        latencies = [rng.randrange(0, 12) * 250 for _ in ends]
        pairs = list(zip(ends, latencies))
        expected = brute_force_peaks([(end - latency, end) for end, latency in pairs])
        assert _swept(*zip(*pairs)) == expected, seed


def _add(sweep: InFlightSweep, ends: list[int], latencies: list) -> None:
    """Requests ending at ``ends`` (ms), as the collector hands them over: raw times (here the ms
    themselves), their whole seconds, their milliseconds, raw latencies and their ms."""
    sweep.add(ends, {end: end // 1000 for end in ends}, ends, {end: end % 1000 for end in ends},
              latencies, {latency: latency for latency in latencies})


def _swept(ends, latencies) -> dict[int, int]:
    peaks: dict[int, int] = {}
    sweep = InFlightSweep(peaks)
    _add(sweep, list(ends), list(latencies))
    sweep.close()
    return peaks


@pytest.fixture(scope="module")
def with_long_lived(tmp_path_factory):
    log = tmp_path_factory.mktemp("long") / "access.log"
    truth = write_log(log, rate=20, seconds=200, seed=41, long_lived=0.02)
    return log, truth, measure_logs([str(log)])


def test_long_lived_requests_are_kept_out_of_latency(with_long_lived):
    _, truth, result = with_long_lived
    agg = result.aggregate
    assert truth.long_lived > 40
    assert sum(agg.long_lived.values()) == truth.long_lived
    assert agg.latency.count == truth.upstream_requests and agg.latency.total == truth.latency_ms_sum
    latency = measured(result)["app.latency_ms"].value
    assert abs(latency - truth.mean_latency_ms) <= 0.03 * truth.mean_latency_ms
    assert agg.latency.maximum <= LONG_LIVED_MS and agg.long_lived_ms.count == truth.long_lived


def test_long_lived_requests_are_named_in_explain_and_left_out_of_in_flight(with_long_lived):
    _, truth, result = with_long_lived
    rows = measured(result)
    assert f"{truth.long_lived} long-lived left out" in rows["app.latency_ms"].how
    assert rows["long_lived"].value == truth.long_lived and not rows["long_lived"].in_profile
    table = explain_table(result.measurements)
    assert "long_lived *" in table and "WebSocket upgrades (101)" in table
    assert dict(result.aggregate.in_flight) == brute_force_peaks(truth.intervals)
