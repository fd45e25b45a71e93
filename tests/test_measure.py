"""confgen measure: accuracy against logs drawn from known distributions, mergeable state,
robustness (mixed formats, clock jumps, out-of-order lines, `-` and retried upstream times,
truncated gzip, malformed lines), the nginx config's log_format, and the CLI."""

from __future__ import annotations

import gzip
import io
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import confgen
from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.measure import logformat
import synthetic_logs as synthetic
from confgen.measure.measuring import measure_logs
from confgen.profile.loading import load_profile
from click.testing import CliRunner

START = 1_795_600_000.0


def write_log(path: Path, **options) -> synthetic.Truth:
    with open(path, "w") as handle:
        return synthetic.generate(handle.write, **options)


def values(result) -> dict:
    return {m.key: m.value for m in result.measurements}


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """A 10-minute log at 200 requests/s in the rendered format, and its truth."""
    path = tmp_path_factory.mktemp("drawn") / "access.log"
    truth = write_log(path, rate=200, seconds=600, seed=7)
    return path, truth, measure_logs([str(path)])


# Tolerances: the measured value against the distribution it was drawn from.
QPS_TOLERANCE = 0.05        # p99 of per-second counts vs the Poisson(rate) p99
LATENCY_TOLERANCE = 0.03    # mean latency vs exp(mu + sigma^2/2)
SIZE_TOLERANCE = 0.05       # mean sizes vs the weighted sets' means (sampling: 120k and 12k draws)
CLIENTS_TOLERANCE = 0.02    # vs the exact peak computed from the generated connections


def test_every_measured_key_is_within_tolerance_of_the_truth(drawn):
    _, truth, result = drawn
    got = values(result)
    assert abs(got["expected_qps"] - truth.poisson_quantile(0.99)) <= QPS_TOLERANCE * truth.poisson_quantile(0.99)
    assert abs(got["app.latency_ms"] - truth.mean_latency_ms) <= LATENCY_TOLERANCE * truth.mean_latency_ms
    assert abs(got["avg_response_size"] - truth.mean_response_size) <= SIZE_TOLERANCE * truth.mean_response_size
    assert abs(got["avg_request_body_size"] - truth.mean_body_size) <= SIZE_TOLERANCE * truth.mean_body_size
    assert got["max_body_size"] == "879k"  # 900000 bytes, the largest body drawn, rounded up to whole k
    assert abs(got["clients"] - truth.peak_open_connections()) <= CLIENTS_TOLERANCE * truth.peak_open_connections()


def test_exact_facts_of_the_draw_are_exact(drawn):
    _, truth, result = drawn
    agg = result.aggregate
    assert dict(agg.per_second) == dict(truth.per_second)
    assert agg.latency.count == truth.upstream_requests
    assert agg.latency.total == truth.latency_ms_sum        # retries "0.005, 0.040" summed, "-" left out
    assert agg.no_upstream_time == truth.requests - truth.upstream_requests
    assert agg.response_size.total == truth.response_bytes_sum
    assert agg.request_body.count == truth.bodies and agg.max_body_accepted == truth.max_body
    assert agg.malformed == 0 and agg.lines == truth.requests


def test_quantiles_stay_within_the_histograms_stated_error():
    from confgen.measure.stats import Histogram

    rng = random.Random(3)
    drawn_values = [int(rng.lognormvariate(8, 2)) for _ in range(50_000)]
    hist = Histogram()
    for value in drawn_values:
        hist.add(value)
    ordered = sorted(drawn_values)
    for q in (0.5, 0.9, 0.99):
        exact = ordered[math.ceil(q * len(ordered)) - 1]
        assert abs(hist.quantile(q) - exact) <= max(1, exact / 128)
    assert hist.maximum == max(drawn_values) and hist.total == sum(drawn_values)


def test_profile_is_valid_and_commented(drawn, tmp_path):
    _, _, result = drawn
    profile_path = tmp_path / "measured.yaml"
    profile_path.write_text(result.profile_text)
    profile = load_profile(str(profile_path))
    assert profile.expected_qps == values(result)["expected_qps"]
    lines = result.profile_text.splitlines()
    qps_line = next(line for line in lines if line.startswith("expected_qps:"))
    assert "p99 of per-second counts over 120k requests" in qps_line and "max " in qps_line
    latency_line = next(line for line in lines if line.strip().startswith("latency_ms:"))
    assert "$upstream_response_time" in latency_line
    # The loop closes: the measured profile renders.
    files = confgen.render_profile(str(profile_path))
    assert "nginx.conf" in files


