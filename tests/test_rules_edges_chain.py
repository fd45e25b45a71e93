"""Edges of the chain rules between nginx and the app server (CG210 chain-timeout-order, CG212
app-protocol-mismatch, CG213 uwsgi-buffer-size), paired as tests/test_chain.py pairs them (an
uWSGI ini or command line, gunicorn.conf.py, a uvicorn Procfile, a declared balancer): the
documented examples at their exact place, each app server the rules claim to handle, both sides
of every boundary, and what the messages say happens, on the real nginx in front of the real
uWSGI (also for CG413 proxy-setting-without-proxy-pass, whose claim is about the app)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import confgen
from conftest import REQUIRE_NGINX, free_port, owns_listener, require_binary, scratch_nginx_conf
from lint_helpers import only
from test_rules_edges_engine import check_documented_examples, fetch, lint_file, parsed, place


@pytest.mark.parametrize("name, expected", [
    ("chain-timeout-order", [("uwsgi_read_timeout 30s", 1, ["nginx gives up after uwsgi_read_timeout 30s",
                                                            "harakiri 60s", "504", "Procfile:1"])]),
    ("app-protocol-mismatch", [("proxy_pass http://127.0.0.1:3031", 1,
                                ["proxy_pass speaks HTTP", "uWSGI `socket` 127.0.0.1:3031", "uwsgi protocol",
                                 "invalid request block size"])]),
    ("uwsgi-buffer-size", [("uwsgi_pass 127.0.0.1:3031", 1, ["8192 bytes", "large_client_header_buffers 4 8k",
                                                             "buffer-size 4096 bytes", "uWSGI's default", "502",
                                                             "raise buffer-size to 32768"])]),
])
def test_documented_bad_example_fires_at_its_directive_and_good_example_is_silent(tmp_path, name, expected):
    check_documented_examples(tmp_path, name, expected)


def lint_pair(tmp_path: Path, nginx: str, files: dict[str, str], **options):
    """nginx.conf beside the app side's files, linted as a project is (the app paired by what
    the tree holds); ``behind`` declares a balancer in front."""
    for name, text in {"nginx.conf": nginx, **files}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return parsed(confgen.lint_project([str(tmp_path / "nginx.conf")], select=["ALL"], nginx_version="1.22.1", **options))


UWSGI_LOCATION = ("server {{\n    location / {{\n        include uwsgi_params;\n        uwsgi_pass 127.0.0.1:3031;\n"
                  "{extra}    }}\n}}\n")
PROXY_LOCATION = "server {{\n    location / {{\n        proxy_pass http://127.0.0.1:8000;\n{extra}    }}\n}}\n"


# ---------------------------------------------------------------------------------------------
# CG210 chain-timeout-order


@pytest.mark.parametrize("nginx, ini, reported_line", [
    # uWSGI's uwsgi socket: nginx's uwsgi_read_timeout against harakiri, reported while it is below
    # (equal: uWSGI's master, checking once a second, ends the request within a second of the 504).
    (UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 59s;\n"), "socket = 127.0.0.1:3031\nharakiri = 60\n", 5),
    (UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 60s;\n"), "socket = 127.0.0.1:3031\nharakiri = 60\n", None),
    (UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 61s;\n"), "socket = 127.0.0.1:3031\nharakiri = 60\n", None),
    (UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 1m;\n"), "socket = 127.0.0.1:3031\nharakiri = 61\n", 5),
    # uWSGI's http-socket behind proxy_pass: proxy_read_timeout is the wait.
    (PROXY_LOCATION.format(extra="        proxy_read_timeout 60s;\n"), "http-socket = 127.0.0.1:8000\nharakiri = 61\n", 4),
    (PROXY_LOCATION.format(extra="        proxy_read_timeout 60s;\n"), "http-socket = 127.0.0.1:8000\nharakiri = 60\n", None),
    (PROXY_LOCATION.format(extra="        proxy_read_timeout 61s;\n"), "http-socket = 127.0.0.1:8000\nharakiri = 60\n", None),
    # Not written: nginx's 60 s default, reported at the pass directive.
    (UWSGI_LOCATION.format(extra=""), "socket = 127.0.0.1:3031\nharakiri = 120\n", 4),
    (UWSGI_LOCATION.format(extra=""), "socket = 127.0.0.1:3031\nharakiri = 59\n", None),
    # No harakiri: uWSGI kills nothing, so nothing to order.
    (UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 5s;\n"), "socket = 127.0.0.1:3031\n", None),
    # Another app on another port is not this one's.
    (UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 5s;\n"), "socket = 127.0.0.1:9999\nharakiri = 60\n", None),
])
def test_chain_timeout_order_reports_nginx_waiting_no_longer_than_harakiri(tmp_path, nginx, ini, reported_line):
    found = only(lint_pair(tmp_path, nginx, {"app.ini": f"[uwsgi]\nmodule = app\n{ini}"}), "chain-timeout-order")
    assert [f.line for f in found] == ([] if reported_line is None else [reported_line]), found
    if found:
        assert found[0].col == 9 and f"harakiri {ini.split('harakiri = ')[1].strip()}s" in found[0].message
        assert f"{tmp_path / 'app.ini'}:4" in found[0].message     # where harakiri is written
        if reported_line == 4 and "uwsgi_pass" in nginx:
            assert "uwsgi_read_timeout 60s (nginx's default 60 s" in found[0].message


@pytest.mark.parametrize("app", [
    {"Procfile": "web: uwsgi --socket 127.0.0.1:3031 --harakiri 90 --module app\n"},
    {"Procfile": "web: uwsgi --socket=127.0.0.1:3031 --harakiri=90 --module app\n"},
    {"Procfile": "web: uwsgi --ini deploy/app.ini\n", "deploy/app.ini": "[uwsgi]\nsocket = 127.0.0.1:3031\nharakiri = 90\n"},
    # uWSGI's one-letter options: -s socket, -t harakiri, -M master (a flag), -w module (issue 25).
    {"Procfile": "web: uwsgi -s 127.0.0.1:3031 -t 90 -w app\n"},
    {"Procfile": "web: uwsgi -Mt90 -s127.0.0.1:3031 -w app\n"},
    {"Procfile": "web: uwsgi --socket 127.0.0.1:3031 --set harakiri=90 -w app\n"},
])
def test_chain_timeout_order_reads_harakiri_from_the_uwsgi_command_line_and_its_ini(tmp_path, app):
    nginx = UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 30s;\n")
    [finding] = only(lint_pair(tmp_path, nginx, app), "chain-timeout-order")
    assert (finding.line, finding.col) == (5, 9)
    assert "uwsgi_read_timeout 30s" in finding.message and "harakiri 90s" in finding.message


def test_chain_timeout_order_compares_the_read_timeout_in_force_where_uwsgi_pass_is(tmp_path):
    ini = {"app.ini": "[uwsgi]\nsocket = 127.0.0.1:3031\nharakiri = 60\n"}
    inherited = "http {\n    uwsgi_read_timeout 30s;\n" + UWSGI_LOCATION.format(extra="") + "}\n"
    [finding] = only(lint_pair(tmp_path / "a", inherited, ini), "chain-timeout-order")
    # Reported where the value nginx uses is written: the http level, once.
    assert (finding.line, finding.col) == (2, 5) and f"{tmp_path / 'a' / 'nginx.conf'}:2" in finding.message
    overridden = ("http {\n    uwsgi_read_timeout 30s;\n"
                  + UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 130s;\n") + "}\n")
    assert only(lint_pair(tmp_path / "b", overridden, ini), "chain-timeout-order") == []
    # proxy_read_timeout beside uwsgi_pass configures nothing there: it is not the wait compared.
    beside = UWSGI_LOCATION.format(extra="        proxy_read_timeout 300s;\n        uwsgi_read_timeout 30s;\n")
    assert [f.line for f in only(lint_pair(tmp_path / "c", beside, ini), "chain-timeout-order")] == [6]
    beside = UWSGI_LOCATION.format(extra="        uwsgi_read_timeout 300s;\n        proxy_read_timeout 30s;\n")
    assert only(lint_pair(tmp_path / "d", beside, ini), "chain-timeout-order") == []


def test_chain_timeout_order_stays_silent_where_a_provided_file_may_set_the_wait(tmp_path):
    ini = {"app.ini": "[uwsgi]\nsocket = 127.0.0.1:3031\nharakiri = 120\n"}
    provided = UWSGI_LOCATION.format(extra="        include /etc/nginx/provided-by-the-deployment/timeouts.conf;\n")
    assert only(lint_pair(tmp_path / "a", provided, ini), "chain-timeout-order") == []
    # A value written beside that include is the one nginx uses, and is still compared.
    written = UWSGI_LOCATION.format(extra="        include /etc/nginx/provided-by-the-deployment/timeouts.conf;\n"
                                          "        uwsgi_read_timeout 30s;\n")
    assert [f.line for f in only(lint_pair(tmp_path / "b", written, ini), "chain-timeout-order")] == [6]


@pytest.mark.parametrize("app", [
    {"gunicorn.conf.py": "bind = '127.0.0.1:8000'\nworker_class = 'sync'\ntimeout = 120\n"},
    {"Procfile": "web: uvicorn main:app --port 8000\n"},
])
def test_chain_timeout_order_leaves_gunicorn_and_uvicorn_behind_nginx_alone(tmp_path, app):
    # gunicorn's sync timeout against proxy_read_timeout is app-timeout-exceeds-proxy's (with a
    # fix); uvicorn kills no request. Neither is this rule's to report twice.
    result = lint_pair(tmp_path, PROXY_LOCATION.format(extra="        proxy_read_timeout 30s;\n"), app)
    assert only(result, "chain-timeout-order") == []
    assert bool(only(result, "app-timeout-exceeds-proxy")) is ("gunicorn.conf.py" in app)


@pytest.mark.parametrize("app", [
    {"Procfile": "web: uvicorn main:app --port 8000\n"},
    {"gunicorn.conf.py": "bind = '127.0.0.1:8000'\nworker_class = 'gthread'\nthreads = 4\n"},
    {"app.ini": "[uwsgi]\nhttp-socket = 127.0.0.1:8000\n"},
])
@pytest.mark.parametrize("extra, reported_line", [
    ("", 3),                                         # nginx's 60 s default against Heroku's 30 s
    ("        proxy_read_timeout 30s;\n", 4),        # no later than the router: still reported
    ("        proxy_read_timeout 29s;\n", None),
])
def test_a_balancer_in_front_of_nginx_must_wait_longer_than_nginx(tmp_path, app, extra, reported_line):
    result = lint_pair(tmp_path, PROXY_LOCATION.format(extra=extra), app, behind="heroku")
    found = only(result, "chain-timeout-order")
    assert [(f.line, f.col) for f in found] == ([] if reported_line is None else [(reported_line, 9)]), found
    if found:
        assert found[0].message.startswith("Heroku router (Router 2.0) gives up after 30s")
        assert "nginx's own answer never reaches the client" in found[0].message


@pytest.mark.parametrize("behind, gunicorn, reported", [
    ("aws-alb", "worker_class = 'sync'\ntimeout = 61\n", True),      # the ALB waits 60 s: less
    ("aws-alb", "worker_class = 'sync'\ntimeout = 60\n", False),     # equal: killed within a second
    ("aws-alb", "worker_class = 'sync'\ntimeout = 59\n", False),
    # An ALB's idle timeout, when set, is also how long it waits for a response.
    ("aws-alb:30", "worker_class = 'sync'\ntimeout = 45\n", True),
    ("aws-alb:120", "worker_class = 'sync'\ntimeout = 90\n", False),
    ("heroku", "worker_class = 'gthread'\nthreads = 4\ntimeout = 120\n", False),   # gthread kills nothing
])
def test_gunicorns_sync_worker_alone_behind_a_balancer_at_the_boundary(tmp_path, behind, gunicorn, reported):
    (tmp_path / "gunicorn.conf.py").write_text(gunicorn)
    found = only(parsed(confgen.lint_project([str(tmp_path / "gunicorn.conf.py")], behind=behind)), "chain-timeout-order")
    assert bool(found) is reported, found
    if reported:
        [finding] = found
        assert finding.file == str(tmp_path / "gunicorn.conf.py")
        assert f"works on a request until timeout {gunicorn.split('timeout = ')[1].strip()}s" in finding.message


# ---------------------------------------------------------------------------------------------
# CG212 app-protocol-mismatch


@pytest.mark.parametrize("app", [
    "app.ini:socket", "app.ini:uwsgi-socket", "app.ini:http-socket", "app.ini:http",
    "Procfile:--socket", "Procfile:--uwsgi-socket", "Procfile:--http-socket", "Procfile:--http",
])
@pytest.mark.parametrize("location", ["proxy_pass http://127.0.0.1:3031;", "include uwsgi_params; uwsgi_pass 127.0.0.1:3031;"])
def test_app_protocol_mismatch_for_every_uwsgi_socket_option_and_both_pass_directives(tmp_path, app, location):
    where, option = app.split(":")
    files = ({"app.ini": f"[uwsgi]\nmodule = app\n{option} = 127.0.0.1:3031\n"} if where == "app.ini" else
             {"Procfile": f"web: uwsgi {option} 127.0.0.1:3031 --module app\n"})
    found = only(lint_pair(tmp_path, f"server {{\n    location / {{ {location} }}\n}}\n", files), "app-protocol-mismatch")
    speaks_uwsgi = option.strip("-") in ("socket", "uwsgi-socket")
    crossed = speaks_uwsgi == location.startswith("proxy_pass")
    assert bool(found) is crossed, found
    if crossed:
        [finding] = found
        directive = location.split()[-2] if not location.startswith("proxy_pass") else "proxy_pass"
        assert (finding.line, finding.col) == (2, 18 + location.index(directive))
        assert finding.severity == "error" and finding.message.startswith(f"{directive} speaks")
        assert "every request fails" in finding.message


@pytest.mark.parametrize("command, speaks_uwsgi", [
    ("uwsgi -s 127.0.0.1:3031 -w app", True),            # -s is --socket (uwsgi --help)
    ("uwsgi -M -p 4 -s127.0.0.1:3031 -w app", True),
    ("uwsgi -Mp 4 --http-socket 127.0.0.1:3031 -w app", False),
])
def test_app_protocol_mismatch_reads_uwsgis_one_letter_socket_option(tmp_path, command, speaks_uwsgi):
    nginx = "server {\n    location / { proxy_pass http://127.0.0.1:3031; }\n}\n"
    found = only(lint_pair(tmp_path, nginx, {"Procfile": f"web: {command}\n"}), "app-protocol-mismatch")
    assert [(f.line, f.col) for f in found] == ([(2, 18)] if speaks_uwsgi else [])
    if found:
        assert "uWSGI `socket` 127.0.0.1:3031" in found[0].message


@pytest.mark.parametrize("nginx, ini, reported_line", [
    # Through an upstream block, spelled with and without the uwsgi:// scheme.
    ("upstream app { server 127.0.0.1:3031; }\nserver {\n    location / { proxy_pass http://app; }\n}\n",
     "socket = 127.0.0.1:3031", 3),
    ("upstream app { server 127.0.0.1:3031; }\nserver {\n    location / { include uwsgi_params; uwsgi_pass uwsgi://app; }\n}\n",
     "http-socket = 127.0.0.1:3031", 3),
    # A unix socket, and a wildcard bind that 127.0.0.1 reaches.
    ("server {\n    location / { proxy_pass http://unix:/run/app.sock; }\n}\n", "socket = /run/app.sock", 2),
    ("server {\n    location / { proxy_pass http://127.0.0.1:3031; }\n}\n", "socket = :3031", 2),
    ("server {\n    location / { proxy_pass http://127.0.0.1:3031; }\n}\n", "socket = 0.0.0.0:3031", 2),
    # The matching directive through the same upstream, and another app on another socket.
    ("upstream app { server 127.0.0.1:3031; }\nserver {\n    location / { include uwsgi_params; uwsgi_pass app; }\n}\n",
     "socket = 127.0.0.1:3031", None),
    ("server {\n    location / { proxy_pass http://unix:/run/other.sock; }\n}\n", "socket = /run/app.sock", None),
])
def test_app_protocol_mismatch_follows_upstreams_unix_sockets_and_wildcard_binds(tmp_path, nginx, ini, reported_line):
    found = only(lint_pair(tmp_path, nginx, {"app.ini": f"[uwsgi]\nmodule = app\n{ini}\n"}), "app-protocol-mismatch")
    assert [f.line for f in found] == ([] if reported_line is None else [reported_line]), found


@pytest.mark.parametrize("app", [
    {"gunicorn.conf.py": "bind = '127.0.0.1:3031'\n"},
    {"Procfile": "web: uvicorn app:app --port 3031\n"},
])
def test_app_protocol_mismatch_is_about_uwsgi_only(tmp_path, app):
    # gunicorn and uvicorn speak HTTP only, and proxy_pass speaks HTTP: nothing crossed.
    result = lint_pair(tmp_path, "server {\n    location / { proxy_pass http://127.0.0.1:3031; }\n}\n", app)
    assert only(result, "app-protocol-mismatch") == [] and only(result, "uwsgi-buffer-size") == []


# ---------------------------------------------------------------------------------------------
# CG213 uwsgi-buffer-size


# The boundary: the longest request line nginx accepts, its URL counted as often as uwsgi_params
# sends it (twice), must fit (tests/test_uwsgi_buffer_real_stack.py measures it on real uWSGI).
@pytest.mark.parametrize("nginx_extra, ini_extra, passed", [
    ("", "", 8192),                                               # 8k (nginx) > 4096 (uWSGI), both defaults
    ("", "buffer-size = 8191\n", 8192),
    ("", "buffer-size = 32768\n", None),                          # what the message advises
    ("", "buffer-size = 16384\n", None),                          # 8k URL, twice
    ("", "buffer-size = 16383\n", 8192),
    ("    large_client_header_buffers 4 16k;\n", "buffer-size = 8192\n", 16384),
    ("    large_client_header_buffers 2 1k;\n", "buffer-size = 65536\n", None),
])
def test_uwsgi_buffer_size_against_the_header_buffers_in_force(tmp_path, nginx_extra, ini_extra, passed):
    nginx = ("server {\n" + nginx_extra + "    location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; }\n}\n")
    found = only(lint_pair(tmp_path, nginx, {"app.ini": f"[uwsgi]\nsocket = 127.0.0.1:3031\n{ini_extra}"}),
                 "uwsgi-buffer-size")
    assert bool(found) is (passed is not None), found
    if found:
        [finding] = found
        assert finding.line == 2 + bool(nginx_extra) and finding.col == 40
        assert f"request line or header line up to {passed} bytes" in finding.message
        limit = ini_extra.split("= ")[1].strip() if ini_extra else "4096"
        assert f"buffer-size {limit} bytes" in finding.message
        assert (f"{tmp_path / 'app.ini'}:3" if ini_extra else "uWSGI's default") in finding.message


def test_uwsgi_buffer_size_reads_the_value_inherited_from_http_and_the_server_that_overrides_it(tmp_path):
    ini = {"app.ini": "[uwsgi]\nsocket = 127.0.0.1:3031\nbuffer-size = 65536\n"}
    inherited = ("http {\n    large_client_header_buffers 4 128k;\n    server {\n"
                 "        location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; }\n    }\n}\n")
    [finding] = only(lint_pair(tmp_path / "a", inherited, ini), "uwsgi-buffer-size")
    assert finding.line == 4 and "large_client_header_buffers 4 128k" in finding.message
    overridden = inherited.replace("    server {\n", "    server {\n        large_client_header_buffers 2 8k;\n")
    assert only(lint_pair(tmp_path / "b", overridden, ini), "uwsgi-buffer-size") == []


@pytest.mark.parametrize("app, reported", [
    ({"Procfile": "web: uwsgi --socket 127.0.0.1:3031 --buffer-size 65535 --module app\n"}, False),
    ({"Procfile": "web: uwsgi --socket 127.0.0.1:3031 --buffer-size 4096 --module app\n"}, True),
    ({"app.ini": "[uwsgi]\nhttp-socket = 127.0.0.1:3031\n"}, False),    # HTTP socket: not the uwsgi packet
    # uWSGI's one-letter options (uwsgi --help): -b is --buffer-size, -s --socket (issue 25).
    ({"Procfile": "web: uwsgi --socket 127.0.0.1:3031 -b 32768\n"}, False),
    ({"Procfile": "web: uwsgi -s 127.0.0.1:3031 -b32768 -w app\n"}, False),
    ({"Procfile": "web: uwsgi -Mb 32768 -s 127.0.0.1:3031\n"}, False),
    ({"Procfile": "web: uwsgi -S buffer-size=32768 -s 127.0.0.1:3031\n"}, False),
    ({"Procfile": "web: uwsgi -s 127.0.0.1:3031 -b 4096 -w app\n"}, True),
    ({"Procfile": "web: uwsgi -s 127.0.0.1:3031 -w app\n"}, True),
    ({"Procfile": "web: uvicorn app:app --port 3031\n"}, False),
])
def test_uwsgi_buffer_size_is_only_about_the_uwsgi_protocol_through_upstreams_too(tmp_path, app, reported):
    nginx = ("upstream app { server 127.0.0.1:3031; }\n"
             "server {\n    location / { include uwsgi_params; uwsgi_pass uwsgi://app; }\n}\n")
    found = only(lint_pair(tmp_path, nginx, app), "uwsgi-buffer-size")
    assert [(f.line, f.col) for f in found] == ([(3, 40)] if reported else [])


# ---------------------------------------------------------------------------------------------
# The real nginx in front of the real uWSGI


WSGI_APP = '''import time

def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(float(environ["QUERY_STRING"]))
        open({mark!r}, "w").close()
    body = environ.get("HTTP_X_FORWARDED_PROTO", "-").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''
# The variables the app needs, in the tree (so the lint reads the same file nginx includes).
UWSGI_PARAMS = ("uwsgi_param QUERY_STRING $query_string;\nuwsgi_param REQUEST_METHOD $request_method;\n"
                "uwsgi_param CONTENT_TYPE $content_type;\nuwsgi_param CONTENT_LENGTH $content_length;\n"
                "uwsgi_param REQUEST_URI $request_uri;\nuwsgi_param PATH_INFO $document_uri;\n"
                "uwsgi_param SERVER_PROTOCOL $server_protocol;\nuwsgi_param REMOTE_ADDR $remote_addr;\n"
                "uwsgi_param SERVER_NAME $server_name;\nuwsgi_param SERVER_PORT $server_port;\n")


def uwsgi_binary() -> str:
    found = shutil.which("uwsgi", path=str(Path(sys.executable).parent)) or shutil.which("uwsgi")
    if found is None:
        if REQUIRE_NGINX:
            pytest.fail("uWSGI is required (CONFGEN_REQUIRE_NGINX=1): pip install uwsgi")
        pytest.skip("uWSGI is not installed (pip install uwsgi)")
    return found


@contextlib.contextmanager
def uwsgi_behind_nginx(root: Path, ini: str, server_body: str):
    """uWSGI started from ``ini`` and nginx from a scratch config whose one server holds
    ``server_body``, both in one directory (so the lint pairs them as a project does);
    ``{app}`` is uWSGI's address. Yields (nginx's port, the directory)."""
    nginx, uwsgi = require_binary("nginx"), uwsgi_binary()
    for attempt in range(3):
        directory, app_port, port = root / f"stack{attempt}", free_port(), free_port()
        (directory / "tmp").mkdir(parents=True)
        app = f"127.0.0.1:{app_port}"
        (directory / "wsgi.py").write_text(WSGI_APP.format(mark=str(directory / "slow-finished")))
        (directory / "uwsgi.ini").write_text(ini.replace("{app}", app) + "wsgi-file = wsgi.py\nmaster = true\n"
                                             "processes = 2\ndie-on-term = true\n")
        (directory / "uwsgi_params").write_text(UWSGI_PARAMS)
        body = f"    server {{\n        listen 127.0.0.1:{port};\n{server_body.replace('{app}', app)}    }}\n"
        (directory / "nginx.conf").write_text(scratch_nginx_conf(directory, body, user=pwd.getpwuid(os.getuid()).pw_name))
        with open(directory / "uwsgi.log", "wb") as log:
            server = subprocess.Popen([uwsgi, "--ini", "uwsgi.ini"], cwd=directory, stdout=log, stderr=subprocess.STDOUT)
        proxy = subprocess.Popen([nginx, "-p", str(directory), "-c", str(directory / "nginx.conf")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            if owns_listener(server, app_port, deadline) and owns_listener(proxy, port, deadline):
                yield port, directory
                return
        finally:
            proxy.terminate()
            server.send_signal(signal.SIGINT)   # uWSGI takes SIGTERM as "reload" unless die-on-term
            for process in (proxy, server):
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    raise AssertionError("nginx or uWSGI could not take a port in three tries")


@pytest.mark.parametrize("command", [
    "-s {dir}/app.sock -b 32768 -t 60 -w app",
    "-Mb32768 -t60 -p 2 --socket {dir}/app.sock",
    "-TMs {dir}/app.sock -C666 -b 8192",                  # -C takes its value only in the same word
    "--http-socket {dir}/app.sock -S buffer-size=16384 -S harakiri=30",
])
def test_uwsgi_command_lines_are_read_as_uwsgi_itself_reads_them(tmp_path, command):
    # uWSGI's --show-config prints the options it took from the command line; --need-app without an
    # app makes it stop right after ("no app loaded. GAME OVER").
    from confgen.appserver.uwsgi import read_args

    args = command.replace("{dir}", str(tmp_path)).split()
    shown = subprocess.run([uwsgi_binary(), *args, "--show-config", "--need-app"], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30).stdout
    section = shown.split("[uwsgi]\n", 1)[1].split(";end of configuration", 1)[0]
    taken = dict(line.split(" = ", 1) for line in section.splitlines() if " = " in line)
    server = read_args(args, "Procfile:1", "Procfile", 1)
    for key in ("socket", "http-socket", "buffer-size", "harakiri", "master", "processes", "module", "enable-threads",
                "chmod-socket"):
        if key in taken:
            read = server.settings[key].value
            assert str(int(read) if isinstance(read, float) else read) == taken[key], (key, read, taken[key])
        else:
            assert key == "buffer-size" or key not in server.settings, key
    assert server.settings["buffer-size"].value == int(taken.get("buffer-size", 4096))
    harakiri = float(taken["harakiri"]) if "harakiri" in taken else None
    assert (server.kills_after.value if server.kills_after else None) == harakiri


def test_http_to_a_uwsgi_socket_fails_with_invalid_request_block_size_as_app_protocol_mismatch_says(tmp_path):
    locations = ("        location /crossed/ { proxy_pass http://{app}; }\n"
                 "        location / { include uwsgi_params; uwsgi_pass {app}; }\n")
    with uwsgi_behind_nginx(tmp_path, "[uwsgi]\nsocket = {app}\n", locations) as (port, directory):
        crossed, _, _ = fetch(port, "/crossed/")
        matched, _, _ = fetch(port, "/")
        found = only(lint_file(directory / "nginx.conf"), "app-protocol-mismatch")
    assert (crossed, matched) == (502, 200)
    assert "invalid request block size" in (directory / "uwsgi.log").read_text()
    conf = (directory / "nginx.conf").read_text()
    assert [(f.line, f.col) for f in found] == [place(conf, "proxy_pass http://")]


def test_uwsgi_pass_to_an_http_socket_never_gets_an_answer_as_app_protocol_mismatch_says(tmp_path):
    locations = ("        location /crossed/ { include uwsgi_params; uwsgi_pass {app}; uwsgi_read_timeout 1s; }\n"
                 "        location / { proxy_pass http://{app}; }\n")
    with uwsgi_behind_nginx(tmp_path, "[uwsgi]\nhttp-socket = {app}\n", locations) as (port, directory):
        crossed, _, _ = fetch(port, "/crossed/")
        matched, _, _ = fetch(port, "/")
        found = only(lint_file(directory / "nginx.conf"), "app-protocol-mismatch")
    # uWSGI's HTTP parser waits for an HTTP request that never comes: nginx gives up (504).
    assert (crossed, matched) == (504, 200)
    conf = (directory / "nginx.conf").read_text()
    assert [(f.line, f.col) for f in found] == [place(conf, "uwsgi_pass 127.0.0.1")]


@pytest.mark.parametrize("buffer_size, status", [(None, 502), (32768, 200)])
def test_a_header_nginx_lets_through_gets_502_from_uwsgis_default_buffer_as_uwsgi_buffer_size_says(
        tmp_path, buffer_size, status):
    ini = "[uwsgi]\nsocket = {app}\n" + (f"buffer-size = {buffer_size}\n" if buffer_size else "")
    location = "        location / { include uwsgi_params; uwsgi_pass {app}; }\n"
    with uwsgi_behind_nginx(tmp_path, ini, location) as (port, directory):
        small, _, _ = fetch(port, "/")
        # One 6000-byte header line: under nginx's 8k buffer, over uWSGI's 4096-byte default.
        large, _, _ = fetch(port, "/", {"Cookie": "session=" + "x" * 6000})
        found = only(lint_file(directory / "nginx.conf"), "uwsgi-buffer-size")
    assert (small, large) == (200, status)
    assert ("invalid request block size" in (directory / "uwsgi.log").read_text()) is (status == 502)
    assert bool(found) is (status == 502)


def test_nginx_answers_504_while_uwsgi_still_runs_the_request_as_chain_timeout_order_says(tmp_path):
    location = ("        location / {\n            include uwsgi_params;\n            uwsgi_pass {app};\n"
                "            uwsgi_read_timeout 1s;\n        }\n")
    with uwsgi_behind_nginx(tmp_path, "[uwsgi]\nsocket = {app}\nharakiri = 8\n", location) as (port, directory):
        started = time.monotonic()
        status, _, _ = fetch(port, "/slow?3")
        waited = time.monotonic() - started
        unfinished = not (directory / "slow-finished").exists()
        deadline = time.monotonic() + 10
        while not (directory / "slow-finished").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        finished = (directory / "slow-finished").exists()
        [finding] = only(lint_file(directory / "nginx.conf"), "chain-timeout-order")
    # The client got nginx's 504 after its 1 s, before the app's 3 s request was done, and the
    # app went on to the end of it (harakiri's 8 s never came).
    assert status == 504 and waited < 3 and unfinished and finished
    conf = (directory / "nginx.conf").read_text()
    assert (finding.line, finding.col) == place(conf, "uwsgi_read_timeout 1s")
    assert "harakiri 8s" in finding.message


def test_proxy_set_header_beside_uwsgi_pass_never_reaches_the_app_as_proxy_setting_without_proxy_pass_says(tmp_path):
    locations = ("        location /proxy-header/ {\n            include uwsgi_params;\n            uwsgi_pass {app};\n"
                 "            proxy_set_header X-Forwarded-Proto https;\n        }\n"
                 "        location /uwsgi-param/ {\n            include uwsgi_params;\n            uwsgi_pass {app};\n"
                 "            uwsgi_param HTTP_X_FORWARDED_PROTO https;\n        }\n")
    with uwsgi_behind_nginx(tmp_path, "[uwsgi]\nsocket = {app}\n", locations) as (port, directory):
        _, _, dead = fetch(port, "/proxy-header/")
        _, _, passed = fetch(port, "/uwsgi-param/")
        found = only(lint_file(directory / "nginx.conf"), "proxy-setting-without-proxy-pass")
    assert (dead, passed) == (b"-", b"https")
    conf = (directory / "nginx.conf").read_text()
    assert [(f.line, f.col) for f in found] == [place(conf, "proxy_set_header X-Forwarded-Proto")]
