"""nginx -> uwsgi_pass -> uWSGI on the real stack: uwsgi-buffer-size and param-named-like-a-header.

nginx's stock uwsgi_params sends the URL twice (REQUEST_URI, and QUERY_STRING or PATH_INFO), so
a request line nginx accepts (up to one large_client_header_buffers buffer, 8k) makes a uwsgi
packet about twice as long; uWSGI refuses a packet over its buffer-size and nginx answers 502."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path

import pytest

from conftest import free_port, owns_listener, require_binary
from lint_helpers import lint_config, only
from real_stack import get, nginx_prefix, spawn, start_nginx, stop

# nginx's conf/uwsgi_params as shipped (nginx 1.22).
UWSGI_PARAMS = """
uwsgi_param  QUERY_STRING       $query_string;
uwsgi_param  REQUEST_METHOD     $request_method;
uwsgi_param  CONTENT_TYPE       $content_type;
uwsgi_param  CONTENT_LENGTH     $content_length;
uwsgi_param  REQUEST_URI        $request_uri;
uwsgi_param  PATH_INFO          $document_uri;
uwsgi_param  DOCUMENT_ROOT      $document_root;
uwsgi_param  SERVER_PROTOCOL    $server_protocol;
uwsgi_param  REQUEST_SCHEME     $scheme;
uwsgi_param  HTTPS              $https if_not_empty;
uwsgi_param  REMOTE_ADDR        $remote_addr;
uwsgi_param  REMOTE_PORT        $remote_port;
uwsgi_param  SERVER_PORT        $server_port;
uwsgi_param  SERVER_NAME        $server_name;
"""
APP = "def application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n" \
      "    return [b'ok']\n"


def _uwsgi() -> str:
    found = shutil.which("uwsgi", path=str(Path(sys.executable).parent)) or shutil.which("uwsgi")
    if found is None:
        pytest.skip("uWSGI is not installed (pip install uwsgi)")
    return found


@contextlib.contextmanager
def _stack(directory: Path, app: str, locations: str, uwsgi_options: list[str]):
    """nginx with ``locations`` ({app} for the app's address) in front of uWSGI running ``app``;
    yields (nginx's port, the config's path)."""
    nginx, uwsgi = require_binary("nginx"), _uwsgi()
    directory.mkdir(exist_ok=True)
    app_port, nginx_port = free_port(), free_port()
    (directory / "app.py").write_text(app)
    conf = nginx_prefix(directory, f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log;\nevents {{}}\n"
                                   f"http {{\n    access_log off;\n    server {{\n"
                                   f"        listen 127.0.0.1:{nginx_port};\n"
                                   + locations.replace("{app}", f"127.0.0.1:{app_port}") + "    }\n}\n")
    (conf.parent / "uwsgi_params").write_text(UWSGI_PARAMS)
    uwsgi_process = spawn([uwsgi, "--socket", f"127.0.0.1:{app_port}", *uwsgi_options, "--wsgi-file", "app.py",
                           "--processes", "1", "--disable-logging"], directory / "uwsgi.out", cwd=directory)
    server = start_nginx(nginx, directory, conf)
    try:
        deadline = time.monotonic() + 20
        assert owns_listener(uwsgi_process, app_port, deadline) and owns_listener(server, nginx_port, deadline)
        yield nginx_port, conf
    finally:
        stop([server, uwsgi_process])


def _statuses(directory: Path, buffer_size: int, query_lengths: list[int]) -> list:
    locations = "        location / {\n            include uwsgi_params;\n            uwsgi_pass {app};\n        }\n"
    with _stack(directory, APP, locations, ["--buffer-size", str(buffer_size)]) as (port, _):
        return [get(port, "/search?q=" + "a" * length)[0] for length in query_lengths]


def test_a_query_half_as_long_as_buffer_size_already_fails_in_uwsgi(tmp_path):
    """buffer-size 8192 == the 8k request line nginx accepts: a 3 KB query passes, a 5 KB one
    (well inside nginx's limit) gets 502 from uWSGI; with buffer-size 32768 both pass."""
    assert _statuses(tmp_path / "small", 8192, [3000, 5000]) == [200, 502]
    assert _statuses(tmp_path / "large", 32768, [3000, 5000, 7500]) == [200, 200, 200]


@pytest.mark.parametrize("buffer_size, reported", [(4096, True), (8192, True), (16383, True), (32768, False)])
def test_the_rule_counts_the_url_twice(tmp_path, buffer_size, reported):
    (tmp_path / "uwsgi.ini").write_text(f"[uwsgi]\nsocket = 127.0.0.1:3031\nbuffer-size = {buffer_size}\n"
                                        "module = app:application\n")
    (tmp_path / "uwsgi_params").write_text(UWSGI_PARAMS)
    result = lint_config(tmp_path, "events {}\nhttp {\n server {\n  listen 80;\n"
                                   "  location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; }\n }\n}\n")
    found = only(result, "uwsgi-buffer-size")
    assert bool(found) is reported, [f.message for f in result.findings]
    if reported:
        assert found[0].line == 5 and f"buffer-size {buffer_size} bytes" in found[0].message
        assert "twice" in found[0].message


def test_one_app_behind_several_uwsgi_pass_is_one_finding(tmp_path):
    """The cause is the app's buffer-size: two servers passing to it give one finding, at the first
    uwsgi_pass, sized for the larger of their limits."""
    (tmp_path / "uwsgi.ini").write_text("[uwsgi]\nsocket = 127.0.0.1:3031\nbuffer-size = 8192\nmodule = app:application\n")
    (tmp_path / "uwsgi_params").write_text(UWSGI_PARAMS)
    result = lint_config(tmp_path, "events {}\nhttp {\n"
                                   " server { listen 80; location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; } }\n"
                                   " server { listen 443 ssl; ssl_certificate /c; ssl_certificate_key /k;\n"
                                   "  large_client_header_buffers 4 16k;\n"
                                   "  location / { include uwsgi_params; uwsgi_pass 127.0.0.1:3031; } }\n}\n")
    [finding] = only(result, "uwsgi-buffer-size")
    assert finding.line == 3 and "(and 1 more uwsgi_pass to it)" in finding.message
    assert "up to 16384 bytes (large_client_header_buffers 4 16k)" in finding.message


ENVIRON_APP = ("def application(environ, start_response):\n"
               "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
               "    return [repr((environ.get('X-Forwarded-For'), environ.get('HTTP_X_FORWARDED_FOR'))).encode()]\n")


def test_a_param_spelled_as_a_header_leaves_the_clients_header_to_the_app(tmp_path):
    """param-named-like-a-header on the real stack: `uwsgi_param X-Forwarded-For $remote_addr` is an
    environ key of that name, and the app's HTTP_X_FORWARDED_FOR is the client's 6.6.6.6; the
    rule's (unsafe) fix, HTTP_X_FORWARDED_FOR, makes it nginx's value."""
    locations = ("        location /a { uwsgi_param X-Forwarded-For $remote_addr; uwsgi_pass {app}; }\n"
                 "        location /b { uwsgi_param HTTP_X_FORWARDED_FOR $remote_addr; uwsgi_pass {app}; }\n")
    with _stack(tmp_path, ENVIRON_APP, locations, []) as (port, conf):
        spelled, named = (get(port, path, headers={"X-Forwarded-For": "6.6.6.6"})[2] for path in ("/a", "/b"))
    assert spelled == b"('127.0.0.1', '6.6.6.6')" and named == b"(None, '127.0.0.1')"
    found = only(lint_config(tmp_path / "lint", conf.read_text(), nginx_version="1.22.1"), "param-named-like-a-header")
    assert [f.line for f in found] == [8] and found[0].fix is not None and not found[0].fix.safe
    assert "`uwsgi_param HTTP_X_FORWARDED_FOR ...`" in found[0].message


REQUEST_APP = ("def application(environ, start_response):\n"
               "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
               "    return [repr(tuple(environ.get(k) for k in ('REQUEST_METHOD', 'PATH_INFO', 'QUERY_STRING'))).encode()]\n")


def test_uwsgi_pass_without_params_hands_the_app_no_method_path_or_query(tmp_path):
    """uwsgi-params-missing on the real stack: without `include uwsgi_params` the app's environ has
    no REQUEST_METHOD, PATH_INFO or QUERY_STRING; with it, the request as sent."""
    locations = ("        location /bare/ { uwsgi_pass {app}; }\n"
                 "        location /full/ { include uwsgi_params; uwsgi_pass {app}; }\n")
    with _stack(tmp_path, REQUEST_APP, locations, []) as (port, conf):
        bare, full = (get(port, path)[2] for path in ("/bare/search?q=1", "/full/search?q=1"))
    assert bare == b"(None, None, None)" and full == b"('GET', '/full/search', 'q=1')"
    found = only(lint_config(tmp_path / "lint", conf.read_text(), nginx_version="1.22.1",
                             files={"uwsgi_params": UWSGI_PARAMS}), "uwsgi-params-missing")
    lines = conf.read_text().splitlines()
    assert [f.line for f in found] == [next(i for i, text in enumerate(lines, 1) if "location /bare/" in text)]


@pytest.mark.parametrize("key, workers", [("process", 1), ("processes", 3)])
def test_a_misspelled_option_in_the_ini_is_kept_as_a_placeholder_and_ignored(tmp_path, key, workers):
    """debian-mailman3-web's `process = 2`: uWSGI starts with no complaint and one worker."""
    uwsgi = _uwsgi()
    port = free_port()
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "uwsgi.ini").write_text(f"[uwsgi]\nhttp-socket = 127.0.0.1:{port}\nwsgi-file = app.py\n"
                                        f"master = true\ndie-on-term = true\n{key} = 3\n")
    process = spawn([uwsgi, "--ini", "uwsgi.ini"], tmp_path / "uwsgi.out", cwd=tmp_path)
    try:
        assert owns_listener(process, port, time.monotonic() + 20)
        deadline = time.monotonic() + 10
        while (tmp_path / "uwsgi.out").read_text().count("spawned uWSGI worker") < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        log = (tmp_path / "uwsgi.out").read_text()
    finally:
        stop([process])
    assert log.count("spawned uWSGI worker") == workers, log
    assert ("Operational MODE: single process" in log) is (workers == 1)
    result = lint_config(tmp_path, "server { location / { proxy_pass http://127.0.0.1:%d; } }\n" % port)
    found = only(result, "uwsgi-option-misspelled")
    assert [f.line for f in found] == ([6] if key == "process" else [])


def test_uwsgi_pass_to_gunicorn_fails_every_request_as_app_protocol_mismatch_says(tmp_path):
    """Set 25's fastdog: `uwsgi_pass` to gunicorn, which speaks HTTP only. gunicorn waits for an
    HTTP request line that never comes, until its worker timeout (2 s here, 30 s by default)
    kills the worker: the request fails, and proxy_pass to the same gunicorn answers 200."""
    nginx = require_binary("nginx")
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if gunicorn is None:
        pytest.skip("gunicorn is not installed")
    (tmp_path / "app.py").write_text(APP)
    app_port, nginx_port = free_port(), free_port()
    locations = (f"        location /u/ {{ include uwsgi_params; uwsgi_pass 127.0.0.1:{app_port}; }}\n"
                 f"        location /p/ {{ proxy_pass http://127.0.0.1:{app_port}; }}\n")
    conf = nginx_prefix(tmp_path, f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                                  f"http {{\n    access_log off;\n    server {{\n        listen 127.0.0.1:{nginx_port};\n"
                                  + locations + "    }\n}\n")
    (conf.parent / "uwsgi_params").write_text(UWSGI_PARAMS)
    app = spawn([gunicorn, "--bind", f"127.0.0.1:{app_port}", "--timeout", "2", "--workers", "1", "app:application"],
                tmp_path / "gunicorn.out", cwd=tmp_path)
    server = start_nginx(nginx, tmp_path, conf)
    try:
        deadline = time.monotonic() + 20
        assert owns_listener(app, app_port, deadline) and owns_listener(server, nginx_port, deadline)
        crossed, direct = get(nginx_port, "/u/x", timeout=20)[0], get(nginx_port, "/p/x")[0]
    finally:
        stop([server, app])
    assert crossed != 200 and direct == 200, (crossed, direct)
    result = lint_config(tmp_path / "lint", "events {}\nhttp {\n server {\n  listen 80;\n" + locations.replace(
        str(app_port), "8000") + " }\n}\n", gunicorn='bind = "127.0.0.1:8000"\n')
    [finding] = only(result, "app-protocol-mismatch")
    assert finding.line == 5 and "speaks HTTP only on 127.0.0.1:8000" in finding.message