def test_base_profile_keeps_what_the_log_cannot_give(tmp_path):
    log = tmp_path / "access.log"
    write_log(log, rate=20, seconds=120, fmt="combined")
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"cpus": 8, "expected_qps": 1, "clients": 4321, "max_body_size": "5m",
                                    "avg_response_size": 1, "app": {"module": "shop.wsgi:application", "kind": "wsgi"}}))
    result = measure_logs([str(log)], profile=str(base))
    data = yaml.safe_load(result.profile_text)
    assert data["cpus"] == 8 and data["clients"] == 4321 and data["app"]["kind"] == "wsgi"
    assert data["expected_qps"] != 1 and data["avg_response_size"] != 1
    clients_line = next(line for line in result.profile_text.splitlines() if line.startswith("clients:"))
    assert "not measured" in clients_line and "$connection" in clients_line
    assert "add $connection $content_length $upstream_response_time to its log_format" in result.profile_text


def test_combined_format_says_which_variables_to_add(tmp_path):
    log = tmp_path / "access.log"
    write_log(log, rate=50, seconds=120, fmt="combined")
    result = measure_logs([str(log)])
    got = {m.key: m for m in result.measurements}
    assert result.aggregate.formats == {"combined": result.aggregate.lines}
    assert got["expected_qps"].value is not None and got["avg_response_size"].value is not None
    assert got["clients"].value is None and "$connection" in got["clients"].missing
    assert got["app.latency_ms"].value is None and "$upstream_response_time" in got["app.latency_ms"].missing


def test_merged_states_equal_one_run_over_every_log(tmp_path):
    hosts = []
    for host in range(3):
        path = tmp_path / f"host{host}.log"
        write_log(path, rate=30 + 10 * host, seconds=200, seed=host, start=START + 37 * host, host=host)
        hosts.append(str(path))
    one_run = measure_logs(hosts, workers=1)
    states = []
    for path in hosts:
        state_path = tmp_path / (Path(path).stem + ".state")
        measure_logs([path], save_state=str(state_path))
        states.append(str(state_path))
    merged = measure_logs(merge=states)
    assert merged.to_json() == one_run.to_json()
    assert merged.profile_text == one_run.profile_text
    from_cli = CliRunner().invoke(main, ["measure", "--merge", *states, "--format", "json"])
    assert from_cli.exit_code == 0 and json.loads(from_cli.output) == one_run.to_json()
    # ...and both cores give the same as one.
    assert measure_logs(hosts, workers=2).to_json() == one_run.to_json()


def test_out_of_order_lines_give_the_same_numbers(tmp_path):
    ordered = tmp_path / "ordered.log"
    write_log(ordered, rate=40, seconds=300)
    lines = ordered.read_text().splitlines(keepends=True)
    rng = random.Random(5)
    shuffled = []
    for start in range(0, len(lines), 500):  # workers log out of order within a few seconds
        window = lines[start:start + 500]
        rng.shuffle(window)
        shuffled.extend(window)
    mixed = tmp_path / "shuffled.log"
    mixed.write_text("".join(shuffled))
    a, b = measure_logs([str(ordered)]), measure_logs([str(mixed)])
    assert values(a) == values(b)


def test_clock_jump_is_a_gap_not_idle_seconds(tmp_path):
    log = tmp_path / "access.log"
    with open(log, "w") as handle:
        synthetic.generate(handle.write, rate=100, seconds=120, start=START, seed=1)
        synthetic.generate(handle.write, rate=100, seconds=120, start=START + 7200, seed=2)
    result = measure_logs([str(log)])
    assert values(result)["expected_qps"] >= 100  # 2 hours of zeros would make p99 ... still, and p50 0
    qps = next(m for m in result.measurements if m.key == "expected_qps")
    assert qps.distribution["p50"] >= 80
    assert any("not counted as idle" in w for w in result.warnings)


