"""A real HAProxy (127.0.0.1) in front of the rendered nginx + gunicorn, with the timers scaled
down to seconds: the profile declares ``behind: {balancer: haproxy, idle_timeout_s: 3}`` and
HAProxy runs with ``timeout http-keep-alive 3s``.

- Rendered as confgen renders it (nginx's keepalive_timeout 3 + 15 s): keep-alive clients that
  pause up to just under HAProxy's idle timeout get only 200s, nginx closes none of HAProxy's
  connections (it would hold their TIME-WAIT), and HAProxy drops its idle ones itself, long
  before nginx's timer.
- The control, nginx's keepalive_timeout forced to 1 s (below HAProxy's 3 s: the race): the same
  measurement sees nginx close HAProxy's idle connections first. 502 counts are reported, not
  asserted: whether a request meets the close is timing.

HAProxy 2.6 keeps an idle server connection of a waiting client until the client's
``timeout http-keep-alive`` ends, and an orphaned one in the server's idle pool until the pool
is purged (``pool-purge-delay``, default 5 s, half the pool each interval; a lone idle connection
was measured to live about 3 intervals); here the delay is 1 s, so both stay under 3 s + a few.
Skipped when nginx, HAProxy or gunicorn are missing, unless CONFGEN_REQUIRE_NGINX=1.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

from conftest import free_port, require_binary
from test_render_real_stack import (
    TIMEOUT_S,
    closed_first_by,
    get,
    start_stack,
    stop_stack,
)

HAPROXY_IDLE_S = 3           # the profile's behind.idle_timeout_s = HAProxy's timeout http-keep-alive
POOL_PURGE_S = 1             # HAProxy's pool-purge-delay, so orphaned idle connections go within seconds
REQUEST_TIMEOUT_S = TIMEOUT_S + 3  # HAProxy's timeout server: above nginx's proxy_read_timeout (app.timeout_s)
CLIENTS = 8
ESTABLISHED = "01"           # /proc/net/tcp's state code
BEHIND = {"behind": {"balancer": "haproxy", "idle_timeout_s": HAPROXY_IDLE_S, "request_timeout_s": REQUEST_TIMEOUT_S},
          "trusted_proxies": ["127.0.0.1/32"]}

HAPROXY_CFG = """\
global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client {client}s
    timeout server {server}s
    timeout http-keep-alive {idle}s
    option forwardfor
frontend front
    bind 127.0.0.1:{port}
    default_backend nginx
backend nginx
    server nginx 127.0.0.1:{nginx_port} pool-purge-delay {purge}s
"""


def _start_haproxy(directory: Path, nginx_port: int) -> tuple[subprocess.Popen, int]:
    haproxy = require_binary("haproxy")
    port = free_port()
    config = directory / "haproxy.cfg"
    config.write_text(HAPROXY_CFG.format(client=HAPROXY_IDLE_S + 5, server=REQUEST_TIMEOUT_S, idle=HAPROXY_IDLE_S,
                                         port=port, nginx_port=nginx_port, purge=POOL_PURGE_S))
    with open(directory / "haproxy.out", "wb") as log:
        process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + 15
    while get(port, "/", timeout=2)[0] != 200:
        if process.poll() is not None:
            raise AssertionError((directory / "haproxy.out").read_text())
        assert time.monotonic() < deadline, "HAProxy did not answer within 15 s"
        time.sleep(0.1)
    return process, port


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


async def _exchange(reader, writer) -> str:
    body = b'{"order": 1}'
    writer.write(b"POST /submit HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    await asyncio.wait_for(reader.readexactly(int(length.group(1)) if length else 0), timeout=10)
    status = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return status.group(1).decode() if status else "no-response"


async def _keepalive_client(port: int, gaps: list[float]) -> list[str]:
    """One client on one connection to HAProxy: a POST, then one after each pause."""
    statuses = []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for gap in [0.0, *gaps]:
            await asyncio.sleep(gap)
            try:
                statuses.append(await _exchange(reader, writer))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
                statuses.append(type(error).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()
    return statuses


def _sweep(port: int, gaps: list[float]) -> dict[str, int]:
    async def scenario():
        return await asyncio.gather(*(_keepalive_client(port, gaps) for _ in range(CLIENTS)))

    counts: dict[str, int] = {}
    for statuses in asyncio.run(scenario()):
        for status in statuses:
            counts[status] = counts.get(status, 0) + 1
    return counts


def _established_at(port: int) -> int:
    """Open TCP connections whose server side is ``port`` on 127.0.0.1."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == ESTABLISHED and int(fields[1].split(":")[1], 16) == port:
            count += 1
    return count


def _run(tmp_path: Path, *, client_keepalive: int | None, gaps: list[float], settle_s: float):
    stack = start_stack(tmp_path / "stack", "uvicorn", profile_changes=BEHIND, client_keepalive=client_keepalive)
    haproxy = None
    try:
        haproxy, port = _start_haproxy(stack.directory, stack.nginx_port)
        before = closed_first_by(stack.nginx_port)
        counts = _sweep(port, gaps)
        # The clients have gone: wait (bounded) until HAProxy's connections to nginx are closed.
        deadline = time.monotonic() + settle_s
        while _established_at(stack.nginx_port) and time.monotonic() < deadline:
            time.sleep(0.2)
        open_left = _established_at(stack.nginx_port)
        after = closed_first_by(stack.nginx_port)
    finally:
        if haproxy is not None:
            _stop(haproxy)
        stop_stack(stack)
    closed = {side: len(after[side] - before[side]) for side in after}
    return stack, counts, closed, open_left


def test_haproxy_closes_its_idle_connections_before_the_rendered_nginx(tmp_path):
    # Pauses up to just under HAProxy's idle timeout: the longest an idle connection of a
    # waiting client is reused.
    gaps = [HAPROXY_IDLE_S - 1.5, HAPROXY_IDLE_S - 1, HAPROXY_IDLE_S - 0.6]
    stack, counts, closed, open_left = _run(tmp_path, client_keepalive=None, gaps=gaps,
                                            settle_s=HAPROXY_IDLE_S + 6 * POOL_PURGE_S + 2)
    keepalive = int(re.search(r"(?m)^    keepalive_timeout (\d+)s;", stack.files["nginx.conf"]).group(1))
    assert keepalive == HAPROXY_IDLE_S + 15
    assert "HAProxy keeps idle connections to nginx for 3s" in stack.files["nginx.conf"]
    assert counts == {"200": CLIENTS * (len(gaps) + 1)}, counts
    # nginx closed none of HAProxy's connections first (it would hold their TIME-WAIT) ...
    assert closed["server"] == 0, closed
    # ... and HAProxy closed every idle one itself, within seconds: nginx's timer (18 s) had not run out.
    assert open_left == 0, open_left


def test_nginx_below_haproxys_idle_timeout_closes_first(tmp_path):
    """The control: the misordered pairing render avoids. nginx (1 s) closes connections HAProxy
    (3 s) still holds for reuse."""
    nginx_idle = 1
    gaps = [nginx_idle + 0.3, nginx_idle + 0.8, HAPROXY_IDLE_S - 0.5]
    _, counts, closed, _ = _run(tmp_path, client_keepalive=nginx_idle, gaps=gaps, settle_s=0)
    assert closed["server"] >= 1, (closed, counts)
    print(f"control: statuses {counts}, TIME-WAIT by side {closed}")
