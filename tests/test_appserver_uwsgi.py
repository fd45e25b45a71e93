"""uWSGI's app-facing HTTP sockets and keep-alive (issue 25): which of them close every
connection after one response, measured on the real uWSGI, and what confgen makes of it: a paired
uWSGI that closes every connection gets the sync-worker note ("no pool is right for now; switch to
http11-socket / http-keepalive first"), not the pool warning, whether it is read from an ini file,
a command line or a container's command.

uWSGI's own words: the option list has ``--http-socket`` "bind to the specified UNIX/TCP socket
using HTTP protocol" and ``--http11-socket`` "... using HTTP 1.1 (Keep-Alive) protocol"; the HTTP
router's ``--http-keepalive`` is "HTTP 1.1 keepalive support (non-pipelined) requests", and
https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html ("HTTP Keep-Alive"): "If your backends set
the correct HTTP headers, you can use the http-keepalive option".
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import confgen
from confgen.appserver import uwsgi
from conftest import owns_listener, quiet_port
from lint_helpers import write_tree

WSGI_APP = '''def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
'''
REQUESTS = 3


def _uwsgi_binary() -> str:
    found = shutil.which("uwsgi", path=str(Path(sys.executable).parent)) or shutil.which("uwsgi")
    if found is None:
        pytest.skip("uWSGI is not installed (pip install uwsgi)")
    return found


def _response(connection: socket.socket) -> bool:
    """Read one response (its head and the 2-byte body); False when the connection ends first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            return False
        data += chunk
    body = data.partition(b"\r\n\r\n")[2]
    while len(body) < 2:
        chunk = connection.recv(4096)
        if not chunk:
            return False
        body += chunk
    return True


