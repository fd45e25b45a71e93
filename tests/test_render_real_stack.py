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
import http.client
import importlib.util
import os
import pwd
import re
import signal
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from confgen.render.checked import render_checked
from confgen.profile import sizing
from confgen.profile.loading import load_profile
from confgen.render.rendering import render_plan
from confgen.gunicorn.worker_timeouts import timeout_model
from conftest import REQUIRE_NGINX, free_port, owns_listener, require_binary

TIMEOUT_S = 2                 # app.timeout_s of the test profiles
NGINX_IDLE_S = 1              # nginx.upstream_keepalive_timeout of the test profiles
SLOW_S = TIMEOUT_S + 2        # a handler slower than every limit
UPSTREAM_ERRORS = ("prematurely closed", "reset by peer", "Broken pipe")
# Idle gaps around 1 s, 2 ms apart: where nginx closes idle pooled connections in the rendered
# pairing (and the app does in the control).
RACE_GAPS = [NGINX_IDLE_S + 0.002 * k for k in range(-2, 3)]
TIME_WAIT = "06"  # /proc/net/tcp's state code

# One app for every worker class: /slow sleeps, then leaves a mark (so a test sees whether the
# handler ran to its end); every accepted connection is counted in the worker process, at
# socket.accept, which gunicorn's sync and gthread workers and asyncio's loop all call.
APP = textwrap.dedent('''
    import asyncio, os, socket, time
    from urllib.parse import parse_qs

    MARKS = os.environ["STACK_MARKS"]
    _accept = socket.socket.accept

    def _counting_accept(self):
        accepted = _accept(self)
        with open(os.path.join(MARKS, f"accepts-{os.getpid()}"), "ab") as counter:
            counter.write(b"x")
        return accepted

    socket.socket.accept = _counting_accept

    def _mark(tag):
        open(os.path.join(MARKS, "done-" + tag), "w").close()

    def wsgi(environ, start_response):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        environ["wsgi.input"].read()
        body = b"ok"
        if environ["PATH_INFO"] == "/slow":
            time.sleep(float(query["s"][0]))
            _mark(query["tag"][0])
        elif environ["PATH_INFO"] == "/whoami":  # what the app is told, and what it makes of it
            body = " ".join([environ.get("HTTP_X_FORWARDED_FOR", "-"), environ.get("HTTP_X_FORWARDED_PROTO", "-"),
                             environ["wsgi.url_scheme"]]).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        while (await receive()).get("more_body"):
            pass
        query = parse_qs(scope["query_string"].decode())
        body = b"ok"
        if scope["path"] == "/slow":
            await asyncio.sleep(float(query["s"][0]))
            _mark(query["tag"][0])
        elif scope["path"] == "/whoami":
            headers = dict(scope["headers"])
            body = b" ".join([headers.get(b"x-forwarded-for", b"-"), headers.get(b"x-forwarded-proto", b"-"),
                              scope["scheme"].encode()])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
''')

WORKERS = {
    # id: (app kind, asgi_worker, worker class forced into the plan, modules it needs)
    "gthread": ("wsgi", "uvicorn", None, ["gunicorn"]),
    "uvicorn": ("asgi", "uvicorn", None, ["gunicorn", "uvicorn_worker"]),
    "asgi": ("asgi", "gunicorn", None, ["gunicorn"]),
    "sync": ("wsgi", "uvicorn", "sync", ["gunicorn"]),
}



def _require_modules(modules: list[str]) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        if REQUIRE_NGINX:
            pytest.fail(f"{', '.join(missing)} required (CONFGEN_REQUIRE_NGINX=1)")
        pytest.skip(f"{', '.join(missing)} not installed")


