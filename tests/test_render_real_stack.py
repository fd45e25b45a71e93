"""The reasons render writes, shown on the real stack: nginx and gunicorn started from the
rendered files (127.0.0.1 only), per worker class, with timeouts of 1-2 s set in the profile.

- A too-slow request: behind gthread, uvicorn's worker and gunicorn's asgi worker, gunicorn's
  ``timeout`` is a heartbeat, so nginx answers 504 after ``proxy_read_timeout`` (app.timeout_s)
  while the handler runs on to its end, and a request longer than gunicorn's timeout sent to
  gunicorn directly is answered. Behind the sync worker (which render never picks; the model in
  confgen/gunicorn/worker_timeouts.py holds it for lint and for anyone who switches), gunicorn
  aborts the worker at ``timeout`` and answers 500 itself, well before nginx's own limit.
- A client's own X-Forwarded-For/-Proto never reach the app (nginx is the edge).
- Upstream connections are reused (counted where the app accepts them).
- No 502 in the idle-gap race: nginx, not the app, closes idle pooled connections (the side
  that closes first holds TIME-WAIT). A control with the app's keepalive below nginx's shows
  the same measurement sees the app close first.
- Running requests finish when gunicorn reloads (graceful_timeout).

Skipped when nginx or the app servers are missing, unless CONFGEN_REQUIRE_NGINX=1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from confgen.gunicorn.worker_timeouts import timeout_model
from conftest import free_port, require_binary
from real_stack import (APP, NGINX_IDLE_S, TIMEOUT_S, WORKERS, comment, get, nginx_prefix, port_taken, render_for,
                        require_modules, setting_seconds, spawn, stack_profile, start_again_when_taken, start_nginx,
                        stop)

SLOW_S = TIMEOUT_S + 2        # a handler slower than every limit
UPSTREAM_ERRORS = ("prematurely closed", "reset by peer", "Broken pipe")
# Idle gaps around 1 s, 2 ms apart: where nginx closes idle pooled connections in the rendered
# pairing (and the app does in the control).
RACE_GAPS = [NGINX_IDLE_S + 0.002 * k for k in range(-2, 3)]
TIME_WAIT = "06"  # /proc/net/tcp's state code

@dataclasses.dataclass
class Stack:
    directory: Path
    files: dict[str, str]
    nginx_port: int
    app_port: int
    processes: list[subprocess.Popen]

    @property
    def marks(self) -> Path:
        return self.directory / "marks"

    def accepted(self) -> int:
        """Connections the app's workers have accepted so far."""
        return sum(p.stat().st_size for p in self.marks.glob("accepts-*"))

    def done(self, tag: str) -> bool:
        return (self.marks / f"done-{tag}").exists()

    def nginx_errors(self) -> str:
        path = self.directory / "nginx-error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def gunicorn_log(self) -> str:
        return (self.directory / "gunicorn.log").read_text(errors="replace")


def start_stack(directory: Path, worker: str, **options) -> Stack:
    """nginx + gunicorn from the files rendered for ``worker`` (options: :func:`_start_stack`),
    started again on other ports when another test took one between probing and binding."""
    return start_again_when_taken(lambda: _start_stack(directory, worker, **options), directory)


