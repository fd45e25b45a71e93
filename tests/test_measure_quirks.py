"""What real access logs hold besides well-formed requests, checked against an independent count
of the same lines: scanners' binary bytes (nginx writes them as \\xNN), request lines without a
protocol, an empty request ("-" on a 400), time zones west and east of UTC, and
$request_time/$upstream_response_time appended to combined."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from confgen.measure.measuring import measure_logs
from confgen.measure.routes import NOT_HTTP, route_of

START = datetime(2026, 11, 25, 9, 0, 0, tzinfo=timezone.utc)
REQUESTS = ('GET /api/items/{n} HTTP/1.1', 'POST /api/orders HTTP/2.0', 'GET /static/app.{h}.js HTTP/1.1',
            'GET /', '\\x16\\x03\\x01\\x00\\xF1\\x01\\x00\\x00\\xED\\x03\\x03', '-',
            'GET /users/3fa85f64-5717-4562-b3fc-2c963f66afa6/avatar?size=64 HTTP/1.1')


def quirky_log(path: Path, zone_hours: int, *, timed: bool, lines: int = 3000, seed: int = 1) -> list[tuple]:
    """Lines in combined (+ $request_time "$upstream_response_time" when ``timed``) with local
    times in the given zone; returns (utc second, status, size, request, latency ms) per line."""
    rng = random.Random(seed)
    zone = timezone(timedelta(hours=zone_hours))
    truth, out, moment = [], [], START
    for index in range(lines):
        moment += timedelta(milliseconds=rng.randint(0, 900))
        request = rng.choice(REQUESTS).format(n=rng.randint(1, 10**6), h=f"{rng.getrandbits(48):012x}")
        status = 400 if request[0] in "\\-" else rng.choice((200, 200, 200, 301, 404, 502))
        size = rng.randint(0, 50_000)
        local = moment.astimezone(zone).strftime("%d/%b/%Y:%H:%M:%S %z")
        line = f'203.0.113.{index % 250} - - [{local}] "{request}" {status} {size} "-" "Mozilla/5.0 (x)"'
        latency = None
        if timed:
            latency = rng.randint(1, 3000)
            upstream = "-" if status == 400 else f"{latency / 1000:.3f}"
            line += f' {(latency + 1) / 1000:.3f} "{upstream}"'
            latency = None if status == 400 else latency
        out.append(line + "\n")
        truth.append((int(moment.timestamp()), str(status), size, request, latency))
    path.write_text("".join(out))
    return truth


def test_combined_with_scanners_and_time_zones_counts_as_an_independent_count(tmp_path):
    for zone in (-5, 0, 9):
        log = tmp_path / f"zone{zone}.log"
        truth = quirky_log(log, zone, timed=False, seed=zone + 10)
        result = measure_logs([str(log)])
        agg = result.aggregate
        assert agg.malformed == 0 and agg.formats == {"combined": len(truth)}, zone
        assert dict(agg.per_second) == dict(Counter(second for second, *_ in truth)), zone
        assert dict(agg.statuses) == dict(Counter(status for _, status, *_ in truth)), zone
        assert agg.response_size.total == sum(size for _, _, size, *_ in truth), zone
        peak = max(Counter(second for second, *_ in truth).values())
        assert max(agg.per_second.values()) == peak


def test_request_time_appended_to_combined_gives_latency_and_in_flight(tmp_path):
    log = tmp_path / "timed.log"
    truth = quirky_log(log, 9, timed=True, seed=3)
    fmt = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
           '"$http_user_agent" $request_time "$upstream_response_time"')
    result = measure_logs([str(log)], log_format=fmt)
    agg = result.aggregate
    timed = [latency for *_, latency in truth if latency is not None]
    assert agg.malformed == 0 and agg.latency.count == len(timed) and agg.latency.total == sum(timed)
    assert agg.no_upstream_time == len(truth) - len(timed)
    # Ends known to the second only: said in the explanation.
    how = next(m.how for m in result.measurements if m.key == "in_flight")
    assert "add $msec" in how


def test_routes_of_what_scanners_and_apps_send():
    assert route_of(b"GET /api/items/123456") == "GET /api/items/{id}"
    assert route_of(b"GET /users/3fa85f64-5717-4562-b3fc-2c963f66afa6/avatar") == "GET /users/{id}/avatar"
    assert route_of(b"GET /static/app.0f3a9c2b11de.js") == "GET /static/app.0f3a9c2b11de.js"  # a name, kept
    assert route_of(b"GET /static/0f3a9c2b11de7788") == "GET /static/{id}"
    assert route_of(b"GET /") == "GET /"
    assert route_of(b"GET /api/items/7?full=1 HTTP/1.1") == "GET /api/items/{id}"  # JSON logs: the whole line
    assert route_of(b"GET http://example.com/a/1") == "GET /a/{id}"
    for junk in (b"\\x16\\x03\\x01\\x00\\xF1", b"-", b"", b"SSH-2.0-Go", b"get /lower"):
        assert route_of(junk) == NOT_HTTP, junk


def test_report_routes_of_the_quirky_log(tmp_path):
    log = tmp_path / "timed.log"
    truth = quirky_log(log, -5, timed=True, seed=4)
    fmt = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
           '"$http_user_agent" $request_time "$upstream_response_time"')
    agg = measure_logs([str(log)], log_format=fmt).aggregate
    expected = Counter(route_of(request.split(" HTTP/")[0].split("?")[0].encode()) for *_, request, _ in truth)
    assert dict(agg.route_requests) == dict(expected)
    assert agg.route_requests[NOT_HTTP] == sum(1 for *_, request, _ in truth if request[0] in "\\-")