def _exchange(port: int, header: str, idle_limit: float) -> tuple[int, float | None]:
    """(responses to REQUESTS HTTP/1.1 requests sent one after another on one connection, seconds
    from the last response until the server closed the connection, None if it was still open
    after ``idle_limit``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        answered = 0
        for _ in range(REQUESTS):
            try:
                connection.sendall(f"GET / HTTP/1.1\r\nHost: app\r\n{header}\r\n".encode())
                if not _response(connection):
                    break
            except OSError:
                break
            answered += 1
        connection.settimeout(idle_limit)
        began = time.monotonic()
        try:
            closed = connection.recv(1) == b""
        except socket.timeout:
            closed = False
        except OSError:
            closed = True
        return answered, (time.monotonic() - began if closed else None)


def _run_uwsgi(tmp_path: Path, ini: str, header: str, idle_limit: float) -> tuple[int, float | None]:
    binary = _uwsgi_binary()
    for attempt in range(3):
        port = quiet_port()
        root = tmp_path / f"run{attempt}"
        root.mkdir()
        (root / "wsgi.py").write_text(WSGI_APP)
        (root / "uwsgi.ini").write_text("[uwsgi]\n" + ini.format(port=port) + "\nwsgi-file = wsgi.py\n"
                                        "master = true\nprocesses = 1\ndisable-logging = true\n")
        app = subprocess.Popen([binary, "--ini", "uwsgi.ini"], cwd=root, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            if not owns_listener(app, port, time.monotonic() + 20):
                continue  # another test took the port between probing and binding
            time.sleep(0.3)  # the worker ready behind the master's listener
            return _exchange(port, header, idle_limit)
        finally:
            app.send_signal(signal.SIGINT)  # uWSGI takes SIGTERM as "reload"
            try:
                app.wait(timeout=10)
            except subprocess.TimeoutExpired:
                app.kill()
    raise AssertionError("uWSGI never held its port")


# (ini, what uWSGI did on 2.0.31: responses on one connection, seconds until it closed it idle)
MEASURED = [
    ("http-socket = 127.0.0.1:{port}", 1, None),                       # closes after every response
    ("http11-socket = 127.0.0.1:{port}", REQUESTS, 4.0),               # socket-timeout's default 4 s
    ("http11-socket = 127.0.0.1:{port}\nsocket-timeout = 2", REQUESTS, 2.0),
    ("http = 127.0.0.1:{port}", 1, None),                              # the router, keep-alive off
    ("http = 127.0.0.1:{port}\nhttp-keepalive = true", 1, None),       # "true" is 0 to uWSGI
    ("http = 127.0.0.1:{port}\nhttp-keepalive = 2", REQUESTS, 2.0),    # above 1: the idle timer
    ("http = 127.0.0.1:{port}\nhttp-keepalive = 1\nhttp-timeout = 2", REQUESTS, 2.0),  # 1: http-timeout
]


@pytest.mark.parametrize("header", ["", "Connection: keep-alive\r\n"])
@pytest.mark.parametrize("ini, answered, idle", MEASURED)
def test_uwsgi_keeps_or_closes_connections_as_confgen_reads_it(tmp_path, ini, answered, idle, header):
    # As nginx's pool asks (HTTP/1.1, `proxy_set_header Connection ""`), or with an explicit keep-alive.
    measured, closed_after = _run_uwsgi(tmp_path, ini, header, idle_limit=(idle or 1) + 3)
    assert measured == answered, (ini, measured)
    if idle is None:
        assert closed_after is not None and closed_after < 1, closed_after   # closed with the response
    else:
        assert closed_after is not None and abs(closed_after - idle) < 1, (ini, closed_after)
    # What confgen reads from the same ini file.
    (tmp_path / "read.ini").write_text("[uwsgi]\n" + ini.format(port=8000) + "\n")
    server = uwsgi.read_ini(str(tmp_path / "read.ini"))
    assert server.keeps_alive is (answered == REQUESTS)
    hop_idle = server.hop().idle_from_previous
    assert (hop_idle.seconds if hop_idle else None) == idle


def test_a_value_apart_from_http_keepalive_stops_uwsgi_and_confgen_says_so(tmp_path):
    # getopt's optional argument: `--http-keepalive 15` makes uWSGI load "15" as a config file.
    (tmp_path / "wsgi.py").write_text(WSGI_APP)
    done = subprocess.run([_uwsgi_binary(), "--http", f"127.0.0.1:{quiet_port()}", "--http-keepalive", "15",
                           "--wsgi-file", "wsgi.py"], cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert done.returncode != 0 and "unable to load configuration from 15" in done.stdout + done.stderr
    server = uwsgi.read_args(["--http", ":8000", "--http-keepalive", "15"], "start.sh:3", None, 3)
    assert any("--http-keepalive=15" in note and "does not start" in note for note in server.notes), server.notes


# ---------------------------------------------------------------------------------------------
# Read without running it


@pytest.mark.parametrize("args, keeps, idle", [
    (["--http-socket", ":9000"], False, None),
    (["--http11-socket", ":9000"], True, 4),
    (["--http11-socket", ":9000", "--socket-timeout", "75"], True, 75),
    (["--http", ":5000"], False, None),
    (["--http", ":5000", "--http-keepalive"], True, 60),              # bare: 1, so http-timeout's 60 s
    (["--http", ":5000", "--http-keepalive", "--http-timeout", "90"], True, 90),
    (["--http", ":5000", "--http-keepalive=75"], True, 75),
    (["--http", ":5000", "--http-keepalive=0"], False, None),
    (["--http", ":5000", "--http-keepalive=$(KEEP)"], True, None),  # computed where it runs: unknown
])
def test_uwsgi_command_lines(args, keeps, idle):
    server = uwsgi.read_args([*args, "--module", "app"], "--gunicorn-cmd", None, 1)
    assert server.keeps_alive is keeps
    assert (server.idle.value if server.idle else None) == idle
    assert bool(server.closes) is (not keeps)


@pytest.mark.parametrize("line, why", [
    ("", "without `http-keepalive`"),
    ("http-keepalive = true\n", "`http-keepalive = true`"),
    ("http-keepalive =\n", "`http-keepalive = `"),
])
def test_the_router_without_keep_alive_says_why(tmp_path, line, why):
    (tmp_path / "uwsgi.ini").write_text("[uwsgi]\nhttp = :8080\n" + line)
    server = uwsgi.read_ini(str(tmp_path / "uwsgi.ini"))
    assert not server.keeps_alive and why in server.closes, server.closes


# ---------------------------------------------------------------------------------------------
# The pool advice in front of it

NO_POOL = "events {}\nhttp { server { listen 80; location / { proxy_pass http://%s; } } }\n"
UPSTREAM = ("events {}\nhttp {\n    upstream app { server %s; }\n"
            "    server { listen 80; location / { proxy_pass http://app; } }\n}\n")
POOL_RULES = {"proxy-pass-no-upstream", "upstream-no-keepalive"}


def _lint(tmp_path: Path, files: dict[str, str], **options):
    write_tree(tmp_path, files)
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1", **options)
    pool = [f for f in result.findings if f.rule in POOL_RULES]
    notes = [n for n in result.notes if "which is right for now" in n]
    return pool, notes


@pytest.mark.parametrize("files, says", [
    # Held-out review (issue 25), Indico: http-socket in the ini beside nginx.conf.
    ({"nginx.conf": NO_POOL % "127.0.0.1:9000",
      "uwsgi.ini": "[uwsgi]\nhttp-socket = 127.0.0.1:9000\nmodule = app:application\n"},
     "switch `http-socket` to `http11-socket` and set `socket-timeout = 65`"),
    ({"nginx.conf": UPSTREAM % "127.0.0.1:9000",
      "uwsgi.ini": "[uwsgi]\nhttp-socket = 127.0.0.1:9000\nmodule = app:application\n"},
     "switch `http-socket` to `http11-socket`"),
    # The HTTP router without http-keepalive, from an ini file and from a compose service.
    ({"nginx.conf": NO_POOL % "127.0.0.1:8080", "uwsgi.ini": "[uwsgi]\nhttp = 0.0.0.0:8080\nmodule = app\n"},
     "set `http-keepalive = 65`"),
    ({"nginx.conf": NO_POOL % "ckan:5000",
      "docker-compose.yml": "services:\n  ckan:\n    command: uwsgi --http 0.0.0.0:5000 --module app --master\n"},
     "set `http-keepalive = 65`"),
    ({"nginx.conf": NO_POOL % "app:5000", "Dockerfile": 'FROM python:3.12\nCMD ["uwsgi", "--http-socket", ":5000"]\n'},
     "switch `http-socket` to `http11-socket`"),
    ({"nginx.conf": NO_POOL % "127.0.0.1:8080",
      "uwsgi.ini": "[uwsgi]\nhttp = 0.0.0.0:8080\nhttp-keepalive = true\nmodule = app\n"},
     "`http-keepalive = true`"),
])
def test_a_paired_uwsgi_that_closes_every_connection_gets_the_note(tmp_path, files, says):
    pool, notes = _lint(tmp_path, files)
    assert pool == [], pool
    [note] = notes
    assert says in note and "closes every connection" in note and "first" in note, note


def test_the_router_on_the_command_line_gets_the_note(tmp_path):
    # Held-out review (issue 25), CKAN: `--gunicorn-cmd "uwsgi --http :5000 --module app"`.
    pool, notes = _lint(tmp_path, {"nginx.conf": NO_POOL % "ckan:5000/"},
                        gunicorn_cmd="uwsgi --http :5000 --module app")
    assert pool == [] and len(notes) == 1 and "uWSGI's HTTP router" in notes[0], (pool, notes)


@pytest.mark.parametrize("files, cmd", [
    # Near misses: uWSGI that keeps connections open still gets the pool warning.
    ({"uwsgi.ini": "[uwsgi]\nhttp11-socket = 127.0.0.1:9000\nsocket-timeout = 75\nprocesses = 8\n"}, None),
    ({"uwsgi.ini": "[uwsgi]\nhttp = 127.0.0.1:9000\nhttp-keepalive = 75\n"}, None),
    ({}, "uwsgi --http :9000 --http-keepalive=75 --module app"),
    ({}, "uwsgi --http :9000 --http-keepalive --module app"),
])
def test_near_misses_keep_the_pool_warning(tmp_path, files, cmd):
    pool, notes = _lint(tmp_path, {"nginx.conf": NO_POOL % "127.0.0.1:9000", **files},
                        **({"gunicorn_cmd": cmd} if cmd else {}))
    assert [f.rule for f in pool] == ["proxy-pass-no-upstream"] and notes == [], (pool, notes)


@pytest.mark.parametrize("files", [
    # One that closes every connection, but on another port than nginx's target: not this app.
    {"uwsgi.ini": "[uwsgi]\nhttp-socket = 127.0.0.1:9999\n"},
    # No app side at all.
    {},
])
def test_an_app_that_is_not_read_gets_a_note_not_the_pool_warning(tmp_path, files):
    write_tree(tmp_path, {"nginx.conf": NO_POOL % "127.0.0.1:9000", **files})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert [f for f in result.findings if f.rule in POOL_RULES] == []
    [note] = [n for n in result.notes if "the app behind it is not read" in n]
    assert "127.0.0.1:9000" in note and "unknown-app" in note
    # The project can ask for the finding anyway.
    from confgen.lint.engine import lint

    asked = lint([str(tmp_path / "nginx.conf")], nginx_version="1.22.1",
                 rule_options={"proxy-pass-no-upstream": {"unknown-app": True}})
    assert [f.rule for f in asked.findings if f.rule in POOL_RULES] == ["proxy-pass-no-upstream"]


POOLED = ("events {}\nhttp {\n    upstream app { server 127.0.0.1:9000; keepalive 16; }\n"
          "    server { listen 80; location / { proxy_pass http://app; proxy_http_version 1.1;"
          " proxy_set_header Connection \"\"; } }\n}\n")


@pytest.mark.parametrize("ini, race", [
    # The advice followed: the pool, and uWSGI's idle timer above nginx's 60 s.
    ("http11-socket = 127.0.0.1:9000\nsocket-timeout = 65\n", False),
    ("http = 127.0.0.1:9000\nhttp-keepalive = 65\n", False),
    # Only half of it: http11-socket's default 4 s closes pooled connections under nginx.
    ("http11-socket = 127.0.0.1:9000\n", True),
])
def test_following_the_note_raises_no_other_keepalive_finding(tmp_path, ini, race):
    write_tree(tmp_path, {"nginx.conf": POOLED, "uwsgi.ini": "[uwsgi]\n" + ini})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    keepalive = [f.rule for f in result.findings if "keepalive" in f.rule or f.rule in POOL_RULES]
    assert keepalive == (["chain-keepalive-race"] if race else []), result.findings


@pytest.mark.parametrize("socket_option, closes", [("--http-socket", True), ("--http11-socket", False)])
def test_a_containers_uwsgi_command_gets_the_note_too(tmp_path, socket_option, closes):
    # nginx from a ConfigMap beside a uWSGI container in one pod (tests/fixtures/k8s/sidecar).
    text = (Path(__file__).parent / "fixtures" / "k8s" / "sidecar" / "app.yaml").read_text()
    uvicorn = 'command: ["uvicorn", "shop.main:app", "--host", "127.0.0.1", "--port", "8000"]'
    assert uvicorn in text and "        keepalive 16;\n" in text
    (tmp_path / "app.yaml").write_text(text.replace("        keepalive 16;\n", "").replace(
        uvicorn, f'command: ["uwsgi", "{socket_option}", "127.0.0.1:8000", "--module", "shop.wsgi", '
                 f'"--processes", "8"]'))
    result = confgen.lint_project([str(tmp_path / "app.yaml")], nginx_version="1.22.1")
    pool = [f.rule for f in result.findings if f.rule in POOL_RULES]
    notes = [n for n in result.notes if "which is right for now" in n]
    assert (pool, len(notes)) == (([], 1) if closes else (["upstream-no-keepalive"], 0)), (pool, notes)


@pytest.mark.parametrize("ini, pool", [
    # One process, one thread (uWSGI's default): an idle pooled connection holds the only worker.
    ("[uwsgi]\nhttp11-socket = 127.0.0.1:9000\n", None),
    # 4 x 2 = 8 workers, 2 nginx workers: at most 2 idle per nginx worker, half the workers.
    ("[uwsgi]\nhttp11-socket = 127.0.0.1:9000\nprocesses = 4\nthreads = 2\nsocket-timeout = 75\n", 2),
])
def test_an_http11_socket_pool_leaves_uwsgi_workers_for_new_requests(tmp_path, ini, pool):
    config = "worker_processes 2;\n" + NO_POOL % "127.0.0.1:9000"
    write_tree(tmp_path, {"nginx.conf": config, "uwsgi.ini": ini})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    found = [f for f in result.findings if f.rule in POOL_RULES]
    if pool is None:
        assert found == []
        [note] = [n for n in result.notes if "which is right for now" in n]
        assert "holds a worker for every idle keep-alive connection" in note and "has 1 worker" in note
    else:
        [finding] = found
        assert f"keepalive {pool};" in finding.message and "has 8 workers" in finding.message


def test_a_uwsgi_ini_is_known_by_its_section_and_a_supervisor_ini_by_its_programs(tmp_path):
    ini = "[uwsgi]\nsocket = 127.0.0.1:9000\nmodule = app.wsgi\n"
    write_tree(tmp_path, {"nginx.conf": "events {}\nhttp { server { listen 80; location / { include uwsgi_params; "
                                        "uwsgi_pass 127.0.0.1:9000; } } }\n",
                          "uwsgi_params": "uwsgi_param QUERY_STRING $query_string;\n",
                          "docker/uwsgi.conf": ini,
                          "supervisord.ini": "[supervisord]\nnodaemon=true\n\n[program:web]\n"
                                             "command=gunicorn app:app --bind 127.0.0.1:8000\n"})
    as_conf = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1",
                                   gunicorn=str(tmp_path / "docker" / "uwsgi.conf"))
    assert any(n.startswith("paired uwsgi:") for n in as_conf.notes), as_conf.notes
    supervisor = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1",
                                      gunicorn=str(tmp_path / "supervisord.ini"))
    assert any("paired gunicorn" in n and "supervisord.ini" in n for n in supervisor.notes), supervisor.notes


def test_one_socket_spoken_to_the_wrong_way_from_two_locations_is_one_finding(tmp_path):
    # Zenodo: `location /` and `location /api/files` both uwsgi_pass to uWSGI's `http =` router.
    nginx = ("events {}\nhttp {\n    upstream app { server 127.0.0.1:5000; }\n    server {\n        listen 80;\n"
             "        location / { include uwsgi_params; uwsgi_pass app; }\n"
             "        location /api/files { include uwsgi_params; uwsgi_pass app; client_max_body_size 1g; }\n"
             "    }\n}\n")
    write_tree(tmp_path, {"nginx.conf": nginx, "uwsgi_params": "uwsgi_param QUERY_STRING $query_string;\n",
                          "uwsgi.ini": "[uwsgi]\nhttp = 127.0.0.1:5000\nmodule = app:application\nmaster = true\n"})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    [finding] = [f for f in result.findings if f.rule == "app-protocol-mismatch"]
    assert finding.line == 6 and finding.message.startswith("uwsgi_pass (and 1 more location) speaks")


@pytest.mark.parametrize("script", [
    # icfpc2016-judge: a shutdown handler writes to the master FIFO, whose path names uwsgi, and
    # --master-fifo=... is an option of the command, not a second command.
    "graceful_shutdown() {\n  echo q > /tmp/uwsgi-fifo\n}\ntrap graceful_shutdown TERM\n"
    "uwsgi --module=app.wsgi:app --uwsgi-socket=:9000 --master --master-fifo=/tmp/uwsgi-fifo \"$@\" &\nwait\n",
    # contraxsuite: the entrypoint compares its argument with "uwsgi", then runs it as another user.
    'if [ $1 == "uwsgi" ]; then\n  su - app -c "${ACTIVATE_VENV} && \\\n    uwsgi --socket 0.0.0.0:9000 \\\n'
    '      --wsgi wsgi:application"\nfi\n',
])
def test_the_uwsgi_a_start_script_runs_is_found_among_words_that_only_name_it(tmp_path, script):
    from confgen.gunicorn import sources

    path = tmp_path / "start.sh"
    path.write_text("#!/bin/bash\n" + script)
    server = sources.app_server_of(sources.read_source(str(path)))
    assert server.server == "uwsgi" and server.binds == [":9000" if "uwsgi-socket" in script else "0.0.0.0:9000"]
    assert server.protocol == "uwsgi"


CONDITIONAL = ("[uwsgi]\nif-env = DEV_ENV\nsocket = :$(PORT)\nendif =\n"
               "if-not-env = DEV_ENV\nsocket = /tmp/nginx.socket\nendif =\nmodule = app:application\n")


@pytest.mark.parametrize("environ, binds", [
    ({"DEV_ENV": "True", "PORT": "8051"}, [":8051"]),                  # mitxpro's compose file
    ({"DEV_ENV": None, "PORT": "8051"}, [":8051"]),                    # set, to a value not known here
    ({"PORT": "8051"}, []),                                            # DEV_ENV may be set where it runs
    (None, []),
])
def test_uwsgis_if_env_blocks_are_taken_where_the_environment_tells(tmp_path, environ, binds):
    ini = tmp_path / "uwsgi.ini"
    ini.write_text(CONDITIONAL)
    server = uwsgi.read_ini(str(ini), environ)
    assert server.binds == binds
    assert server.settings["module"].value == "app:application"          # outside every block: always taken
    assert any("where it listens is unknown" in note for note in server.notes) is (binds == [])


def test_if_opt_nested_blocks_and_loops():
    options = [("master", "true", "f:1"), ("if-opt", "master", "f:2"), ("processes", "4", "f:3"),
               ("if-env", "HOME", "f:4"), ("threads", "2", "f:5"), ("endif", "", "f:6"), ("endif", "", "f:7"),
               ("if-not-opt", "master", "f:8"), ("processes", "1", "f:9"), ("endif", "", "f:10"),
               ("for", "a b", "f:11"), ("env", "X=%(_)", "f:12"), ("endfor", "", "f:13")]
    taken, undecided = uwsgi._apply_logic(options, {"HOME": "/root"})
    assert [(k, v) for k, v, _ in taken] == [("master", "true"), ("processes", "4"), ("threads", "2")]
    assert undecided == {"env"}


def test_a_socket_chosen_by_the_environment_pairs_with_the_upstream_that_reaches_it(tmp_path):
    """mitxpro: the compose service sets DEV_ENV and PORT, so uWSGI listens on :8051, which
    `uwsgi_pass web:8051` reaches: no app-bind-mismatch."""
    write_tree(tmp_path, {
        "nginx.conf": "server { listen 8053; location / { include uwsgi_params; uwsgi_pass web:8051; } }\n",
        "uwsgi.ini": CONDITIONAL,
        "docker-compose.yml": "services:\n  web:\n    command: uwsgi uwsgi.ini\n    environment:\n"
                              "      DEV_ENV: 'True'\n      PORT: 8051\n"})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert not [f for f in result.findings if f.rule == "app-bind-mismatch"]
    assert any("paired uwsgi" in note for note in result.notes)


IRIS_YAML = """{section}:
    socket: /home/iris/var/run/uwsgi.sock
    master: True
    workers: 12
    buffer-size: 32768
    attach-daemon2:
      - cmd=/usr/sbin/nginx
      - cmd=/home/iris/env/bin/iris-sender