def _start_stack(directory: Path, worker: str, *, nginx_idle: int = NGINX_IDLE_S,
                 app_keepalive: int | None = None, profile_changes: dict | None = None,
                 client_keepalive: int | None = None) -> Stack | None:
    """``app_keepalive`` overrides gunicorn's keepalive on its command line (the misordered
    pairing), ``client_keepalive`` nginx's http-level keepalive_timeout (the misordered pairing
    with a balancer in front); ``profile_changes`` are merged into the test profile (``behind``,
    ``trusted_proxies``). None when a port was taken."""
    nginx = require_binary("nginx")
    kind, asgi_worker, forced, modules = WORKERS[worker]
    require_modules(modules)
    directory.mkdir(parents=True)
    (directory / "marks").mkdir()
    nginx_port, app_port = free_port(), free_port()
    profile = stack_profile(directory, kind, asgi_worker, nginx_port=nginx_port, app_port=app_port,
                            nginx_idle=nginx_idle)
    files = render_for({**profile, **(profile_changes or {})}, forced)
    (directory / "stackapp.py").write_text(APP)
    (directory / "gunicorn.conf.py").write_text(files["gunicorn.conf.py"])
    nginx_conf = files["nginx.conf"]
    if client_keepalive is not None:  # the http level's, four spaces in (the upstream's is eight)
        nginx_conf, replaced = re.subn(r"(?m)^    keepalive_timeout \d+s;.*$",
                                       f"    keepalive_timeout {client_keepalive}s;", nginx_conf)
        assert replaced == 1, nginx_conf
    conf = nginx_prefix(directory, nginx_conf)
    env = {**os.environ, "STACK_MARKS": str(directory / "marks"), "PYTHONPATH": str(directory)}
    extra = ["--keep-alive", str(app_keepalive)] if app_keepalive is not None else []
    processes = []
    stack = Stack(directory, files, nginx_port, app_port, processes)
    try:
        processes.append(spawn([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--error-logfile", "-",
                                *extra], directory / "gunicorn.log", cwd=directory, env=env))
        processes.append(start_nginx(nginx, directory, conf))
        deadline = time.monotonic() + 20
        if port_taken(list(zip(processes, (app_port, nginx_port))), [directory / "gunicorn.log",
                                                                     directory / "nginx.out"], deadline):
            stop_stack(stack)
            return None
        while get(nginx_port, "/", timeout=2)[0] != 200:
            for process in processes:
                if process.poll() is not None:
                    raise AssertionError(f"{process.args[0]} exited: {stack.gunicorn_log()[-2000:]}"
                                         f"{(directory / 'nginx.out').read_text()}")
            assert time.monotonic() < deadline, "the stack did not answer within 20 s"
            time.sleep(0.1)
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    stop(stack.processes)


@pytest.fixture(scope="module", params=list(WORKERS))
def stack(request, tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp(request.param) / "stack", request.param)
    yield running
    stop_stack(running)



def _worker_class(stack: Stack) -> str:
    return re.search(r"^worker_class = '([^']*)'", stack.files["gunicorn.conf.py"], re.M).group(1)



# ---------------------------------------------------------------------------------------------
# Who answers a too-slow request, with what, after how long


