"""confgen measure on the inputs people have: pipes and FIFOs (no seeking), nginx's stock `main`
format, a file whose format changed, several --log-format, a --log-format that matches nothing,
and the message that shows where a refused line leaves the format."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from confgen.errors import ConfgenError
from confgen.measure import logformat
import synthetic_logs as synthetic
from confgen.measure.measuring import measure_logs

START = 1_795_600_000.0


def write_log(path: Path, **options) -> synthetic.Truth:
    with open(path, "w") as handle:
        return synthetic.generate(handle.write, **options)


def requests_of(result) -> int:
    return sum(result.aggregate.per_second.values())


def run_cli(*args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "confgen", "measure", *args], input=stdin,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inputs")
    log = tmp / "access.log"
    truth = write_log(log, rate=30, seconds=120, seed=5)
    packed = tmp / "access.log.gz"
    packed.write_bytes(gzip.compress(log.read_bytes()))
    return log, packed, truth


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_a_fifo_is_read_without_seeking(logged, tmp_path, packed):
    log, gz, truth = logged
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    payload = (gz if packed else log).read_bytes()

    def feed():
        with open(fifo, "wb") as writer:
            # a few bytes first: the format must be told from a short first read
            writer.write(payload[:1])
            writer.flush()
            writer.write(payload[1:])

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    result = measure_logs([str(fifo)])
    feeder.join(timeout=30)
    assert requests_of(result) == truth.requests and result.aggregate.malformed == 0


@pytest.mark.parametrize("source", ["-", "/dev/stdin"])
@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_stdin_plain_or_gzip_by_dash_or_dev_stdin(logged, source, packed):
    log, gz, truth = logged
    completed = run_cli(source, "--format", "json", stdin=(gz if packed else log).read_bytes())
    assert completed.returncode == 0, completed.stderr.decode()[-2000:]
    assert b"Traceback" not in completed.stderr
    assert json.loads(completed.stdout)["requests"] == truth.requests


def test_process_substitution_is_read(logged):
    _, gz, truth = logged
    completed = subprocess.run(["bash", "-c", f'"{sys.executable}" -m confgen measure <(zcat "{gz}") --format json'],
                               capture_output=True, timeout=60)
    assert completed.returncode == 0, completed.stderr.decode()[-2000:]
    assert json.loads(completed.stdout)["requests"] == truth.requests


def test_empty_stdin_is_one_clear_line():
    completed = run_cli("-", stdin=b"")
    assert completed.returncode == 2 and b"Traceback" not in completed.stderr
    assert len(completed.stderr.decode().strip().splitlines()) == 1


def test_nginx_stock_main_format_is_detected_and_named(tmp_path):
    log = tmp_path / "access.log"
    truth = write_log(log, rate=20, seconds=60, fmt="main", seed=3)
    detected = measure_logs([str(log)])
    assert detected.aggregate.formats == {"main": truth.requests} and detected.aggregate.malformed == 0
    named = measure_logs([str(log)], log_format="main")
    assert named.aggregate.formats == {"main": truth.requests}
    assert dict(named.aggregate.statuses) == dict(detected.aggregate.statuses)


def test_main_is_not_mistaken_for_combined_nor_the_reverse(tmp_path):
    combined = tmp_path / "combined.log"
    truth = write_log(combined, rate=20, seconds=30, fmt="combined", seed=4)
    assert measure_logs([str(combined)]).aggregate.formats == {"combined": truth.requests}


def test_refused_file_shows_where_the_line_leaves_the_format(tmp_path):
    plain = tmp_path / "main.log"
    write_log(plain, rate=20, seconds=30, fmt="main", seed=6)
    log = tmp_path / "access.log"  # main plus a field no known format has
    log.write_text("".join(line + ' rt=0.042 "upstream-7"\n' for line in plain.read_text().splitlines()))
    with pytest.raises(ConfgenError) as caught:
        measure_logs([str(log)])
    message = caught.value.lines[0]
    assert message.startswith(f"{log}:1: ")
    # The line is main up to the closing quote of $http_x_forwarded_for; shown is what follows.
    assert "main reads" in message and "expects the end of the line but finds ' rt=0.042 \"upstream-7\"'" in message
    first = plain.read_text().splitlines()[0]
    assert f"main reads {len(first)} bytes" in message


def test_mismatch_offset_is_where_the_line_stops_matching():
    combined = logformat.named_or_literal("combined")
    line = b'1.2.3.4 - - [10/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 2xx 12 "-" "curl"'
    offset, expected = combined.mismatch(line)
    assert line[offset:].startswith(b"2xx") and expected == "$status"
    assert combined.mismatch(line.replace(b"2xx", b"200") + b" extra")[1] == "the end of the line"


def test_three_formats_in_one_file_with_several_log_formats(tmp_path):
    custom_a = "$msec $status $body_bytes_sent $request_time"
    custom_b = "$time_iso8601|$status|$upstream_response_time|$body_bytes_sent"
    log = tmp_path / "access.log"
    with open(log, "w") as handle:
        truth = synthetic.generate(handle.write, rate=20, seconds=100, start=START, fmt="combined", seed=1)
        handle.write("".join(f"{START + 100 + i / 10:.3f} 200 {i % 50} 0.0{i % 5 + 1}0\n" for i in range(1000)))
        handle.write("".join(f"2026-11-25T10:{i // 60:02d}:{i % 60:02d}+00:00|404|0.030|{i}\n" for i in range(900)))
    lines = truth.requests + 1900
    with pytest.raises(ConfgenError, match="not in the log format"):
        measure_logs([str(log)])  # the known formats read the combined part only
    result = measure_logs([str(log)], log_format=[custom_a, custom_b])
    assert result.aggregate.malformed == 0 and result.aggregate.lines == lines
    formats = result.aggregate.formats
    assert formats["combined"] == truth.requests and sum(formats.values()) == lines
    assert result.aggregate.statuses["404"] == 900


def test_a_log_format_that_matches_no_line_fails_and_says_what_the_lines_are(tmp_path):
    log = tmp_path / "access.log"
    truth = write_log(log, rate=20, seconds=30, fmt="combined", seed=8)
    with pytest.raises(ConfgenError) as caught:
        measure_logs([str(log)], log_format="$msec $status $request_time")
    message = caught.value.lines[0]
    assert "matches no line" in message and f"combined ({truth.requests} lines)" in message
    assert f"{log}, first line: " in message
    # One of several that matches nothing is named too.
    with pytest.raises(ConfgenError, match="matches no line"):
        measure_logs([str(log)], log_format=["combined", "$msec $status $request_time"])
    assert requests_of(measure_logs([str(log)], log_format=["combined"])) == truth.requests


def test_cli_log_format_that_matches_nothing_is_one_line(tmp_path):
    log = tmp_path / "access.log"
    write_log(log, rate=20, seconds=30, fmt="combined", seed=8)
    completed = run_cli(str(log), "--log-format", "$msec $status $request_time")
    assert completed.returncode == 2 and b"Traceback" not in completed.stderr
    assert "matches no line" in completed.stderr.decode()


def test_nginx_conf_reads_every_log_format_it_defines(tmp_path):
    log = tmp_path / "api.log"
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\nhttp {\n"
                    "  log_format old '$msec $status $body_bytes_sent $request_time';\n"
                    "  log_format  main  '$remote_addr - $remote_user [$time_local] \"$request\" '\n"
                    "                    '$status $body_bytes_sent \"$http_referer\" '\n"
                    "                    '\"$http_user_agent\" \"$http_x_forwarded_for\"';\n"
                    f"  server {{\n    listen 8080;\n    access_log {log} main;\n  }}\n}}\n")
    with open(log, "w") as handle:
        handle.write("".join(f"{START - 100 + i / 10:.3f} 200 10 0.020\n" for i in range(500)))
        truth = synthetic.generate(handle.write, rate=20, seconds=60, start=START, fmt="main", seed=9)
    result = measure_logs([str(log)], nginx_conf=str(conf))
    assert result.aggregate.formats == {"old": 500, "main": truth.requests}


def test_log_format_as_click_passes_a_repeated_option(tmp_path):
    """`--log-format` with multiple=True gives a tuple, empty when the option is not given."""
    import confgen

    log = tmp_path / "access.log"
    truth = write_log(log, rate=20, seconds=30, fmt="main", seed=12)
    assert confgen.measure_logs([str(log)], log_format=()).aggregate.formats == {"main": truth.requests}
    with open(log, "a") as handle:
        more = synthetic.generate(handle.write, rate=20, seconds=30, start=START + 30, fmt="combined", seed=13)
    given = confgen.measure_logs([str(log)], log_format=("combined", "main"))
    assert given.aggregate.formats == {"main": truth.requests, "combined": more.requests}
    assert given.log_format == "combined, main"