def stack_profile(tmp: Path, kind: str, asgi_worker: str, *, nginx_port: int, app_port: int,
                  nginx_idle: int = NGINX_IDLE_S) -> dict:
    return {
        "name": "stack", "cpus": 1, "expected_qps": 20, "clients": 20,
        "max_body_size": "1m", "avg_response_size": "1k",
        "app": {"module": f"stackapp:{kind}", "kind": kind, "asgi_worker": asgi_worker, "latency_ms": 10,
                "timeout_s": TIMEOUT_S, "bind": f"127.0.0.1:{app_port}"},
        "nginx": {"user": pwd.getpwuid(os.getuid()).pw_name, "pid": str(tmp / "nginx.pid"),
                  "error_log": str(tmp / "nginx-error.log"), "access_log": str(tmp / "access.log"),
                  "http_port": nginx_port, "ipv6": False, "upstream_keepalive_timeout": nginx_idle},
    }


def render_for(profile: dict, worker_class: str | None) -> dict[str, str]:
    """The rendered files, self-checked; with ``worker_class``, the plan as it is for that
    class (render never picks sync itself, so its self-check is not run)."""
    if worker_class is None:
        return render_checked(profile)[0]
    real = sizing.gunicorn_worker_class

    def forced(p):
        return sizing.Value(worker_class, "forced by the test")

    # The function, where the other sizing functions call it, and its entry in the table.
    sizing.gunicorn_worker_class = sizing.GUNICORN_VALUES["worker_class"] = forced
    try:
        return render_plan(sizing.plan(load_profile(profile)))
    finally:
        sizing.gunicorn_worker_class = sizing.GUNICORN_VALUES["worker_class"] = real


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