def test_a_too_slow_request_is_answered_as_the_reason_says(stack):
    nginx_conf, gunicorn_conf = stack.files["nginx.conf"], stack.files["gunicorn.conf.py"]
    kills = timeout_model(_worker_class(stack)).kills_slow_requests
    read_timeout = setting_seconds(nginx_conf, "proxy_read_timeout")
    results = {}

    def through_nginx():
        results["nginx"] = get(stack.nginx_port, f"/slow?s={SLOW_S}&tag=via-nginx")

    def straight_to_gunicorn():
        results["direct"] = get(stack.app_port, f"/slow?s={SLOW_S}&tag=direct")

    threads = [threading.Thread(target=through_nginx), threading.Thread(target=straight_to_gunicorn)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    time.sleep(max(0.0, started + SLOW_S + 0.7 - time.monotonic()))  # every handler that lives is done
    status, elapsed, body = results["nginx"]
    direct_status, direct_elapsed, direct_body = results["direct"]
    if kills:  # sync: gunicorn's timeout is the request limit, nginx waits longer
        assert read_timeout > TIMEOUT_S and "aborted (gunicorn answers 500)" in comment(gunicorn_conf, "timeout")
        assert "aborts a worker" in comment(nginx_conf, "proxy_read_timeout")
        # gunicorn's own error page (nginx's names nginx), passed on by nginx, from the worker
        # the master aborts: about once a second it checks heartbeats older than the timeout.
        assert status == 500 and b"Internal Server Error" in body and b"nginx" not in body, results
        assert TIMEOUT_S - 0.1 <= elapsed < min(read_timeout, TIMEOUT_S + 2.5), results
        assert direct_status == 500 and direct_body == body and direct_elapsed < TIMEOUT_S + 2.5, results
        assert not stack.done("via-nginx") and not stack.done("direct")
        assert "WORKER TIMEOUT" in stack.gunicorn_log()
    else:  # gunicorn's timeout is a heartbeat: nginx's read timeout is the request limit
        assert read_timeout == TIMEOUT_S
        assert "heartbeat" in comment(gunicorn_conf, "timeout")
        reason = comment(nginx_conf, "proxy_read_timeout")
        assert "504 from nginx" in reason and "handler runs on" in reason
        assert status == 504 and b"<center>nginx</center>" in body, results
        assert read_timeout - 0.1 <= elapsed < read_timeout + 1.0, results
        assert stack.done("via-nginx"), "the handler nginx gave up on should have run to its end"
        # Longer than gunicorn's timeout, straight to gunicorn: answered, nobody killed.
        assert direct_status == 200 and direct_elapsed >= SLOW_S - 0.1 and stack.done("direct"), results
        assert "WORKER TIMEOUT" not in stack.gunicorn_log()
    # A request within the limit is answered through nginx, whatever the class.
    assert get(stack.nginx_port, f"/slow?s={TIMEOUT_S / 4}&tag=quick")[0] == 200


# ---------------------------------------------------------------------------------------------
# What the app is told about the client


def test_a_clients_own_forwarded_headers_never_reach_the_app(stack):
    """nginx is the edge: X-Forwarded-For is $remote_addr and X-Forwarded-Proto $scheme, whatever
    the client sent; the app trusts nginx's (forwarded_allow_ips: loopback), so it would believe
    a forged one that got through, as the request straight to gunicorn shows."""
    nginx_conf = stack.files["nginx.conf"]
    assert "drop any client-sent X-Forwarded-For" in comment(nginx_conf, "proxy_set_header X-Forwarded-For")
    assert "a client's own X-Forwarded-Proto is not trusted" in comment(nginx_conf, "proxy_set_header X-Forwarded-Proto")
    assert "loopback" in comment(stack.files["gunicorn.conf.py"], "forwarded_allow_ips")
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    status, _, body = get(stack.nginx_port, "/whoami", headers=forged)
    assert status == 200 and body.decode().split() == ["127.0.0.1", "http", "http"], body
    status, _, body = get(stack.app_port, "/whoami", headers=forged)  # no nginx in between
    assert status == 200 and body.decode().split() == ["203.0.113.9", "https", "https"], body


# ---------------------------------------------------------------------------------------------
# Upstream keep-alive


def test_upstream_connections_are_reused(stack):
    if timeout_model(_worker_class(stack)).kills_slow_requests:
        pytest.skip("render never pairs the sync worker (which closes every connection) with a pool")
    before = stack.accepted()
    statuses = [get(stack.nginx_port, "/")[0] for _ in range(30)]
    assert statuses == [200] * 30
    # One nginx worker (cpus: 1), requests one after another: one upstream connection at most
    # (none when the probe's is still pooled), not one per request.
    assert stack.accepted() - before <= 1, stack.accepted() - before
    assert stack.accepted() >= 1, "no accept counted: the app's loop does not use socket.accept"


async def _post(port: int) -> str:
    """One POST (not idempotent: nginx does not retry it on another connection) on a fresh
    client connection, so only nginx's upstream side can race."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as error:
        return f"connect-error:{error.errno}"
    try:
        body = b'{"order": 1}'
        writer.write(b"POST /submit HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=10)
        await asyncio.wait_for(reader.read(), timeout=10)
        match = re.match(rb"HTTP/1\.[01] (\d{3})", line)
        return match.group(1).decode() if match else "no-response"
    except (OSError, asyncio.TimeoutError) as error:
        return type(error).__name__
    finally:
        writer.close()


def idle_gap_sweep(stack: Stack, gaps: list[float], clients: int = 8) -> dict[str, int]:
    """POST bursts, each after an idle gap: status -> count (the first, pool-filling burst too)."""
    async def scenario() -> list[str]:
        statuses = list(await asyncio.gather(*(_post(stack.nginx_port) for _ in range(clients))))
        for gap in gaps:
            await asyncio.sleep(gap)
            statuses += await asyncio.gather(*(_post(stack.nginx_port) for _ in range(clients)))
        return statuses

    counts: dict[str, int] = {}
    for status in asyncio.run(scenario()):
        counts[status] = counts.get(status, 0) + 1
    return counts


def closed_first_by(port: int) -> dict[str, set]:
    """TCP connections to ``port`` on 127.0.0.1 in TIME-WAIT, by who closed them first: the
    side that closes first holds TIME-WAIT (RFC 9293 3.6), the server on ``port`` or its peer."""
    sides: dict[str, set] = {"server": set(), "peer": set()}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state != TIME_WAIT:
            continue
        if int(local.split(":")[1], 16) == port:
            sides["server"].add((local, remote))
        elif int(remote.split(":")[1], 16) == port:
            sides["peer"].add((local, remote))
    return sides


def _new(before: dict[str, set], after: dict[str, set]) -> dict[str, int]:
    return {side: len(after[side] - before[side]) for side in after}


def test_no_502_in_the_idle_gap_race(stack):
    if timeout_model(_worker_class(stack)).kills_slow_requests:
        pytest.skip("the sync worker closes every connection: no pooled connection to race on")
    gunicorn_keepalive = int(re.search(r"^keepalive = (\d+)", stack.files["gunicorn.conf.py"], re.M).group(1))
    upstream = re.search(r"upstream stack \{[^}]*", stack.files["nginx.conf"]).group(0)
    assert gunicorn_keepalive > NGINX_IDLE_S == setting_seconds(upstream, "keepalive_timeout")
    assert "nginx closes idle connections first" in comment(stack.files["gunicorn.conf.py"], "keepalive")
    log_before = len(stack.nginx_errors())
    closed_before = closed_first_by(stack.app_port)
    # Around nginx's own idle close (where the control's app closes); then long enough for
    # nginx to close the last pool.
    counts = idle_gap_sweep(stack, RACE_GAPS)
    time.sleep(NGINX_IDLE_S + 0.5)
    closed = _new(closed_before, closed_first_by(stack.app_port))
    assert set(counts) == {"200"}, counts
    errors = stack.nginx_errors()[log_before:]
    assert not any(pattern in errors for pattern in UPSTREAM_ERRORS), errors
    # Every idle upstream connection that closed was closed by nginx, none by the app.
    assert closed["server"] == 0 and closed["peer"] >= 1, closed


def test_the_app_closing_first_is_seen(tmp_path):
    """The control: the app's keepalive (1 s) below nginx's idle timeout (3 s), the pairing
    render avoids. The same measurement then sees the app close idle pooled connections first
    (the race the rendered pairing cannot have); POSTs that meet one get 502."""
    stack = start_stack(tmp_path / "stack", "uvicorn", nginx_idle=3 * NGINX_IDLE_S, app_keepalive=NGINX_IDLE_S)
    try:
        closed_before = closed_first_by(stack.app_port)
        counts = idle_gap_sweep(stack, RACE_GAPS)
        time.sleep(NGINX_IDLE_S + 0.5)
        closed = _new(closed_before, closed_first_by(stack.app_port))
    finally:
        stop_stack(stack)
    assert closed["server"] >= 1, (closed, counts)


# ---------------------------------------------------------------------------------------------
# Reloads


def test_running_requests_finish_on_reload(stack):
    """graceful_timeout: on SIGHUP gunicorn starts new workers and lets the old ones finish
    what they run (up to graceful_timeout) instead of cutting it."""
    assert "let running requests finish on reload" in comment(stack.files["gunicorn.conf.py"], "graceful_timeout")
    results = {}
    request = threading.Thread(target=lambda: results.update(
        running=get(stack.nginx_port, f"/slow?s={TIMEOUT_S / 2}&tag=reload")))
    request.start()
    time.sleep(TIMEOUT_S / 8)
    os.kill(stack.processes[0].pid, signal.SIGHUP)  # the gunicorn master this test started
    request.join(timeout=30)
    status, elapsed, _ = results["running"]
    assert status == 200 and stack.done("reload"), results
    assert elapsed < TIMEOUT_S, results
    deadline = time.monotonic() + 10
    while "Hang up" not in stack.gunicorn_log() and "Handling signal: hup" not in stack.gunicorn_log():
        assert time.monotonic() < deadline, stack.gunicorn_log()[-2000:]
        time.sleep(0.1)
    assert get(stack.nginx_port, "/")[0] == 200  # the new workers serve
