"""Security rules about response headers (CG62x), regexes (CG63x) and access control (CG64x)."""

from __future__ import annotations

import pytest

from confgen.nginx.variables import parse_regex
from confgen.lint.rules.security_regex import redos_problem
from lint_helpers import lint_config, only

# Every finding of every lint these tests run is also compared with its snapshot.
pytestmark = pytest.mark.usefixtures("diagnostics_snapshot")

HSTS = 'add_header Strict-Transport-Security "max-age=31536000" always;'


def findings(tmp_path, nginx, rule, **options):
    return only(lint_config(tmp_path, nginx, **options), rule)


# ---------------------------------------------------------------------------------------------
# add-header-redefinition


def test_dropped_security_headers_are_named_at_the_inner_add_header(tmp_path):
    nginx = f"""
        server {{
            {HSTS}
            add_header X-Frame-Options DENY always;
            add_header X-Served-By web1;
            location /static/ {{
                add_header Cache-Control public;
            }}
        }}
    """
    [finding] = findings(tmp_path, nginx, "add-header-redefinition")
    assert finding.line == 6
    assert "Strict-Transport-Security, X-Frame-Options from outside are not sent" in finding.message
    # The ordinary header the same line drops is named here, not in a second finding.
    assert "(nor X-Served-By)" in finding.message
    assert findings(tmp_path, nginx, "add-header-inheritance") == []


def test_headers_readded_by_an_include_are_not_dropped(tmp_path):
    # gixy false positive: the include repeats the security headers inside the location.
    nginx = f"server {{\n    {HSTS}\n    location /static/ {{\n        include security-headers.conf;\n" \
            f"        add_header Cache-Control public;\n    }}\n}}\n"
    result = lint_config(tmp_path, nginx, files={"security-headers.conf": HSTS + "\n"})
    assert only(result, "add-header-redefinition") == []


@pytest.mark.parametrize("version, reported", [("1.29.3", False), ("1.30.0", False), ("1.29.2", True)])
def test_add_header_inherit_merge_from_1_29_3(tmp_path, version, reported):
    nginx = f"http {{\n    add_header_inherit merge;\n    server {{\n        {HSTS}\n" \
            f"        location / {{ add_header Cache-Control public; }}\n    }}\n}}\n"
    found = findings(tmp_path, nginx, "add-header-redefinition", nginx_version=version)
    assert bool(found) is reported
    if reported:
        assert "1.29.3" in found[0].message


def test_add_header_inherit_off_is_deliberate(tmp_path):
    nginx = f"server {{ {HSTS} location / {{ add_header_inherit off; add_header X-A b; }} }}\n"
    assert findings(tmp_path, nginx, "add-header-redefinition", nginx_version="1.29.3") == []


def test_if_inside_location_drops_headers_too(tmp_path):
    nginx = "server { location / { add_header X-Frame-Options DENY always; if ($arg_x) { add_header X-A b; } } }\n"
    assert findings(tmp_path, nginx, "add-header-redefinition")


# ---------------------------------------------------------------------------------------------
# add-header-not-always, add-header-multiline, add-header-content-type


def test_not_always_is_info_and_only_for_security_headers(tmp_path):
    nginx = "server { add_header X-Frame-Options DENY; add_header Cache-Control public; " \
            "add_header X-Content-Type-Options nosniff always; }\n"
    found = findings(tmp_path, nginx, "add-header-not-always")
    assert [(f.severity, "X-Frame-Options" in f.message) for f in found] == [("info", True)]


def test_multiline_value(tmp_path):
    nginx = "server {\n    add_header Content-Security-Policy \"default-src 'self';\n        img-src *\";\n}\n"
    assert findings(tmp_path, nginx, "add-header-multiline")[0].line == 2


def test_content_type_via_add_header(tmp_path):
    assert findings(tmp_path, "server { add_header content-type text/plain; }\n", "add-header-content-type")


# ---------------------------------------------------------------------------------------------
# origins-regex, valid-referers-none, unanchored-regex


@pytest.mark.parametrize("regex, problem", [
    ("^https://example\\.com", "not closed"),
    ("https://example\\.com$", "no ^"),
    ("^https://www.example\\.com$", "unescaped"),
])
def test_origin_checks_that_accept_attackers(tmp_path, regex, problem):
    nginx = f'server {{ if ($http_origin ~* "{regex}") {{ add_header Access-Control-Allow-Origin $http_origin; }} }}\n'
    [finding] = findings(tmp_path, nginx, "origins-regex")
    assert problem in finding.message


@pytest.mark.parametrize("config", [
    'server { if ($http_origin ~* "^https://([a-z0-9-]+\\.)?example\\.com(:[0-9]+)?$") { return 204; } }',
    'server { if ($http_referer ~ "^https://example\\.com/") { return 204; } }',
    'server { if ($http_origin !~ "^https://example\\.com$") { return 403; } }',   # a tight rejecting check
    'server { if ($http_referer ~* "(spam|casino)") { return 403; } }',               # a blocklist
    'server { if ($http_user_agent ~ "bot") { return 403; } }',
])
def test_origin_checks_that_are_fine(tmp_path, config):
    assert findings(tmp_path, config + "\n", "origins-regex") == []


