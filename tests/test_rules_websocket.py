"""websocket-to-wsgi-app: a WebSocket location in front of a Django project served through WSGI.
The behaviour it rests on is checked on the real stack: gunicorn's gthread worker hands the
handshake to the WSGI callable, which answers it as an ordinary request, so no 101 comes back."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from conftest import free_port, owns_listener
from lint_helpers import lint_config, only, rules_of
from test_rules25_nginx_behaviour import _get, _running_nginx

WS_SITE = """
server {
    location / { proxy_pass http://127.0.0.1:8000; }
    location /ws/ {
        proxy_pass http://%s;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
}
"""
HANDSHAKE = ("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
WSGI_APP = """
def application(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such page"]
"""


def _handshake_status(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(f"GET /ws/chat/ HTTP/1.1\r\nHost: example.test\r\n{HANDSHAKE}\r\n".encode())
        head = b""
        while b"\r\n" not in head and (chunk := client.recv(4096)):
            head += chunk
    return head.split(b" ", 2)[1]


def test_a_wsgi_app_under_gthread_answers_a_websocket_handshake_as_a_plain_request(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "__init__.py").write_text("")
    (tmp_path / "project" / "wsgi.py").write_text(WSGI_APP)
    app_port, port = free_port(), free_port()
    app = subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "2", "-b",
                            f"127.0.0.1:{app_port}", "project.wsgi"], cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert owns_listener(app, app_port, time.monotonic() + 20)
        site = (WS_SITE % f"127.0.0.1:{app_port}").replace("server {", f"server {{\n    listen 127.0.0.1:{port};", 1)
        with _running_nginx(tmp_path, site) as (server, _):
            _get(port, "/", server)     # nginx is up
            status = _handshake_status(port)
    finally:
        app.terminate()
        app.wait(timeout=10)
    assert status == b"404"     # the app's own answer: no 101, no socket
    result = lint_config(tmp_path, WS_SITE % "127.0.0.1:8000",
                         app_command="gunicorn -k gthread --threads 2 -b 127.0.0.1:8000 project.wsgi")
    (finding,) = only(result, "websocket-to-wsgi-app")
    assert "project.wsgi" in finding.message and "gthread" in finding.message


@pytest.mark.parametrize("command, target, reported", [
    ("gunicorn -b 127.0.0.1:8000 project.wsgi", "127.0.0.1:8000", True),
    ("gunicorn -b 127.0.0.1:8000 project.wsgi:application", "127.0.0.1:8000", True),
    ("uwsgi --http-socket 127.0.0.1:8000 --module project.wsgi", "127.0.0.1:8000", True),
    ("uwsgi --http-socket 127.0.0.1:8000 --module project.wsgi --gevent 100", "127.0.0.1:8000", False),
    ("gunicorn -k uvicorn.workers.UvicornWorker -b 127.0.0.1:8000 project.asgi", "127.0.0.1:8000", False),
    ("gunicorn -k gevent -b 127.0.0.1:8000 project.wsgi", "127.0.0.1:8000", False),
    ("gunicorn -k gthread -b 127.0.0.1:8000 app:app", "127.0.0.1:8000", False),   # Flask-Sock can upgrade there
    ("gunicorn -b 127.0.0.1:8000 project.wsgi", "127.0.0.1:8001", False),         # /ws/ goes to daphne
])
def test_websocket_to_wsgi_app(tmp_path, command, target, reported):
    result = lint_config(tmp_path, WS_SITE % target, app_command=command)
    assert ("websocket-to-wsgi-app" in rules_of(result)) is reported


def test_upgrade_headers_copied_onto_ordinary_routes_are_not_a_websocket_endpoint(tmp_path):
    """photonix: `Connection "upgrade"` on `location ~ ^/(admin|graphql)`, which serves pages."""
    site = WS_SITE.replace("location /ws/", "location ~ ^/(admin|graphql)") % "127.0.0.1:8000"
    result = lint_config(tmp_path, site, app_command="gunicorn -b 127.0.0.1:8000 web.wsgi")
    assert "websocket-to-wsgi-app" not in rules_of(result)
