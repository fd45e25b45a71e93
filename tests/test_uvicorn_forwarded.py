"""uvicorn-forwarded-untrusted (CG214): nginx in front of standalone uvicorn sets X-Forwarded-*,
and uvicorn ignores them because nginx's address is not in --forwarded-allow-ips. Checked on the
real stack: behind real nginx, uvicorn on a unix socket answers with the scheme nginx forwarded
only with ``--forwarded-allow-ips '*'`` (the fix), never with its default list."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import confgen
from confgen.lint.fixes.apply import fix_in_place
from conftest import free_port, owns_listener, require_binary, scratch_nginx_conf
from lint_helpers import line_of, lint_config

NGINX = """
events {}
http {
    server {
        listen 80;
        location / {
            proxy_pass http://%s;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }
}
"""


def findings(tmp_path, target: str, command: str, files: dict | None = None):
    result = lint_config(tmp_path, NGINX % target, app_command=command, files=files, select=["uvicorn-forwarded-untrusted"])
    return [f for f in result.findings if f.rule == "uvicorn-forwarded-untrusted"]


def test_a_unix_socket_peer_is_never_trusted_by_the_default_list(tmp_path):
    found = findings(tmp_path, "unix:/run/app.sock", "uvicorn main:app --uds /run/app.sock")
    assert [(f.line, f.severity) for f in found] == [(line_of(tmp_path / "nginx.conf", "X-Forwarded-Proto"), "warning")]
    assert "127.0.0.1,::1" in found[0].message and "uvicorn's default" in found[0].message
    assert "'*'" in found[0].message


def test_the_fix_adds_the_option_to_the_command_where_it_is_written(tmp_path):
    findings(tmp_path, "unix:/run/app.sock", "uvicorn main:app --uds /run/app.sock")
    run = fix_in_place([str(tmp_path / "nginx.conf")], nginx_version="1.22.1", select=["uvicorn-forwarded-untrusted"])
    assert run.applied == 1
    assert (tmp_path / "Procfile").read_text() == "web: uvicorn --forwarded-allow-ips '*' main:app --uds /run/app.sock\n"
    assert confgen.lint_files([str(tmp_path / "nginx.conf")], nginx_version="1.22.1",
                              select=["uvicorn-forwarded-untrusted"]) == []


def test_a_value_already_written_is_replaced_not_repeated(tmp_path):
    findings(tmp_path, "unix:/run/app.sock", "uvicorn main:app --uds /run/app.sock --forwarded-allow-ips=127.0.0.1")
    fix_in_place([str(tmp_path / "nginx.conf")], nginx_version="1.22.1", select=["uvicorn-forwarded-untrusted"])
    assert (tmp_path / "Procfile").read_text() == "web: uvicorn main:app --uds /run/app.sock '--forwarded-allow-ips=*'\n"


def test_nginx_on_another_host_is_not_trusted_and_no_fix_is_offered(tmp_path):
    found = findings(tmp_path, "10.0.0.5:8000", "uvicorn main:app --host 0.0.0.0 --port 8000")
    assert len(found) == 1 and "non-loopback" in found[0].message and found[0].fix is None


@pytest.mark.parametrize("command, files", [
    ("uvicorn main:app --host 127.0.0.1 --port 8000", None),                      # loopback: trusted by default
    ("uvicorn main:app --host 0.0.0.0 --port 8000 --forwarded-allow-ips 10.0.0.0/8", None),  # a list for nginx
    ("uvicorn main:app --host 0.0.0.0 --port 8000 --no-proxy-headers", None),     # the app's own business
    ("FORWARDED_ALLOW_IPS='*' uvicorn main:app --host 0.0.0.0 --port 8000", None),
])
def test_silent_where_nginx_is_trusted_or_the_headers_are_not_uvicorns(tmp_path, command, files):
    target = "127.0.0.1:8000" if "127.0.0.1 --port" in command else "10.0.0.5:8000"
    assert findings(tmp_path, target, command, files) == []


def test_silent_when_nginx_sets_no_forwarded_header(tmp_path):
    nginx = "events {}\nhttp { server { listen 80; location / { proxy_pass http://unix:/run/app.sock; } } }\n"
    result = lint_config(tmp_path, nginx, app_command="uvicorn main:app --uds /run/app.sock",
                         select=["uvicorn-forwarded-untrusted"])
    assert result.findings == []


# ---------------------------------------------------------------------------------------------
# The real stack

SCHEME_APP = '''async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = scope["scheme"].encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
'''
TO_SOCKET = """    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://unix:{socket};
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
"""


def _scheme_seen(root: Path, extra: list[str]) -> tuple[str, list]:
    nginx = require_binary("nginx")
    pytest.importorskip("uvicorn")
    (root / "tmp").mkdir(parents=True)
    socket, port = root / "app.sock", free_port()
    # The workers run as this user, so they can reach the socket in the test's private directory.
    user = pwd.getpwuid(os.getuid()).pw_name
    (root / "nginx.conf").write_text(scratch_nginx_conf(root, TO_SOCKET.format(port=port, socket=socket), user=user))
    (root / "app.py").write_text(SCHEME_APP)
    command = ["uvicorn", "app:app", "--uds", str(socket), *extra]
    (root / "Procfile").write_text("web: " + " ".join(command) + "\n")
    found = [f for f in confgen.lint_files([str(root / "nginx.conf")], nginx_version="1.22.1")
             if f.rule == "uvicorn-forwarded-untrusted"]
    app = subprocess.Popen([sys.executable, "-m", *command, "--no-access-log"], cwd=root,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([nginx, "-p", str(root), "-c", str(root / "nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert socket.exists(), "uvicorn did not create its socket"
        assert owns_listener(proxy, port, deadline), "nginx did not take its port"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            return response.read().decode(), found
    finally:
        for process in (proxy, app):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_real_uvicorn_on_a_socket_ignores_the_forwarded_scheme_where_confgen_says_so(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("nginx's master here runs as root (like tests/test_chain_real_stack.py)")
    scheme, found = _scheme_seen(tmp_path / "default", [])
    assert scheme == "http" and len(found) == 1
    scheme, found = _scheme_seen(tmp_path / "fixed", ["--forwarded-allow-ips", "*"])
    assert scheme == "https" and found == []
