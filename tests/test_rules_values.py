"""Numbers nginx cannot hold and `access_log on`: each case linted, and each claim checked on the
real nginx (it refuses exactly the values the rule reports; `access_log on` writes a file `on`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import confgen
from conftest import require_binary

CASES = [
    ("listen 70000;", True), ("listen 0;", True), ("listen 65535;", False), ("listen 99999999999999999999;", True),
    ("listen 127.0.0.1:70000;", True), ("listen [::1]:65536;", True), ("listen [::1]:8080;", False),
    ("listen 127.0.0.1;", False), ("listen unix:/run/x.sock;", False),
    ("client_max_body_size 999999999999999999999g;", True), ("client_max_body_size 8796093022207m;", False),
    ("client_max_body_size 8796093022208m;", True), ("client_max_body_size 0;", False),
    ("proxy_buffers 8 99999999999999999999k;", True), ("proxy_buffers 8 16k;", False),
    ("gzip_min_length 99999999999999999999;", True),
    ("send_timeout 9223372036854775s;", False), ("send_timeout 9223372036854776s;", True),
    ("send_timeout 9223372036854775807ms;", False), ("send_timeout 9223372036854775808ms;", True),
    ("proxy_read_timeout 99999999999999999999s;", True), ("keepalive_timeout 9999999999999;", False),
    ("keepalive_timeout 9999999999999999;", True), ('proxy_read_timeout "1h 30m";', False),
]


def _config(line: str) -> str:
    return f"events {{}}\nhttp {{\n    server {{\n        {line}\n        location / {{ return 204; }}\n    }}\n}}\n"


@pytest.mark.parametrize("line, refused", CASES)
def test_the_rule_reports_what_nginx_refuses(tmp_path, line, refused):
    path = tmp_path / "nginx.conf"
    path.write_text(_config(line))
    found = [f for f in confgen.lint_project([str(path)], select=["value-out-of-range"]).findings]
    assert bool(found) == refused, (line, found)
    if found:
        assert found[0].line == 4 and found[0].col == 9 and "refuses to start" in found[0].message


@pytest.mark.parametrize("line, refused", CASES)
def test_nginx_refuses_exactly_those(tmp_path, line, refused):
    nginx = require_binary("nginx")
    (tmp_path / "logs").mkdir()
    path = tmp_path / "nginx.conf"
    path.write_text("error_log stderr;\npid nginx.pid;\n" + _config(line))
    result = subprocess.run([nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(path)], capture_output=True,
                            text=True, timeout=60)
    # A port nginx cannot bind here (unprivileged) is not the question: only a value it rejects.
    rejected = result.returncode != 0 and ("invalid" in result.stderr or "host not found" in result.stderr)
    assert rejected == refused, result.stderr


def test_access_log_on_writes_a_file_named_on(tmp_path):
    nginx = require_binary("nginx")
    (tmp_path / "logs").mkdir()
    path = tmp_path / "nginx.conf"
    path.write_text("error_log stderr;\npid nginx.pid;\n" + _config("access_log on;"))
    [finding] = confgen.lint_project([str(path)], select=["access-log-on"]).findings
    assert (finding.line, finding.col) == (6, 9) and 'file named "on"' in finding.message
    subprocess.run([nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(path)], capture_output=True, timeout=60,
                   check=True)
    assert (tmp_path / "on").is_file()
    path.write_text(_config("access_log off;"))
    assert not confgen.lint_project([str(path)], select=["access-log-on"]).findings
