"""gzip hygiene and version-aware deprecations."""

from __future__ import annotations

import pytest

from lint_helpers import lint_config, only, rules_of


@pytest.mark.parametrize("setting, reported", [
    ('gzip_disable "msie6";', True), ("gzip_disable MSIE6;", True), ('gzip_disable "Bot";', False),
])
def test_gzip_obsolete_msie6_is_info(tmp_path, setting, reported):
    result = lint_config(tmp_path, f"server {{ gzip on; {setting} }}\n")
    assert ("gzip-obsolete-msie6" in rules_of(result)) is reported
    assert not result.has_problems   # info only: never fails a run on its own


@pytest.mark.parametrize("level, reported", [("9", True), ("8", True), ("7", False), ("6", False), ("1", False)])
def test_gzip_level_high(tmp_path, level, reported):
    # Level 7 costs 1.1-1.2x level 6's CPU; 8 and 9 up to 2.8x and 5.8x (bench/gzip_levels.py).
    result = lint_config(tmp_path, f"http {{ gzip on; gzip_comp_level {level}; }}\n")
    assert ("gzip-level-high" in rules_of(result)) is reported


@pytest.mark.parametrize("line, version, severity, needle", [
    ("ssl on;", "1.14.2", None, None),
    ("ssl on;", "1.22.1", "warning", "listen 443 ssl"),
    ("ssl on;", "1.25.1", "error", "refuses to start"),
    ("listen 443 ssl http2;", "1.25.0", None, None),
    ("listen 443 ssl http2;", "1.25.1", "warning", "http2 on;"),
    ("http2_push /style.css;", "1.25.1", "warning", "obsolete"),
    ("http2_push_preload on;", "1.22.1", None, None),
    ("http2_idle_timeout 30s;", "1.19.6", None, None),
    ("http2_idle_timeout 30s;", "1.19.7", "warning", "keepalive_timeout"),
    ("http2_recv_timeout 30s;", "1.22.1", "warning", "client_header_timeout"),
    ("http2_max_requests 1000;", "1.22.1", "warning", "keepalive_requests"),
    ("http2_max_field_size 8k;", "1.22.1", "warning", "large_client_header_buffers"),
    ("http2_max_header_size 32k;", "1.22.1", "warning", "large_client_header_buffers"),
    ("listen 443 ssl spdy;", "1.22.1", "error", "http2"),
    ("spdy_headers_comp 5;", "1.22.1", "error", "http2_"),
    ("http2_chunk_size 8k;", "1.25.1", None, None),
    ("http2 on;", "1.25.1", None, None),
])
def test_deprecated_directive_by_version(tmp_path, line, version, severity, needle):
    result = lint_config(tmp_path, f"server {{\n    {line}\n}}\n", nginx_version=version)
    found = only(result, "deprecated-directive")
    if severity is None:
        assert not found
        return
    (finding,) = found
    assert (finding.severity, finding.line) == (severity, 2)
    assert needle in finding.message


def test_deprecated_directive_in_an_included_file(tmp_path):
    result = lint_config(tmp_path, "server { include tls.conf; }\n", files={"tls.conf": "listen 443 ssl;\nssl on;\n"},
                         nginx_version="1.25.1")
    (finding,) = only(result, "deprecated-directive")
    assert finding.file.endswith("tls.conf") and finding.line == 2
