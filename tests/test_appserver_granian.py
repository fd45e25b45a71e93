"""granian read statically (confgen.appserver.granian): its flags and ``GRANIAN_*`` variables,
its defaults checked against the installed granian's own source, every file a command lives in
through the pipeline, the keep-alive race it runs against nginx's pool, and, on the real stack,
granian closing an idle connection after its HTTP/1 header read timeout."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import confgen
from confgen.appserver import granian
from confgen.appserver.commands import find_server
from confgen.appserver.reading import read_server
from conftest import free_port, owns_listener, quiet_port, require_binary, scratch_nginx_conf
from test_chain_real_stack import POOL
from test_chain import MANIFEST, POOLED, write

ASGI_APP = '''async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
'''


def read(args: str, environ: dict | None = None):
    return granian.read(args.split(), environ or {}, "Procfile:1", "Procfile", 1)


def races(path: Path, **kwargs) -> list:
    result = confgen.lint_project([str(path)], nginx_version="1.22.1", **kwargs)
    return [f for f in result.findings if f.rule == "chain-keepalive-race"]


# ---------------------------------------------------------------------------------------------
# Reading


def test_flags():
    server = read("--interface asgi --host 0.0.0.0 --port 9000 --http1-header-read-timeout 20000 "
                  "--workers 4 --backpressure 64 main:app")
    assert server.binds == ["0.0.0.0:9000"]
    assert (server.idle.value, server.idle.setting, server.idle.unit) == (20.0, "--http1-header-read-timeout", "ms")
    assert server.idle.source == "Procfile:1 (--http1-header-read-timeout)"
    assert {name: server.settings[name].value for name in ("workers", "backpressure", "interface")} == \
        {"workers": "4", "backpressure": "64", "interface": "asgi"}
    hop = server.hop()
    assert hop.kind == "granian" and hop.idle_from_previous.seconds == 20.0
    assert hop.idle_from_previous.describe() == \
        "--http1-header-read-timeout 20000ms = 20s (Procfile:1 (--http1-header-read-timeout))"


@pytest.mark.parametrize("args, binds", [
    ("main:app", ["127.0.0.1:8000"]),
    ("--port=9001 main:app", ["127.0.0.1:9001"]),
    ("--host :: main:app", ["[::]:8000"]),
    ("--host 0.0.0.0 --port 9000 --uds /run/app.sock main:app", ["unix:/run/app.sock"]),   # the socket wins
    ("--port eighty main:app", []),                                                           # refused: unknown
])
def test_binds(args, binds):
    assert read(args).binds == binds


def test_defaults_with_their_source():
    server = read("--interface asgi main:app")
    assert (server.idle.value, server.idle.ceiling, server.binds) == (30.0, 60.0, ["127.0.0.1:8000"])
    assert "granian/http.py" in server.idle.source and "header_read_timeout = 30_000" in server.idle.source
    assert server.keeps_alive and server.notes == []


def test_the_defaults_are_those_of_the_installed_granian():
    """What confgen takes for granian's defaults, flags and variables is what granian's CLI says."""
    cli = pytest.importorskip("granian.cli").cli
    from granian.http import HTTP1Settings

    params = {param.name: param for param in cli.params}
    assert HTTP1Settings.header_read_timeout == granian.DEFAULT_HEADER_READ_TIMEOUT_MS
    assert params["http1_header_read_timeout"].type.max == granian.MAX_HEADER_READ_TIMEOUT_MS
    assert (params["host"].default, params["port"].default) == (granian.DEFAULT_HOST, granian.DEFAULT_PORT)
    assert params["http1_keep_alive"].default is True
    for flag, spec in granian.OPTIONS.items():
        # Each flag is one of granian's, and GRANIAN_<NAME> is its variable (auto_envvar_prefix).
        assert flag in params[spec.name].opts + params[spec.name].secondary_opts, flag


def test_environment_variables():
    server = read("--interface asgi main:app", {"GRANIAN_HTTP1_HEADER_READ_TIMEOUT": "5000", "GRANIAN_PORT": "9000",
                                               "GRANIAN_HOST": "0.0.0.0", "UVICORN_PORT": "1"})
    assert (server.idle.value, server.idle.setting, server.binds) == (5.0, "GRANIAN_HTTP1_HEADER_READ_TIMEOUT",
                                                                      ["0.0.0.0:9000"])
    assert read("--uds /run/a.sock main:app", {"GRANIAN_PORT": "9000"}).binds == ["unix:/run/a.sock"]
    assert read("main:app", {"GRANIAN_UDS": "/run/b.sock"}).binds == ["unix:/run/b.sock"]
    # The flag wins over the variable; an empty variable is unset (click).
    flag_wins = read("--http1-header-read-timeout 7000 main:app", {"GRANIAN_HTTP1_HEADER_READ_TIMEOUT": "5000"})
    assert flag_wins.idle.value == 7
    assert read("main:app", {"GRANIAN_HTTP1_HEADER_READ_TIMEOUT": ""}).idle.value == 30


@pytest.mark.parametrize("args, environ, keeps_alive", [
    ("--no-http1-keep-alive main:app", {}, False),
    ("main:app", {"GRANIAN_HTTP1_KEEP_ALIVE": "false"}, False),
    ("main:app", {"GRANIAN_HTTP1_KEEP_ALIVE": "Off"}, False),
    ("main:app", {"GRANIAN_HTTP1_KEEP_ALIVE": "1"}, True),
    ("--http1-keep-alive main:app", {"GRANIAN_HTTP1_KEEP_ALIVE": "false"}, True),
])
def test_keep_alive_switched_off_means_no_idle_timer(args, environ, keeps_alive):
    hop = read(args, environ).hop()
    assert (hop.idle_from_previous is not None) == keeps_alive


@pytest.mark.parametrize("args, environ, why", [
    ("--http1-header-read-timeout 60001 main:app", {}, "--http1-header-read-timeout"),   # granian refuses it
    ("--http1-header-read-timeout 0 main:app", {}, "--http1-header-read-timeout"),
    ("--http1-header-read-timeout 5s main:app", {}, "--http1-header-read-timeout"),
    ("main:app", {"GRANIAN_HTTP1_HEADER_READ_TIMEOUT": None}, "GRANIAN_HTTP1_HEADER_READ_TIMEOUT"),  # a Secret
    ("main:app", {"GRANIAN_HTTP1_KEEP_ALIVE": "maybe"}, "GRANIAN_HTTP1_KEEP_ALIVE"),
    ("--http 3 main:app", {}, "--http"),
])
def test_what_granian_would_refuse_or_cannot_be_read_is_unknown(args, environ, why):
    server = read(args, environ)
    assert server.idle is None and server.hop().idle_from_previous is None
    assert len(server.notes) == 1 and why in server.notes[0]


def test_http2_only_has_no_http1_idle_time():
    server = read("--http 2 main:app")
    assert server.idle is None and "HTTP/2 only" in server.notes[0]
    assert read("--http 1 main:app").idle.value == 30


@pytest.mark.parametrize("words, start", [
    (["granian", "--interface", "asgi", "main:app"], 1),
    (["/venv/bin/python3", "-m", "granian", "main:app"], 3),
])
def test_which_commands_start_granian(words, start):
    assert find_server(words) == ("granian", start)
    assert read_server("granian", words[start:], label="x", file=None).server == "granian"


# ---------------------------------------------------------------------------------------------
# Behind nginx: the pipeline from every file a command lives in


def test_nginx_default_pool_races_granians_default(tmp_path):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=""),
                     "Procfile": "web: granian --interface asgi --port 8000 main:app\n"})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    [race] = [f for f in result.findings if f.rule == "chain-keepalive-race"]
    assert (race.file, race.line) == (str(tmp_path / "nginx.conf"), 1)
    assert "keepalive_timeout 60s" in race.message and "--http1-header-read-timeout 30000ms = 30s" in race.message
    # granian cannot be raised past nginx's 60 s: the advice moves nginx, never asks granian for more.
    assert "at most --http1-header-read-timeout 60000ms = 60s, so lower keepalive_timeout below 30s" in race.message
    # Read as granian, not as a gunicorn command: no gunicorn rule speaks.
    gunicorn_rules = {"sync-worker-keepalive", "header-limits-mismatch", "app-keepalive-race"}
    assert not {f.rule for f in result.findings} & gunicorn_rules
    assert any("paired granian" in note for note in result.notes)


@pytest.mark.parametrize("extra, command, advice", [
    (" keepalive_timeout 25s;", "granian --interface asgi main:app", None),     # the fix: nginx lets go first
    ("", "granian --interface asgi --http1-header-read-timeout 60000 main:app", "lower keepalive_timeout"),
    (" keepalive_timeout 20s;", "granian --interface asgi --http1-header-read-timeout 10000 main:app",
     "raise --http1-header-read-timeout above 20000ms = 20s"),
    (" keepalive_timeout 20s;", "granian --interface asgi --http1-header-read-timeout 45000 main:app", None),
    ("", "python -m granian --interface asgi --no-http1-keep-alive main:app", None),       # one request per connection
    ("", "granian --interface asgi --port 9000 main:app", None),                            # another port: another app
])
def test_granian_behind_nginx(tmp_path, extra, command, advice):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=extra), "Procfile": f"web: {command}\n"})
    found = races(tmp_path / "nginx.conf")
    assert bool(found) == bool(advice), found
    if advice:
        assert advice in found[0].message


@pytest.mark.parametrize("command, says", [
    ("granian --interface asgi --no-http1-keep-alive main:app", "drop --no-http1-keep-alive"),
    ("GRANIAN_HTTP1_KEEP_ALIVE=false granian --interface asgi main:app", "unset GRANIAN_HTTP1_KEEP_ALIVE"),
    ("granian --interface asgi main:app", None),                 # keeps connections: the pool warning
])
def test_no_pool_in_front_of_granian_without_keep_alive_is_a_note(tmp_path, command, says):
    # As behind gunicorn's sync worker (issue 25): a pool alone is never reused there.
    nginx = "events {}\nhttp { server { listen 80; location / { proxy_pass http://127.0.0.1:8000; } } }\n"
    write(tmp_path, {"nginx.conf": nginx, "Procfile": f"web: {command}\n"})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    pool = [f for f in result.findings if f.rule == "proxy-pass-no-upstream"]
    notes = [n for n in result.notes if "which is right for now" in n]
    if says is None:
        assert len(pool) == 1 and not notes
    else:
        assert not pool and len(notes) == 1 and says in notes[0] and "Connection: close" in notes[0], notes


@pytest.mark.parametrize("prefix, racing", [
    ("", False),                                                   # granian's 30 s outlasts nginx's 20 s
    ("GRANIAN_HTTP1_HEADER_READ_TIMEOUT=10000 ", True),
    ("env GRANIAN_HTTP1_HEADER_READ_TIMEOUT=10000 ", True),
    ("GRANIAN_HTTP1_HEADER_READ_TIMEOUT=$IDLE ", False),           # computed by the shell: unknown, silent
])
def test_variables_the_command_line_sets(tmp_path, prefix, racing):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=" keepalive_timeout 20s;"),
                     "Procfile": f"web: {prefix}granian --interface asgi main:app\n"})
    found = races(tmp_path / "nginx.conf")
    assert bool(found) == racing, found
    if racing:
        assert "GRANIAN_HTTP1_HEADER_READ_TIMEOUT 10000ms = 10s" in found[0].message


DOCKERFILE = """FROM python:3.12 AS build
ENV GRANIAN_HTTP1_HEADER_READ_TIMEOUT=5000
RUN pip install granian
FROM {base}
ENV GRANIAN_PORT=8000 {env}
CMD ["granian", "--interface", "asgi", "--host", "0.0.0.0", "main:app"]
"""


@pytest.mark.parametrize("base, env, racing", [
    ("python:3.12-slim", "GRANIAN_HTTP1_HEADER_READ_TIMEOUT=10000", True),
    ("python:3.12-slim", "", False),         # the build stage's ENV is not in the image that runs
    ("build", "", True),                     # a stage built FROM it keeps its ENV: 5 s
    ("python:3.12-slim", "GRANIAN_HTTP1_HEADER_READ_TIMEOUT=${IDLE}", False),
])
def test_dockerfile_env(tmp_path, base, env, racing):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=" keepalive_timeout 20s;"),
                     "Dockerfile": DOCKERFILE.format(base=base, env=env)})
    assert bool(races(tmp_path / "nginx.conf")) == racing


COMPOSE_NGINX = """events {}
http {
    upstream api { server api:8000; keepalive 16; keepalive_timeout 20s; }
    server {
        listen 80;
        location / { proxy_pass http://api; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
"""


@pytest.mark.parametrize("environment, racing", [
    ('    environment:\n      GRANIAN_HTTP1_HEADER_READ_TIMEOUT: "10000"\n', True),
    ("    environment:\n      - GRANIAN_HTTP1_HEADER_READ_TIMEOUT=10000\n", True),
    ("    environment:\n      - GRANIAN_HTTP1_HEADER_READ_TIMEOUT\n", False),          # the host's: unknown
    ("    environment:\n      GRANIAN_HTTP1_HEADER_READ_TIMEOUT: ${IDLE:-10000}\n", False),
    ("", False),
])
def test_compose_environment(tmp_path, environment, racing):
    compose = ("services:\n  nginx:\n    image: nginx:1.27\n  api:\n"
               "    command: granian --interface asgi --host 0.0.0.0 api.main:app\n" + environment)
    write(tmp_path, {"nginx.conf": COMPOSE_NGINX, "docker-compose.yml": compose})
    found = races(tmp_path / "nginx.conf")
    assert bool(found) == racing, found
    if racing:
        assert found[0].line == 3 and "GRANIAN_HTTP1_HEADER_READ_TIMEOUT 10000ms = 10s" in found[0].message


@pytest.mark.parametrize("environment, racing", [
    ('environment=GRANIAN_HTTP1_HEADER_READ_TIMEOUT="10000",OTHER=x\n', True),
    ("environment=GRANIAN_HTTP1_HEADER_READ_TIMEOUT=%(ENV_IDLE)s\n", False),     # supervisor expands it: unknown
])
def test_supervisor_environment(tmp_path, environment, racing):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=" keepalive_timeout 20s;"),
                     "api.conf": "[program:api]\ncommand=granian --interface asgi main:app\n" + environment})
    assert bool(races(tmp_path / "nginx.conf")) == racing


def test_systemd_environment_sets_the_port(tmp_path):
    write(tmp_path, {"nginx.conf": POOLED.format(port=9000, extra=""),
                     "app.service": "[Service]\nEnvironment=GRANIAN_PORT=9000 GRANIAN_INTERFACE=asgi\n"
                                    "ExecStart=/srv/venv/bin/granian main:app\n"})
    [race] = races(tmp_path / "nginx.conf")
    assert "granian" in race.message


@pytest.mark.parametrize("container, racing", [
    ('          command: ["granian", "--interface", "asgi", "--host", "0.0.0.0", "app:app"]\n', True),
    ('          command: ["granian", "--interface", "asgi", "--host", "0.0.0.0", "app:app"]\n'
     "          env:\n            - name: GRANIAN_HTTP1_HEADER_READ_TIMEOUT\n"
     "              valueFrom: {secretKeyRef: {name: tuning, key: idle}}\n", False),     # a Secret: unknown
    ('          command: ["sh", "-c", "exec granian --interface asgi --host 0.0.0.0 --no-http1-keep-alive app:app"]\n',
     False),
])
def test_kubernetes_container(tmp_path, container, racing):
    write(tmp_path, {"k8s/app.yaml": MANIFEST + container})
    result = confgen.lint_project([str(tmp_path)])
    found = [f for f in result.findings if f.rule == "chain-keepalive-race"]
    assert bool(found) == racing, (found, result.notes)
    if racing:
        assert found[0].file == str(tmp_path / "k8s/app.yaml") and "ingress-nginx" in found[0].message
        assert "lower upstream-keepalive-timeout below 30s" in found[0].message


@pytest.mark.parametrize("behind, advice", [
    ("aws-alb", "so lower AWS Application Load Balancer's idle timeout below 30s"),
    ("aws-alb:20", None),
    # Neither side can be set so that the app outlasts the router: a proxy has to sit between.
    ("heroku", "Heroku router (Router 2.0)'s idle timeout is fixed: put a proxy between them"),
])
def test_a_balancer_in_front_of_granian_alone(tmp_path, behind, advice):
    (tmp_path / "Procfile").write_text("web: granian --interface asgi --host 0.0.0.0 --port $PORT main:app\n")
    found = confgen.lint_project([str(tmp_path / "Procfile")], behind=behind).findings
    assert [f.rule for f in found] == (["chain-keepalive-race"] if advice else [])
    if advice:
        assert advice in found[0].message


# ---------------------------------------------------------------------------------------------
# The real granian: an idle keep-alive connection closes after the time confgen reads


def _closes_after(port: int, timeout: float) -> float:
    """Seconds from a response on a keep-alive connection until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while not data.endswith(b"ok"):
            chunk = connection.recv(4096)
            assert chunk, data
            data += chunk
        assert b"connection: close" not in data.lower()
        start = time.monotonic()
        connection.settimeout(timeout)
        assert connection.recv(4096) == b""          # the server's FIN: it closed the idle connection
        return time.monotonic() - start


@pytest.mark.parametrize("procfile", [
    "web: granian --interface asgi --host 127.0.0.1 --port {port} --http1-header-read-timeout 1500 app:app",
    "web: GRANIAN_HTTP1_HEADER_READ_TIMEOUT=2500 granian --interface asgi --host 127.0.0.1 --port {port} app:app",
])
def test_granian_closes_an_idle_connection_after_the_time_confgen_reads(tmp_path, procfile):
    pytest.importorskip("granian")
    from confgen.gunicorn import sources

    port = free_port()
    (tmp_path / "app.py").write_text(ASGI_APP)
    (tmp_path / "Procfile").write_text(procfile.format(port=port) + "\n")
    source = sources.read_source(str(tmp_path / "Procfile"))
    read_idle = sources.app_server_of(source).hop().idle_from_previous.seconds
    # Run exactly what confgen read: the server's words and the variables the command sets.
    environ = {key: value for key, value in source.environment().items() if value is not None}
    app = subprocess.Popen([sys.executable, "-m", "granian", *source.server_args(), "--no-access-log"], cwd=tmp_path,
                           env={**_base_environ(), **environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not owns_listener(app, port, time.monotonic() + 20):
            pytest.skip("another process took the port")
        measured = _closes_after(port, read_idle + 10)
    finally:
        app.terminate()
        app.wait(timeout=10)
    assert read_idle - 0.1 <= measured <= read_idle + 1.0, (read_idle, measured)


def _base_environ() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if not key.startswith("GRANIAN_")}




def test_behind_real_nginx_granian_closes_the_pooled_connection_first(tmp_path):
    """What the finding claims, on the real stack: nginx keeps its pooled connection 4 s, granian
    (1 s) closes it first, about 1 s after the response: the server side of the pooled
    connection is the one that closes (FIN-WAIT/TIME-WAIT, RFC 9293 3.6), well before nginx's
    timer would."""
    import os

    nginx = require_binary("nginx")
    pytest.importorskip("granian")
    if os.geteuid() != 0:
        pytest.skip("nginx's master here runs as root (like tests/test_chain_real_stack.py)")
    app_port, nginx_port = quiet_port(), free_port()
    (tmp_path / "tmp").mkdir()
    (tmp_path / "app.py").write_text(ASGI_APP)
    (tmp_path / "Procfile").write_text(f"web: granian --interface asgi --host 127.0.0.1 --port {app_port} "
                                       f"--http1-header-read-timeout 1000 app:app\n")
    pool = POOL.format(app_port=app_port, nginx_port=nginx_port, pool_idle=4)
    (tmp_path / "nginx.conf").write_text(scratch_nginx_conf(tmp_path, pool))
    [race] = races(tmp_path / "nginx.conf")
    assert "keepalive_timeout 4s" in race.message and "1000ms = 1s" in race.message
    app = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port",
                            str(app_port), "--http1-header-read-timeout", "1000", "--no-access-log", "app:app"],
                           cwd=tmp_path, env=_base_environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        if not (owns_listener(app, app_port, deadline) and owns_listener(proxy, nginx_port, deadline)):
            pytest.skip("another process took a port")
        with socket.create_connection(("127.0.0.1", nginx_port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        # The connection nginx keeps in its pool, seen from granian's side.
        pooled = {pair for pair, state in _server_side(app_port).items() if state == ESTABLISHED}
        assert len(pooled) == 1, pooled
        closed_after = None
        while closed_after is None and time.monotonic() - answered < 3.5:
            if any(_server_side(app_port).get(pair) in ACTIVE_CLOSE for pair in pooled):
                closed_after = time.monotonic() - answered
            time.sleep(0.02)
    finally:
        for process in (proxy, app):
            process.terminate()
            process.wait(timeout=10)
    assert closed_after is not None and 0.8 <= closed_after <= 2.0, closed_after


ESTABLISHED = "01"
# /proc/net/tcp states of the side that closes first: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT, CLOSING.
ACTIVE_CLOSE = {"04", "05", "06", "0B"}


def _server_side(port: int) -> dict[tuple[str, str], str]:
    """{(local, remote): state} of the TCP connections the server on ``port`` holds."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] != "0A":
            found[(fields[1], fields[2])] = fields[3]
    return found
