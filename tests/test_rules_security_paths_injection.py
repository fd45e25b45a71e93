"""Security rules about paths and request data (CG60x, CG61x), with the false positives gixy's
users reported as passing cases."""

from __future__ import annotations

import pytest

from lint_helpers import full, line_of, lint_config, only

# Every finding of every lint these tests run is also compared with its snapshot.
pytestmark = pytest.mark.usefixtures("diagnostics_snapshot")


def findings(tmp_path, nginx, rule, **options):
    return only(lint_config(tmp_path, nginx, **options), rule)


# ---------------------------------------------------------------------------------------------
# alias-traversal, filesystem-root-exposure, autoindex-enabled


def test_alias_traversal_points_at_the_alias_line(tmp_path):
    nginx = "server {\n    location /static {\n        alias /srv/static/;\n    }\n}\n"
    [finding] = findings(tmp_path, nginx, "alias-traversal")
    assert finding.line == line_of(tmp_path / "nginx.conf", "alias") and "/static../" in finding.message


@pytest.mark.parametrize("location", [
    "location /favicon.ico { alias /srv/static/favicon.ico; }",   # gixy false positive: a single file
    "location = /robots { alias /srv/robots/; }",                  # exact match: nothing to append
    "location /static/ { alias /srv/static/; }",
    "location ~ ^/static/(.*)$ { alias /srv/static/$1; }",
])
def test_alias_without_traversal_is_not_reported(tmp_path, location):
    assert findings(tmp_path, f"server {{ {location} }}\n", "alias-traversal") == []


def test_alias_traversal_found_through_an_include(tmp_path):
    result = lint_config(tmp_path, "http { server { include static.conf; } }\n",
                         files={"static.conf": "location /media {\n    alias /srv/media/;\n}\n"})
    [finding] = only(result, "alias-traversal")
    assert finding.file.endswith("static.conf") and finding.line == 2


@pytest.mark.parametrize("directive, reported", [("root /;", True), ("root //;", True), ("root /srv/www;", False)])
def test_filesystem_root(tmp_path, directive, reported):
    assert bool(findings(tmp_path, f"server {{ {directive} }}\n", "filesystem-root-exposure")) is reported


def test_autoindex_on_only(tmp_path):
    assert findings(tmp_path, "server { location /a/ { autoindex on; } location /b/ { autoindex off; } }\n",
                    "autoindex-enabled")[0].line == 1


# ---------------------------------------------------------------------------------------------
# proxy-pass-normalized


def test_slash_mismatch_is_a_warning_and_a_deliberate_mapping_is_not_reported(tmp_path):
    nginx = """
        server {
            location /api { proxy_pass http://127.0.0.1:8000/v1/; }
            location /app/ { proxy_pass http://127.0.0.1:8000/; }
            location /plain/ { proxy_pass http://127.0.0.1:8000; }
            location /v2/ { proxy_pass http://127.0.0.1:8000/v2; }
        }
    """
    found = findings(tmp_path, nginx, "proxy-pass-normalized")
    assert [(f.line, f.severity) for f in found] == [(2, "warning"), (5, "warning")]
    assert "/v2/x reaches the app as /v2x" in found[1].message


def test_stream_proxy_pass_is_not_an_http_proxy_pass(tmp_path):
    # gixy false positive: proxy_pass inside stream {} takes host:port, never a URI.
    nginx = full("server { listen 80 default_server; server_tokens off; }",
                 top="stream {\n    server {\n        listen 5432;\n        proxy_pass $upstream_db;\n    }\n"
                     "    server { listen 6379; proxy_pass 10.0.0.5:6379; }\n}\n")
    result = lint_config(tmp_path, nginx)
    assert not [f for f in result.findings if f.code.startswith(("CG6", "CG7"))], result.findings


# ---------------------------------------------------------------------------------------------
# ssrf


@pytest.mark.parametrize("location", [
    "location /p { proxy_pass http://$arg_host/; }",
    "location /p { proxy_pass $http_x_target; }",
    "location /p { set $target $cookie_backend; proxy_pass http://$target; }",
    "location ~ ^/p/([^/]+)/(.*)$ { proxy_pass http://$1/$2; }",
    "location /p { fastcgi_pass $arg_fcgi:9000; }",
])
def test_ssrf_from_request_data(tmp_path, location):
    assert findings(tmp_path, f"server {{ {location} }}\n", "ssrf")


@pytest.mark.parametrize("config", [
    "server { location ~ ^/p/(eu|us)/(.*)$ { proxy_pass http://$1.internal/$2; } }",    # a fixed set of words
    "server { location /p/ { internal; proxy_pass http://$arg_host; } }",               # only the app reaches it
    "server { location /p/ { proxy_pass http://backend$request_uri; } }",               # the path, not the host
    "map $arg_r $be { default eu.internal; us us.internal; }\n"
    "server { location /p/ { resolver 10.0.0.2; proxy_pass http://$be; } }",
])
def test_no_ssrf(tmp_path, config):
    assert findings(tmp_path, config + "\n", "ssrf") == []