"""


@pytest.mark.parametrize("section, given, read", [
    ("uwsgi", ["--yaml", "{dir}/uwsgi.yaml"], True),
    ("prod", ["--yaml", "{dir}/uwsgi.yaml:prod"], True),      # linkedin/iris loads its `prod:` section
    ("prod", ["--yaml", "{dir}/uwsgi.yaml"], False),          # uWSGI reads `uwsgi:` unless told otherwise
    ("prod", ["-y", "{dir}/uwsgi.yaml:prod"], True),
])
def test_a_yaml_config_is_read_by_the_section_the_command_names(tmp_path, section, given, read):
    (tmp_path / "uwsgi.yaml").write_text(IRIS_YAML.format(section=section))
    server = uwsgi.read_args([word.format(dir=tmp_path) for word in given], "--gunicorn-cmd", None, 1)
    assert (server.binds == ["/home/iris/var/run/uwsgi.sock"]) is read
    if read:
        assert server.settings["buffer-size"].value == 32768
        assert server.settings["buffer-size"].source == f"{tmp_path / 'uwsgi.yaml'}:5"


def test_an_ini_section_named_on_the_command_line_is_the_one_read(tmp_path):
    (tmp_path / "app.ini").write_text("[uwsgi]\nsocket = :9000\n\n[prod]\nsocket = :9001\n")
    server = uwsgi.read_args(["--ini", f"{tmp_path / 'app.ini'}:prod"], "--gunicorn-cmd", None, 1)
    assert server.binds == [":9001"]


def test_a_yaml_config_beside_nginx_is_paired(tmp_path):
    write_tree(tmp_path, {"nginx.conf": "server {\n    listen 80;\n    location / { uwsgi_pass unix:/home/iris/var/run/"
                                        "uwsgi.sock; include uwsgi_params; }\n}\n",
                          "uwsgi.yaml": IRIS_YAML.format(section="uwsgi").replace("    buffer-size: 32768\n", "")})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert "uwsgi-buffer-size" in {f.rule for f in result.findings}
    assert any("paired uwsgi" in note and "uwsgi.yaml" in note for note in result.notes)
