"""chain-keepalive-race on the real stack: nginx with an upstream pool in front of standalone
uvicorn, started from the Procfile confgen reads. Where confgen reports the race (uvicorn's idle
timeout below the pool's), the app is seen closing idle pooled connections first: the side that
closes first holds TIME-WAIT (RFC 9293 3.6). With the timers in order, confgen is silent and only
nginx closes them. Timers are scaled down (1-4 s) so the test takes seconds."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import confgen
from conftest import require_binary

APP = '''async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
'''
NGINX = """daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
    upstream app {{ server 127.0.0.1:{app_port}; keepalive 8; keepalive_timeout {pool_idle}s; }}
    server {{
        listen 127.0.0.1:{nginx_port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
TIME_WAIT = "06"
POOL_IDLE_S = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def _closed_first(port: int) -> dict[str, int]:
    """TIME-WAIT connections to ``port``: held by the server (it closed first) or by its peer."""
    sides = {"server": 0, "peer": 0}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] != TIME_WAIT:
            continue
        if int(fields[1].split(":")[1], 16) == port:
            sides["server"] += 1
        elif int(fields[2].split(":")[1], 16) == port:
            sides["peer"] += 1
    return sides


def _get(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        return response.status


def _run(root: Path, keep_alive: int) -> tuple[list, dict[str, int]]:
    """Lint the tree, then run it: (chain-keepalive-race findings, who closed idle connections)."""
    nginx = require_binary("nginx")
    pytest.importorskip("uvicorn")
    app_port, nginx_port = _free_port(), _free_port()
    (root / "tmp").mkdir(parents=True)
    (root / "app.py").write_text(APP)
    (root / "nginx.conf").write_text(NGINX.format(root=root, app_port=app_port, nginx_port=nginx_port,
                                                  pool_idle=POOL_IDLE_S))
    command = f"uvicorn app:app --host 127.0.0.1 --port {app_port} --timeout-keep-alive {keep_alive}"
    (root / "Procfile").write_text(f"web: {command}\n")
    found = [f for f in confgen.lint_project([str(root / "nginx.conf")], nginx_version="1.22.1").findings
             if f.rule == "chain-keepalive-race"]
    words = shlex.split(command)
    app = subprocess.Popen([sys.executable, "-m", *words, "--no-access-log"], cwd=root,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([nginx, "-p", str(root), "-c", str(root / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        _wait_for(app_port, deadline)
        _wait_for(nginx_port, deadline)
        time.sleep(0.5)  # the probes' own connections settle into TIME-WAIT before counting
        before = _closed_first(app_port)
        with ThreadPoolExecutor(4) as pool:  # concurrent requests: several pooled idle connections
            statuses = list(pool.map(lambda _: _get(nginx_port), range(8)))
        assert statuses == [200] * 8
        time.sleep(POOL_IDLE_S + 2)  # past both idle timers: whoever closes first has closed
        after = _closed_first(app_port)
    finally:
        for process in (proxy, app):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return found, {side: after[side] - before[side] for side in after}


def test_where_confgen_reports_the_race_the_app_closes_first(tmp_path):
    found, closed = _run(tmp_path / "race", keep_alive=1)
    assert len(found) == 1 and "--timeout-keep-alive 1s" in found[0].message
    assert closed["server"] >= 1, closed


def test_with_the_timers_in_order_confgen_is_silent_and_nginx_closes_first(tmp_path):
    # uvicorn's idle timer well past nginx's, and the count taken before it could fire.
    found, closed = _run(tmp_path / "ordered", keep_alive=POOL_IDLE_S + 4)
    assert found == []
    assert closed["server"] == 0 and closed["peer"] >= 1, closed


@pytest.fixture(autouse=True)
def _root_for_nginx():
    if os.geteuid() != 0:
        pytest.skip("nginx's master here runs as root (like tests/test_render_real_stack.py)")