def test_mixed_formats_after_a_log_format_change(tmp_path):
    log = tmp_path / "access.log"
    with open(log, "w") as handle:
        synthetic.generate(handle.write, rate=50, seconds=100, start=START, fmt="combined", seed=1)
        synthetic.generate(handle.write, rate=50, seconds=100, start=START + 100, fmt="confgen", seed=2)
    result = measure_logs([str(log)])
    assert result.aggregate.malformed == 0
    assert set(result.aggregate.formats) == {"combined", "confgen"}
    assert values(result)["app.latency_ms"] is not None  # from the confgen part
    assert any("several formats" in w for w in result.warnings)


def test_upstream_time_lists_and_dashes():
    from confgen.measure.stats import milliseconds

    assert milliseconds(b"0.010, 0.020") == 30
    assert milliseconds(b"0.010 : 0.020") == 30
    assert milliseconds(b"-") is None
    assert milliseconds(b"0.004, -") == 4
    fmt = logformat.compile_format(logformat.LOG_FORMAT)
    line = (b'1.2.3.4 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 502 0 "-" "x" 1795600000.5 0.031 '
            b'"0.010, 0.020 : -" 120 "-" 5 1\n')
    (row,) = fmt.rows(line)
    assert dict(zip(fmt.fields, row))["upstream_response_time"] == b"0.010, 0.020 : -"


def test_truncated_gzip_reads_up_to_the_cut(tmp_path):
    plain = tmp_path / "access.log"
    truth = write_log(plain, rate=100, seconds=300)
    packed = gzip.compress(plain.read_bytes())
    cut = tmp_path / "access.log.2.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    result = measure_logs([str(cut)])
    assert any("truncated gzip" in w for w in result.warnings)
    read = sum(result.aggregate.per_second.values())
    assert 0.2 * truth.requests < read < truth.requests
    assert result.aggregate.malformed <= 1  # at most the line the cut went through


def test_rotated_set_is_read_oldest_first_and_whole(tmp_path):
    parts = []
    for index, age in enumerate((2, 1, 0)):
        path = tmp_path / ("access.log" + (f".{age}" if age else ""))
        text = io.StringIO()
        parts.append(synthetic.generate(text.write, rate=20, seconds=60, start=START + 60 * index, seed=index))
        data = text.getvalue().encode()
        if age == 2:
            path = tmp_path / "access.log.2.gz"
            data = gzip.compress(data)
        path.write_bytes(data)
    logs = [str(tmp_path / name) for name in ("access.log", "access.log.1", "access.log.2.gz")]
    result = measure_logs(logs)
    assert sum(result.aggregate.per_second.values()) == sum(t.requests for t in parts)
    assert [Path(s.path).name for s in result.summaries] == ["access.log.2.gz", "access.log.1", "access.log"]


def test_since_until_select_the_period(tmp_path):
    log = tmp_path / "access.log"
    truth = write_log(log, rate=50, seconds=600)
    since, until = int(START) + 100, int(START) + 200
    result = measure_logs([str(log)], since=str(since), until=str(until))
    expected = sum(n for s, n in truth.per_second.items() if since <= s < until)
    assert sum(result.aggregate.per_second.values()) == expected
    assert result.aggregate.outside_period == truth.requests - expected
    iso = measure_logs([str(log)], since="2026-11-25T09:48:20", until="2026-11-25T09:50:00")
    assert sum(iso.aggregate.per_second.values()) == expected


def test_malformed_lines_are_counted_then_refused_above_the_share(tmp_path):
    log = tmp_path / "access.log"
    write_log(log, rate=50, seconds=100)
    lines = log.read_text().splitlines(keepends=True)
    few = tmp_path / "few.log"
    few.write_text("".join(lines[:10] + ["garbage that is no log line\n"] + lines[10:]))
    result = measure_logs([str(few)])
    assert result.aggregate.malformed == 1
    assert any(f"{few}:11: 1 of" in w for w in result.warnings)
    many = tmp_path / "many.log"
    many.write_text("".join(line if i % 5 else "garbage\n" for i, line in enumerate(lines)))
    with pytest.raises(ConfgenError) as caught:
        measure_logs([str(many)])
    assert caught.value.lines[0].startswith(f"{many}:1: ")
    assert "unreadable" in caught.value.lines[0]