def test_origin_check_in_a_map(tmp_path):
    nginx = ("map $http_origin $cors { default ''; ~^https://app.example.com$ $http_origin; }\n"
             "server { location / { add_header Access-Control-Allow-Origin $cors; } }\n")
    assert "unescaped" in findings(tmp_path, nginx, "origins-regex")[0].message
    # The same map read by nothing lets nothing through.
    assert findings(tmp_path, nginx.splitlines()[0] + "\n", "origins-regex") == []


def test_valid_referers(tmp_path):
    nginx = "server { location /a/ { valid_referers blocked example.com; } location /b/ { valid_referers example.com; } }\n"
    assert len(findings(tmp_path, nginx, "valid-referers-none")) == 1


@pytest.mark.parametrize("regex, reported", [("\\.php", True), ("\\.php$", False), ("^/api/", False)])
def test_unanchored_location_regex(tmp_path, regex, reported):
    nginx = f"server {{ location ~ {regex} {{ fastcgi_pass unix:/run/php.sock; }} }}\n"
    assert bool(findings(tmp_path, nginx, "unanchored-regex")) is reported


# ---------------------------------------------------------------------------------------------
# regex-redos: a pure-Python analysis of the parse tree


@pytest.mark.parametrize("pattern", ["(a+)+$", "^/(\\w+\\s?)*$", "^(a|aa)*$", "(x+x+)+y",
                                     "^(\\d|\\d\\d)+$"])
def test_redos_shapes(pattern):
    tree = parse_regex(pattern)
    assert tree is not None
    assert redos_problem(tree), pattern


@pytest.mark.parametrize("pattern", ["^/api/.*$", "^/(/[a-z]+)*$", "^(foo|bar)+$", "\\.(jpg|png|gif)$",
                                     "^/static/[a-z0-9._-]+$", "^/u/(?<id>\\d+)$", "^(ab|cd)*e$"])
def test_no_redos(pattern):
    assert redos_problem(parse_regex(pattern)) is None


def test_redos_in_config_and_unparsable_regexes_are_skipped(tmp_path):
    nginx = 'server { location ~ ^/(a+)+$ { return 404; } location ~ "^/(?<x>a)\\g{x}[[:alpha:]]$" { return 404; } }\n'
    assert len(findings(tmp_path, nginx, "regex-redos")) == 1


# ---------------------------------------------------------------------------------------------
# allow-without-deny, return-bypasses-allow-deny, status-page-exposed


def test_allow_without_deny_and_an_outer_deny_does_not_help(tmp_path):
    nginx = "server {\n    deny all;\n    location /admin/ {\n        allow 10.0.0.0/8;\n    }\n" \
            "    location /ok/ { allow 10.0.0.0/8; deny all; }\n    location /open/ { allow all; }\n}\n"
    [finding] = findings(tmp_path, nginx, "allow-without-deny")
    assert finding.line == 4


def test_return_bypasses_inherited_deny(tmp_path):
    nginx = "server {\n    allow 10.0.0.0/8;\n    deny all;\n    location /health { return 200 ok; }\n" \
            "    location /app { proxy_pass http://a; }\n}\nserver { location / { return 301 /x; } }\n"
    [finding] = findings(tmp_path, nginx, "return-bypasses-allow-deny")
    assert finding.line == 4 and ":3" in finding.message


@pytest.mark.parametrize("config, reported", [
    ("server { listen 80; location /s { stub_status; } }", True),
    ("server { listen 80; location /s { stub_status; allow 127.0.0.1; deny all; } }", False),
    ("server { listen 127.0.0.1:8080; location /s { stub_status; } }", False),
    ("server { listen 80; location /s { stub_status; auth_basic on; auth_basic_user_file /etc/htpasswd; } }", False),
    ("server { listen 80; allow 10.0.0.0/8; deny all; location /s { stub_status; } }", False),
])
def test_status_page(tmp_path, config, reported):
    assert bool(findings(tmp_path, config + "\n", "status-page-exposed")) is reported


# ---------------------------------------------------------------------------------------------
# if-is-evil, map-without-default


@pytest.mark.parametrize("body, reported", [
    ("return 403;", False), ("rewrite ^ /x last;", False), ("rewrite ^ https://x.example permanent;", False),
    ("rewrite ^ /x break;", True), ("proxy_pass http://a;", True), ("set $a 1;", True),
])
def test_if_in_location(tmp_path, body, reported):
    assert bool(findings(tmp_path, f"server {{ location / {{ if ($arg_x) {{ {body} }} }} }}\n", "if-is-evil")) is reported


def test_if_at_server_level_is_fine(tmp_path):
    assert findings(tmp_path, "server { if ($host = old.example) { set $a 1; } }\n", "if-is-evil") == []


def test_map_and_geo_without_default(tmp_path):
    nginx = ("map $a $b { x 1; }\nmap $c $d { default 0; x 1; }\ngeo $e { 10.0.0.0/8 1; }\n"
             "map $f $g { x 1; }\n"
             "server { if ($b) { return 403; } if ($d) { return 403; } location / { proxy_pass http://$e; }\n"
             "         add_header X-G $g; }\n")
    found = findings(tmp_path, nginx, "map-without-default")
    # $g only fills a header: an empty value leaves it out, on purpose (the h5bp idiom).
    assert [f.line for f in found] == [1, 3] and all(f.severity == "info" for f in found)