# ---------------------------------------------------------------------------------------------
# http-splitting


@pytest.mark.parametrize("config", [
    "server { location / { add_header X-Path $uri; } }",
    "server { location / { return 302 https://example.com$document_uri; } }",
    "server { location ~ ^/go/([^/]+)$ { return 302 https://example.com/$1; } }",
    "server { location / { rewrite ^/old/ https://example.com$uri redirect; } }",
    "server { location / { proxy_pass http://backend$uri; } }",
    "server { location ~ ^/x/([^/]+)$ { proxy_set_header X-Item $1; proxy_pass http://backend; } }",
])
def test_http_splitting(tmp_path, config):
    assert findings(tmp_path, config + "\n", "http-splitting")


@pytest.mark.parametrize("config", [
    "server { location / { return 302 https://example.com$request_uri; } }",       # never decoded
    "server { location ~ ^/go/([a-z0-9-]+)$ { return 302 https://example.com/$1; } }",
    "server { location ~ ^/go/([a-z0-9]+)$ { add_header X-Id $1; } }",
    "server { location / { return 200 $uri; } }",                                  # a body, not a header
    # nginx escapes a redirecting rewrite's own captures when the URI was percent-encoded.
    "server { location / { rewrite ^/old/([^?]+)$ https://example.com/$1 redirect; } }",
    "server { location / { if ($request_uri ~ ^/([^/]+)) { return 302 /x/$1; } } }",  # raw, not decoded
])
def test_no_http_splitting(tmp_path, config):
    assert findings(tmp_path, config + "\n", "http-splitting") == []


# ---------------------------------------------------------------------------------------------
# host-spoofing


def test_host_spoofing_is_found_through_inheritance_at_the_setting_line(tmp_path):
    nginx = """
        server {
            proxy_set_header Host $http_host;
            location / { proxy_pass http://127.0.0.1:8000; }
            location /b/ { proxy_pass http://127.0.0.1:8000; }
            location /c/ { proxy_set_header Host $host; proxy_pass http://127.0.0.1:8000; }
        }
    """
    [finding] = findings(tmp_path, nginx, "host-spoofing")
    assert finding.line == 2


@pytest.mark.parametrize("value, reported", [("$http_host", True), ("$arg_h", True), ("$host", False),
                                             ("$proxy_host", False), ("api.internal", False)])
def test_host_values(tmp_path, value, reported):
    nginx = f"server {{ location / {{ proxy_set_header Host {value}; proxy_pass http://a; }} }}\n"
    assert bool(findings(tmp_path, nginx, "host-spoofing")) is reported


# ---------------------------------------------------------------------------------------------
# invalid-capture-reference


@pytest.mark.parametrize("config, reported", [
    ("server { location ~ ^/u/(\\d+)$ { return 301 /p/$2; } }", True),
    ("server { location ~ ^/u/(\\d+)$ { return 301 /p/$1; } }", False),
    ("server { location ~ ^/u/(?<id>\\d+)/(\\w+)$ { return 301 /p/$2; } }", False),   # named groups count
    ("server { location /u/ { return 301 /p/$1; } }", True),                           # no regex at all
    ("server { server_name ~^(www\\.)?(?<d>.+)$; return 301 https://$2; }", False),     # server_name regex
    ("server { location / { rewrite ^/a/(.*)$ /b/$1 last; } }", False),
    ("server { location / { rewrite ^/a/(.*)$ /b/$2 last; } }", True),
    ("map $uri $m { ~^/a/(.*)$ $1; default x; }", False),
    ("server { location ~ ^/(a)$ { if ($arg_x ~ ^(b)(c)$) { return 302 /$2; } } }", False),
])
def test_capture_references(tmp_path, config, reported):
    assert bool(findings(tmp_path, config + "\n", "invalid-capture-reference")) is reported


def test_no_splitting_through_the_proxy_pass_host(tmp_path):
    # A line break in the host part makes nginx refuse the URL (a header line needs ":", read as
    # an invalid port) or fail to resolve it: no request is sent (tests/test_rules25_nginx_behaviour.py).
    # The client choosing the server is ssrf's finding.
    nginx = "server { location ~ ^/p/([^/]+)$ { proxy_pass http://$1.internal; } }\n"
    assert not findings(tmp_path, nginx, "http-splitting") and findings(tmp_path, nginx, "ssrf")
    assert findings(tmp_path, nginx.replace("http://$1.internal", "http://app.internal/$1"), "http-splitting")