def test_nginx_conf_gives_the_format_through_includes_with_escape_json(tmp_path):
    log = tmp_path / "api.log"
    (tmp_path / "formats.conf").write_text(
        "log_format apijson escape=json '{\"t\":\"$msec\",\"s\":$status,\"rt\":\"$request_time\",'\n"
        "    '\"urt\":\"$upstream_response_time\",\"b\":$body_bytes_sent,\"ua\":\"$http_user_agent\"}';\n")
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n  include formats.conf;\n  keepalive_timeout 10s;\n  server {\n"
                    f"    listen 8080;\n    access_log {log} apijson;\n    access_log /var/log/other.log;\n  }}\n}}\n")
    lines = []
    for i in range(600):
        agent = 'evil\\"agent' if i % 7 == 0 else "ok"  # escape=json writes a quote as \"
        lines.append(f'{{"t":"{START + i / 10:.3f}","s":200,"rt":"0.050","urt":"0.040","b":{100 + i % 3},"ua":"{agent}"}}\n')
    log.write_text("".join(lines))
    result = measure_logs([str(log)], nginx_conf=str(conf))
    assert result.aggregate.malformed == 0 and result.aggregate.formats == {"apijson": 600}
    assert values(result)["app.latency_ms"] == 40.0
    assert values(result)["expected_qps"] == 10
    assert result.log_format.startswith("apijson (")
    with pytest.raises(ConfgenError, match="no access_log writes"):
        measure_logs([str(tmp_path / "elsewhere.log")], nginx_conf=str(conf))


