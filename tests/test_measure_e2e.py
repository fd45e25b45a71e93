"""End to end: real nginx writes the rendered `confgen` log_format in front of a gunicorn app of
known latency, wrk drives load for a few seconds, and `confgen measure` on that log recovers the
QPS wrk reported (within 10 %) and the latency the app measured itself.

Skipped when nginx, wrk or gunicorn is missing, except under CONFGEN_REQUIRE_NGINX=1.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import free_port, require_binary
from confgen.profile.log_format import LOG_FORMAT, LOG_FORMAT_NAME

APP_SLEEP_S = 0.02
WRK_SECONDS = 5
WRK_CONNECTIONS = 8

APP = f'''
import os, time

LOG = os.environ["APP_TIMES"]

def application(environ, start_response):
    started = time.perf_counter()
    time.sleep({APP_SLEEP_S})
    body = b"x" * 700
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    with open(LOG, "a") as handle:  # the app's own view of its handler time
        handle.write(f"{{time.perf_counter() - started:.6f}}\\n")
    return [body]
'''



def _nginx_conf(tmp: Path, port: int, app_socket: Path) -> str:
    user = ""
    if os.geteuid() == 0:  # as root, workers must stay root to reach the app socket in tmp
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    quoted_format = LOG_FORMAT.replace("'", "\\'")
    temp = "\n".join(f"    {name}_temp_path {tmp / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
daemon off;
worker_processes 1;
pid {tmp / 'nginx.pid'};
error_log {tmp / 'error.log'};
{user}
events {{ worker_connections 256; }}
http {{
{temp}
    log_format {LOG_FORMAT_NAME} '{quoted_format}';
    keepalive_timeout 30s;
    upstream app {{ server unix:{app_socket}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        access_log {tmp / 'access.log'} {LOG_FORMAT_NAME};
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }}
    }}
}}
"""


def _wait_http(port: int, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if conn.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("nginx + gunicorn did not answer within 20 s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def test_measure_recovers_wrk_qps_and_app_latency(tmp_path):
    nginx = require_binary("nginx")
    wrk = require_binary("wrk")
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        if os.environ.get("CONFGEN_REQUIRE_NGINX") == "1":
            pytest.fail("gunicorn is required (CONFGEN_REQUIRE_NGINX=1)")
        pytest.skip("gunicorn is not installed")
    (tmp_path / "e2e_app.py").write_text(APP)
    app_socket = tmp_path / "app.sock"
    app_times = tmp_path / "app-times.txt"
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(_nginx_conf(tmp_path, port, app_socket))
    env = {**os.environ, "APP_TIMES": str(app_times)}
    app = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gthread", "--workers", "2", "--threads", "8",
         "--bind", f"unix:{app_socket}", "--chdir", str(tmp_path), "--error-logfile", str(tmp_path / "gunicorn.log"),
         "e2e_app:application"], env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        server = subprocess.Popen([nginx, "-p", f"{tmp_path}/", "-c", str(conf), "-e", str(tmp_path / "error.log")],
                                  start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_http(port)
        # Only wrk's requests are measured: the readiness probes are cut off with --since.
        (tmp_path / "access.log").write_text("")
        app_times.write_text("")
        since = time.time()
        load = subprocess.run([wrk, "-t", "2", "-c", str(WRK_CONNECTIONS), "-d", f"{WRK_SECONDS}s",
                               f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=120)
        assert load.returncode == 0, load.stderr
        time.sleep(0.5)  # nginx writes each line as its request ends
    finally:
        if server is not None:
            _stop(server)
        _stop(app)
    wrk_qps = float(re.search(r"Requests/sec:\s*([\d.]+)", load.stdout).group(1))
    wrk_requests = int(re.search(r"(\d+) requests in", load.stdout).group(1))
    app_ms = [float(line) * 1000 for line in app_times.read_text().split()]

    completed = subprocess.run(
        [sys.executable, "-m", "confgen", "measure", str(tmp_path / "access.log"), "--nginx-conf", str(conf),
         "--since", str(int(since)), "--format", "json", "--save-state", str(tmp_path / "state.json")],
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    by_key = {m["key"]: m for m in report["measurements"]}
    per_second = by_key["expected_qps"]["distribution"]

    # Every request wrk completed is in the log (plus the few in flight when wrk stopped).
    assert wrk_requests <= report["requests"] <= wrk_requests + 2 * WRK_CONNECTIONS
    # The per-second counts (from the saved state) of the whole seconds wrk ran are wrk's rate;
    # the first and last seconds are partial.
    counts = [n for _, n in sorted(json.loads((tmp_path / "state.json").read_text())["per_second"])][1:-1]
    measured_rate = sum(counts) / len(counts)
    assert abs(measured_rate - wrk_qps) <= 0.10 * wrk_qps, (counts, wrk_qps)
    assert by_key["expected_qps"]["value"] >= 0.9 * wrk_qps  # p99 of the seconds: at least the rate
    # The app's latency: what the app timed itself, plus gunicorn's small share.
    app_mean = sum(app_ms) / len(app_ms)
    measured = by_key["app.latency_ms"]["value"]
    assert APP_SLEEP_S * 1000 <= measured
    assert abs(measured - app_mean) <= 0.10 * app_mean + 3, (measured, app_mean)
    # Client connections: wrk's, kept open for the whole run.
    assert WRK_CONNECTIONS <= by_key["clients"]["value"] <= WRK_CONNECTIONS + 4
    assert report["malformed"] == 0
    print(f"wrk {wrk_qps:.0f} req/s, {wrk_requests} requests; measured {measured_rate:.0f} req/s (p50 "
          f"{per_second['p50']}, p99 {per_second['p99']}); "
          f"{report['requests']} requests; latency {measured} ms vs app {app_mean:.1f} ms")