def get(port: int, path: str, timeout: float = 15, headers: dict | None = None) -> tuple[int | str, float, bytes]:
    """(status or the failure's name, seconds, body) of one GET on a fresh connection."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close", **(headers or {})})
        response = connection.getresponse()
        body = response.read()
        return response.status, time.monotonic() - started, body
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, time.monotonic() - started, b""
    finally:
        connection.close()


def start_stack(directory: Path, worker: str, **options) -> Stack:
    """nginx + gunicorn from the files rendered for ``worker`` (options: :func:`_start_stack`),
    started again on other ports when another test took one between probing and binding."""
    for _ in range(3):
        stack = _start_stack(directory, worker, **options)
        if stack is not None:
            return stack
        shutil.rmtree(directory)
    raise AssertionError("nginx or gunicorn could not take its port three times")


def _start_stack(directory: Path, worker: str, *, nginx_idle: int = NGINX_IDLE_S,
                 app_keepalive: int | None = None, profile_changes: dict | None = None,
                 client_keepalive: int | None = None) -> Stack | None:
    """``app_keepalive`` overrides gunicorn's keepalive on its command line (the misordered
    pairing), ``client_keepalive`` nginx's http-level keepalive_timeout (the misordered pairing
    with a balancer in front); ``profile_changes`` are merged into the test profile (``behind``,
    ``trusted_proxies``). None when a port was taken."""
    nginx = require_binary("nginx")
    kind, asgi_worker, forced, modules = WORKERS[worker]
    _require_modules(modules)
    directory.mkdir(parents=True)
    (directory / "marks").mkdir()
    nginx_port, app_port = free_port(), free_port()
    profile = stack_profile(directory, kind, asgi_worker, nginx_port=nginx_port, app_port=app_port,
                            nginx_idle=nginx_idle)
    files = render_for({**profile, **(profile_changes or {})}, forced)
    (directory / "stackapp.py").write_text(APP)
    (directory / "gunicorn.conf.py").write_text(files["gunicorn.conf.py"])
    conf = directory / "conf"
    conf.mkdir()
    nginx_conf = files["nginx.conf"]
    if client_keepalive is not None:  # the http level's, four spaces in (the upstream's is eight)
        nginx_conf, replaced = re.subn(r"(?m)^    keepalive_timeout \d+s;.*$",
                                       f"    keepalive_timeout {client_keepalive}s;", nginx_conf)
        assert replaced == 1, nginx_conf
    if os.geteuid() != 0:  # the compiled-in temp paths (/var/lib/nginx) are root's: only machine-bound lines
        temp = "".join(f"    {kind}_temp_path {directory / 'temp' / kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        nginx_conf = nginx_conf.replace("\nhttp {\n", "\nhttp {\n" + temp, 1)
        (directory / "temp").mkdir()
    (conf / "nginx.conf").write_text(nginx_conf)
    mime = Path("/etc/nginx/mime.types")
    (conf / "mime.types").write_text(mime.read_text() if mime.exists() else "types { text/plain txt; }\n")
    env = {**os.environ, "STACK_MARKS": str(directory / "marks"), "PYTHONPATH": str(directory)}
    extra = ["--keep-alive", str(app_keepalive)] if app_keepalive is not None else []
    processes = []
    stack = Stack(directory, files, nginx_port, app_port, processes)
    try:
        with open(directory / "gunicorn.log", "wb") as log:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--error-logfile", "-", *extra],
                cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        with open(directory / "nginx.out", "wb") as log:
            processes.append(subprocess.Popen(
                [nginx, "-p", f"{directory}/", "-c", str(conf / "nginx.conf"), "-g", "daemon off;"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 20
        if not all(owns_listener(process, port, deadline) for process, port in zip(processes, (app_port, nginx_port))):
            logs = stack.gunicorn_log() + (directory / "nginx.out").read_text(errors="replace")
            if "Address already in use" in logs or "Connection in use" in logs:
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
    for process in stack.processes:  # each in its own session: its workers go with it
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for process in stack.processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="module", params=list(WORKERS))
def stack(request, tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp(request.param) / "stack", request.param)
    yield running
    stop_stack(running)


def _comment(text: str, setting: str) -> str:
    match = re.search(rf"^\s*{re.escape(setting)}\b.*#\s*(.*)$", text, re.M)
    assert match, setting
    return match.group(1)


def _worker_class(stack: Stack) -> str:
    return re.search(r"^worker_class = '([^']*)'", stack.files["gunicorn.conf.py"], re.M).group(1)


def _seconds(text: str, setting: str) -> int:
    return int(re.search(rf"^\s*{re.escape(setting)} (\d+)s?\s*;?", text, re.M).group(1))


# ---------------------------------------------------------------------------------------------
# Who answers a too-slow request, with what, after how long


def test_a_too_slow_request_is_answered_as_the_reason_says(stack):
    nginx_conf, gunicorn_conf = stack.files["nginx.conf"], stack.files["gunicorn.conf.py"]
    kills = timeout_model(_worker_class(stack)).kills_slow_requests
    read_timeout = _seconds(nginx_conf, "proxy_read_timeout")
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
        assert read_timeout > TIMEOUT_S and "aborted (gunicorn answers 500)" in _comment(gunicorn_conf, "timeout")
        assert "aborts a worker" in _comment(nginx_conf, "proxy_read_timeout")
        # gunicorn's own error page (nginx's names nginx), passed on by nginx, from the worker
        # the master aborts: about once a second it checks heartbeats older than the timeout.
        assert status == 500 and b"Internal Server Error" in body and b"nginx" not in body, results
        assert TIMEOUT_S - 0.1 <= elapsed < min(read_timeout, TIMEOUT_S + 2.5), results
        assert direct_status == 500 and direct_body == body and direct_elapsed < TIMEOUT_S + 2.5, results
        assert not stack.done("via-nginx") and not stack.done("direct")
        assert "WORKER TIMEOUT" in stack.gunicorn_log()
    else:  # gunicorn's timeout is a heartbeat: nginx's read timeout is the request limit
        assert read_timeout == TIMEOUT_S
        assert "heartbeat" in _comment(gunicorn_conf, "timeout")
        reason = _comment(nginx_conf, "proxy_read_timeout")
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
    assert "drop any client-sent X-Forwarded-For" in _comment(nginx_conf, "proxy_set_header X-Forwarded-For")
    assert "a client's own X-Forwarded-Proto is not trusted" in _comment(nginx_conf, "proxy_set_header X-Forwarded-Proto")
    assert "loopback" in _comment(stack.files["gunicorn.conf.py"], "forwarded_allow_ips")
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
    assert gunicorn_keepalive > NGINX_IDLE_S == _seconds(upstream, "keepalive_timeout")
    assert "nginx closes idle connections first" in _comment(stack.files["gunicorn.conf.py"], "keepalive")
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
    assert "let running requests finish on reload" in _comment(stack.files["gunicorn.conf.py"], "graceful_timeout")
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