def test_json_lines_without_a_config_are_read_by_key_names(tmp_path):
    log = tmp_path / "access.json"
    log.write_text("".join(
        json.dumps({"msec": f"{START + i / 5:.3f}", "status": "200", "upstream_response_time": "0.020",
                    "body_bytes_sent": 300, "connection": str(i // 10), "connection_requests": "1"}) + "\n"
        for i in range(1000)))
    result = measure_logs([str(log)])
    got = values(result)
    assert result.aggregate.formats == {"json": 1000}
    assert got["expected_qps"] == 5 and got["app.latency_ms"] == 20.0 and got["avg_response_size"] == 300


def test_log_format_string_option(tmp_path):
    log = tmp_path / "custom.log"
    log.write_text("".join(f"{START + i:.3f} 200 {i % 50} {0.01 * (i % 5):.3f}\n" for i in range(300)))
    result = measure_logs([str(log)], log_format="$msec $status $body_bytes_sent $request_time")
    assert result.aggregate.malformed == 0 and values(result)["expected_qps"] == 1


def test_cli_measure_prints_writes_and_explains(tmp_path):
    log = tmp_path / "access.log"
    write_log(log, rate=20, seconds=120)
    runner = CliRunner()
    printed = runner.invoke(main, ["measure", str(log)])
    assert printed.exit_code == 0 and "expected_qps:" in printed.output
    out = tmp_path / "measured.yaml"
    wrote = runner.invoke(main, ["measure", str(log), "-o", str(out), "--html", str(tmp_path / "r.html")])
    assert wrote.exit_code == 0 and load_profile(str(out)).expected_qps > 0
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    explained = runner.invoke(main, ["measure", str(log), "--explain"])
    assert explained.exit_code == 0 and explained.output.splitlines()[0].split()[:2] == ["key", "value"]
    machine = runner.invoke(main, ["measure", str(log), "--format", "json"])
    data = json.loads(machine.output)
    assert data["profile"]["expected_qps"] == values(measure_logs([str(log)]))["expected_qps"]


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["measure", str(tmp_path / "nope.log")])
    assert missing.exit_code == 2 and missing.output.strip() == f"{tmp_path / 'nope.log'}: no such file"
    garbage = tmp_path / "garbage.log"
    garbage.write_text("hello\nworld\n")
    bad = runner.invoke(main, ["measure", str(garbage)])
    assert bad.exit_code == 2 and bad.output.startswith(f"{garbage}:1: 2 of 2 lines")
    state = tmp_path / "x.state"
    state.write_text("{}")
    merged = runner.invoke(main, ["measure", "--merge", str(state)])
    assert merged.exit_code == 2 and "not a confgen measure state" in merged.output
    since = runner.invoke(main, ["measure", str(garbage), "--since", "yesterday"])
    assert since.exit_code == 2 and "--since yesterday: not a time" in since.output


def test_stdin_is_read_with_a_dash(tmp_path):
    log = tmp_path / "access.log"
    truth = write_log(log, rate=20, seconds=60)
    completed = subprocess.run([sys.executable, "-m", "confgen", "measure", "-", "--format", "json"],
                               input=log.read_bytes(), capture_output=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["requests"] == truth.requests


def test_memory_does_not_grow_with_lines(tmp_path):
    """The aggregate's size depends on seconds and distinct values, not on lines: 10x the lines
    over the same seconds adds no keys."""
    from confgen.measure import state

    def state_size(rate):
        text = io.StringIO()
        synthetic.generate(text.write, rate=rate, seconds=60, seed=1)
        path = tmp_path / f"rate-{rate}.log"
        path.write_text(text.getvalue())
        result = measure_logs([str(path)])
        return len(state.dumps(result.aggregate, [])), result.aggregate.lines

    small, small_lines = state_size(100)
    big, big_lines = state_size(1000)
    assert big_lines > 9 * small_lines
    assert big < 2 * small + 10_000  # distinct sizes and latencies saturate; lines do not count


def test_escape_default_quotes_and_iso_times(tmp_path):
    # escape=default writes a quote inside a value as \x22; $time_iso8601 carries its offset.
    fmt = '$remote_addr [$time_iso8601] "$http_user_agent" $status $body_bytes_sent $request_time'
    log = tmp_path / "iso.log"
    log.write_text("".join(
        f'10.0.0.1 [2026-11-25T10:{i // 60:02d}:{i % 60:02d}+01:00] "agent \\x22{i}\\x22 x" 200 {i} 0.0{i % 10}0\n'
        for i in range(600)))
    result = measure_logs([str(log)], log_format=fmt)
    assert result.aggregate.malformed == 0
    assert min(result.aggregate.per_second) == 1795597200  # 09:00:00 UTC
    assert values(result)["app.latency_ms"] == pytest.approx(45.0)
    assert "$request_time" in next(m.how for m in result.measurements if m.key == "app.latency_ms")


def test_progress_bar_shows_bytes_of_the_total():
    from confgen.measure.sources import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(200_000_000, stream=stream)
    bar.advance(50_000_000)
    assert bar.line() == f"measure: 50.0/200.0 MB [{'=' * 7:<30}]  25%"
    assert stream.getvalue().startswith("\r\033[Kmeasure: 50.0/200.0 MB")
    assert ProgressBar(None).line() == "measure: 0.0 MB read"


def test_json_lines_with_only_request_time(tmp_path):
    log = tmp_path / "access.json"
    log.write_text("".join(json.dumps({"time_iso8601": f"2026-11-25T10:00:{i % 60:02d}+00:00",
                                       "status": 200, "request_time": "0.030"}) + "\n" for i in range(120)))
    result = measure_logs([str(log)])
    assert values(result)["app.latency_ms"] == 30.0
    assert result.aggregate.no_upstream_time == 0
    assert values(result)["avg_response_size"] is None


def test_value_counts_of_sorted_and_unsorted_columns_equal_a_counter():
    from collections import Counter

    from confgen.measure.stats import value_counts

    rng = random.Random(7)
    sorted_seconds = tuple(sorted(str(1_700_000_000 + rng.randrange(30)).encode() for _ in range(500)))
    counts, is_sorted = value_counts(sorted_seconds, True)
    assert is_sorted and counts == Counter(sorted_seconds)
    shuffled = list(sorted_seconds)
    rng.shuffle(shuffled)
    counts, is_sorted = value_counts(tuple(shuffled), True)
    assert not is_sorted and counts == Counter(shuffled)
    # time_local strings do not sort like the times they name: never taken as sorted.
    assert value_counts(sorted_seconds, False) == (Counter(sorted_seconds), False)
    assert value_counts((), True) == ({}, True)
