"""Issue 12 section 2 and the security parts of issue 13: each semantic, a bad case that must be
reported and a good one that must not, through the rules that use the variable model."""

from __future__ import annotations

import pytest

from lint_helpers import full, line_of, lint_config, only

# Every finding of every lint these tests run is also compared with its snapshot.
pytestmark = pytest.mark.usefixtures("diagnostics_snapshot")


def findings(tmp_path, nginx, rule, **options):
    return only(lint_config(tmp_path, nginx, **options), rule)


# ---------------------------------------------------------------------------------------------
# ssrf, through the variable model


@pytest.mark.parametrize("config", [
    "server { location ~ /proxy/(?P<proxy>.*)$ { resolver 127.0.0.53; proxy_pass $proxy; } }",
    "server { location ~ /proxy/(?<proxy>.*)$ { resolver 127.0.0.53; proxy_pass $proxy; } }",
    "server { location ~ /proxy/(?'proxy'.*)$ { resolver 127.0.0.53; proxy_pass $proxy; } }",
    "server { location ~ ^/p/(.*)/(.*)$ { resolver 127.0.0.53; proxy_pass http://$1/$2; } }",
    "server { location / { set $a $arg_to; set $b http://$a; resolver 127.0.0.53; proxy_pass $b; } }",
    "map $arg_region $be { default eu.internal; ~^(?<raw>.+)$ $raw; }\n"
    "server { location / { resolver 127.0.0.53; proxy_pass http://$be; } }",
    "server { location ~ ^/svc/([a-z0-9-]+)/ { resolver 127.0.0.11; proxy_pass http://$1:8080; } }",  # "redis"
])
def test_ssrf_through_named_captures_sets_and_maps(tmp_path, config):
    assert findings(tmp_path, config + "\n", "ssrf")


@pytest.mark.parametrize("config", [
    'server { location / { set $u "http://backend$request_uri"; proxy_pass $u; } }',    # host is "backend"
    'server { location / { set $u "http://backend$uri"; proxy_pass $u; } }',
    "server { location ~ ^/p/(eu|us)/(.*)$ { proxy_pass http://$1.internal/$2; } }",
    "map $arg_r $be { default eu.internal; us us.internal; }\n"
    "server { location / { resolver 10.0.0.2; proxy_pass http://$be$request_uri; } }",
    "server { location / { proxy_pass http://unix:/run/gunicorn.sock; } }",
])
def test_no_ssrf_where_the_host_is_fixed(tmp_path, config):
    assert findings(tmp_path, config + "\n", "ssrf") == []


# ---------------------------------------------------------------------------------------------
# http-splitting: CR/LF from rewrite and location captures into Location


@pytest.mark.parametrize("config", [
    # a rewrite's capture, then a return that builds Location from it (return escapes nothing)
    "server { location / { rewrite ^/dl/(.*)$ /dl break; return 302 https://cdn.example.com/$1; } }",
    "server { location / { rewrite ^/dl/(.*)$ /dl break; add_header Location https://x/$1; } }",
    "server { location ~ ^/go/(?<rest>.*)$ { return 301 https://example.com/$rest; } }",
    "server { location ~ ^/go/(.*)$ { set $to $1; return 301 https://example.com/$to; } }",
    "server { location / { rewrite ^ https://example.com$uri permanent; } }",
])
def test_line_breaks_reach_a_location_header(tmp_path, config):
    assert findings(tmp_path, config + "\n", "http-splitting")


@pytest.mark.parametrize("config", [
    "server { location ~ ^/go/(.*)$ { rewrite ^/go/(.*)$ https://example.com/$1 permanent; } }",  # escaped
    "server { location ~ ^/go/([a-z0-9-]+)$ { return 301 https://example.com/$1; } }",
    "server { location / { return 301 https://example.com$request_uri; } }",
])
def test_no_line_breaks_reach_a_header(tmp_path, config):
    assert findings(tmp_path, config + "\n", "http-splitting") == []


# ---------------------------------------------------------------------------------------------
# host-spoofing: on the directive, any request-controlled value, any header-name case


@pytest.mark.parametrize("value", ["$http_host", "$arg_host", "$http_x_forwarded_host", "$cookie_h"])
def test_host_spoofing_in_a_snippet_without_proxy_pass(tmp_path, value):
    # proxy_params: a snippet included into proxying locations, linted on its own.
    result = lint_config(tmp_path, f"proxy_set_header Host {value};\nproxy_set_header X-Real-IP $remote_addr;\n",
                         main="proxy_params")
    [finding] = only(result, "host-spoofing")
    assert finding.line == 1 and value in finding.message


@pytest.mark.parametrize("name", ["HoSt", "HOST", "host"])
def test_host_header_name_is_case_insensitive(tmp_path, name):
    nginx = f"server {{ location / {{ proxy_set_header {name} $http_host; proxy_pass http://127.0.0.1:8000; }} }}\n"
    assert findings(tmp_path, nginx, "host-spoofing")


def test_host_spoofing_through_a_set_and_a_uri_capture(tmp_path):
    nginx = """
        server {
            location ~ ^/t/(?<tenant>[^/]+)/ {
                set $h $tenant;
                proxy_set_header Host $h;
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """
    assert findings(tmp_path, nginx, "host-spoofing")


@pytest.mark.parametrize("value", ["$host", "$proxy_host", "app.internal", "$host:$server_port", "$sub.example.com"])
def test_host_values_nginx_vetted(tmp_path, value):
    nginx = f"""
        server {{
            server_name ~^(?<sub>[a-z]+)\\.example\\.com$;
            location / {{ proxy_set_header Host {value}; proxy_pass http://127.0.0.1:8000; }}
        }}
    """
    assert findings(tmp_path, nginx, "host-spoofing") == []


# ---------------------------------------------------------------------------------------------
# origins-regex: negative matches, maps, valid_referers; only what allows


@pytest.mark.parametrize("config", [
    'server { if ($http_origin !~ "^https://app.example.com") { return 403; } }',
    'server { if ($http_referer !~* "example\\.com") { return 403; } }',
    'map $http_origin $cors { default ""; "~^https://app\\.example\\.com" $http_origin; }\n'
    'server { add_header Access-Control-Allow-Origin $cors; }',
    'map $http_origin $ok { default 0; "~example\\.com$" 1; }\n'
    'server { if ($ok = 0) { return 403; } }',
    'server { location /img/ { valid_referers server_names ~\\.example\\.com; } }',
])
def test_origin_checks_that_let_attackers_through(tmp_path, config):
    assert findings(tmp_path, config + "\n", "origins-regex")


@pytest.mark.parametrize("config", [
    'server { if ($http_origin !~ "^https://app\\.example\\.com$") { return 403; } }',
    'server { if ($http_referer ~* "(spam|casino)") { return 403; } }',          # a blocklist
    'map $http_referer $bad_referer { default 0; "~*(semalt|buttons-for)" 1; }\n'
    'server { if ($bad_referer) { return 444; } }',                                # a blocklist map
    'server { location /img/ { valid_referers server_names ~^www\\.example\\.com/; } }',
])
def test_origin_checks_that_do_not(tmp_path, config):
    assert findings(tmp_path, config + "\n", "origins-regex") == []


# ---------------------------------------------------------------------------------------------
# server_tokens at any level, where written


@pytest.mark.parametrize("where", ["http", "server", "location"])
def test_server_tokens_on_is_reported_where_written(tmp_path, where):
    inner = {"http": "server_tokens on; server { listen 80; }",
             "server": "server_tokens off; server { listen 80; server_tokens on; }",
             "location": "server_tokens off; server { listen 80; location / { server_tokens on; } }"}[where]
    nginx = full(inner)
    [finding] = findings(tmp_path, nginx, "version-disclosure")
    assert finding.line == line_of(tmp_path / "nginx.conf", "server_tokens on")


def test_server_tokens_on_in_a_snippet(tmp_path):
    [finding] = findings(tmp_path, "location / { server_tokens on; }\n", "version-disclosure", main="site.conf")
    assert finding.line == 1


def test_server_tokens_off_everywhere_is_clean(tmp_path):
    assert findings(tmp_path, full("server_tokens off; server { listen 80; location / { } }"),
                    "version-disclosure") == []


# ---------------------------------------------------------------------------------------------
# alias-traversal: the sibling-directory case


def test_alias_without_slashes_reaches_siblings_as_a_warning(tmp_path):
    [finding] = findings(tmp_path, "server { location /files { alias /home; } }\n", "alias-traversal")
    assert finding.severity == "warning" and "/files-other/x" in finding.message


@pytest.mark.parametrize("location", [
    "location /files/ { alias /home/; }",
    "location /robots.txt { alias /srv/robots.txt; }",
    "location = /files { alias /home; }",
])
def test_alias_without_sibling_access(tmp_path, location):
    assert findings(tmp_path, f"server {{ {location} }}\n", "alias-traversal") == []


# ---------------------------------------------------------------------------------------------
# add-header-multiline: header values only


def test_more_set_headers_options_are_not_headers(tmp_path):
    nginx = "server { more_set_headers -s 404 -t 'text/html\n    text/plain' 'X-A: b'; }\n"
    assert findings(tmp_path, nginx, "add-header-multiline") == []


def test_more_set_headers_folded_value(tmp_path):
    nginx = "server { more_set_headers -t 'text/html' 'Content-Security-Policy: a;\n    b'; }\n"
    [finding] = findings(tmp_path, nginx, "add-header-multiline")
    assert "Content-Security-Policy" in finding.message


# ---------------------------------------------------------------------------------------------
# proxy_pass http://unix: has no URI part


@pytest.mark.parametrize("url", ["http://unix:/run/gunicorn.sock", "http://unix:/run/gunicorn.sock:"])
def test_unix_socket_without_uri_part(tmp_path, url):
    nginx = f"server {{ location /app {{ proxy_pass {url}; }} location /api/ {{ proxy_pass {url}; }} }}\n"
    assert findings(tmp_path, nginx, "proxy-pass-normalized") == []


def test_unix_socket_with_a_uri_part(tmp_path):
    nginx = "server { location /api { proxy_pass http://unix:/run/gunicorn.sock:/v1/; } }\n"
    [finding] = findings(tmp_path, nginx, "proxy-pass-normalized")
    assert "/v1/" in finding.message


def test_deliberate_mapping_is_not_a_slash_mismatch(tmp_path):
    nginx = "server { location /ps/ { proxy_pass http://svc/; } location /api/ { proxy_pass http://svc/v2/; } }\n"
    assert findings(tmp_path, nginx, "proxy-pass-normalized") == []


# ---------------------------------------------------------------------------------------------
# Issue 13: advice that never contradicts, denials, regex advice, the CORS preflight


def test_stapling_on_a_letsencrypt_certificate_is_one_finding_not_two(tmp_path):
    nginx = "server { listen 443 ssl; ssl_certificate /etc/letsencrypt/live/a/fullchain.pem; ssl_stapling on; }\n"
    result = lint_config(tmp_path, nginx)
    assert only(result, "ssl-stapling-letsencrypt") and not only(result, "ssl-stapling-no-resolver")


@pytest.mark.parametrize("config", [
    "upstream backend { server 127.0.0.1:8000; }\n"
    "server { location / { proxy_pass http://backend$request_uri; } }",
    "upstream backend { server 127.0.0.1:8000; }\n"
    "server { location / { set $be backend; proxy_pass http://$be; } }",
    "upstream Backend { server 127.0.0.1:8000; }\n"          # nginx matches upstream names without case
    "map $arg_v $be { default backend; }\n"
    "server { location / { proxy_pass http://$be$request_uri; } }",
    "server { location /a/ { proxy_pass http://localhost:8000; }\n"   # an implicit upstream
    "         location /b/ { proxy_pass http://localhost:8000$request_uri; } }",
    "server { location / { proxy_pass http://127.0.0.1:8000$request_uri; } }",
    # readthedocs' shape: the implicit upstream comes from a proxy_pass with a URI in another
    # server; nginx (checked on 1.22) matches host:port without case and needs no resolver.
    "server { location /f { proxy_pass http://storage:10000/static/favicon.ico; } }\n"
    "server { location /s { proxy_pass http://STORAGE:10000$request_uri; } }",
])
def test_missing_resolver_not_claimed_for_upstream_names(tmp_path, config):
    assert findings(tmp_path, config + "\n", "missing-resolver") == []


@pytest.mark.parametrize("config", [
    "server { location / { proxy_pass http://app.internal:8000$request_uri; } }",
    "server { location / { set $be app.internal; proxy_pass http://$be; } }",
    'server { location / { set $u "http://api.example.com$request_uri"; proxy_pass $u; } }',
    # another port than the implicit upstream's: nginx looks the name up, "no resolver defined"
    "server { location /f { proxy_pass http://storage:10000/static/favicon.ico; }\n"
    "         location /s { proxy_pass http://storage:10001$request_uri; } }",
    # an upstream block is found only when the URL writes no port (nginx: "no resolver defined
    # to resolve app")
    "upstream app { server 127.0.0.1:8000; }\n"
    "server { location / { proxy_pass http://app:8000$request_uri; } }",
])
def test_missing_resolver_for_names(tmp_path, config):
    [finding] = findings(tmp_path, config + "\n", "missing-resolver")
    assert "502" in finding.message


@pytest.mark.parametrize("location", [
    "location ~ /\\.ht { deny all; }",
    "location ~ /\\.(git|svn) { deny all; return 404; }",
    "location ~ \\.php$ { fastcgi_pass unix:/run/php.sock; }",
    "location ~ \\.(php|phtml)$|^/cgi/ { fastcgi_pass unix:/run/php.sock; }",
    "location ~ (\\.php$|/x$) { fastcgi_pass unix:/run/php.sock; }",
])
def test_unanchored_regex_leaves_refusals_and_dollar_regexes_alone(tmp_path, location):
    assert findings(tmp_path, f"server {{ {location} }}\n", "unanchored-regex") == []


@pytest.mark.parametrize("regex", ["\\.php", "/wp-admin", "\\.(jpg|png)"])
def test_unanchored_regex_examples_really_match(tmp_path, regex):
    import re
    [finding] = findings(tmp_path, f"server {{ location ~ {regex} {{ proxy_pass http://a; }} }}\n", "unanchored-regex")
    example = re.search(r"\(also (\S+)\)", finding.message).group(1)
    assert re.search(regex, example)


@pytest.mark.parametrize("body, reported", [
    ("allow 10.0.0.0/8; deny all; return 403;", False),
    ("deny all; return 444;", False),
    ("allow 127.0.0.1; deny all; return 200 ok;", True),
    # A redirect within this site exposes nothing: the client meets /x's own checks there.
    ("allow 127.0.0.1; deny all; return 302 /x;", False),
    ("allow 127.0.0.1; deny all; return 302 https://elsewhere.example/x;", True),
])
def test_a_refusing_return_is_the_denial(tmp_path, body, reported):
    nginx = f"server {{ location /admin/ {{ {body} }} }}\n"
    assert bool(findings(tmp_path, nginx, "return-bypasses-allow-deny")) is reported


CORS_PREFLIGHT = """
server {
    location /api/ {
        if ($request_method = OPTIONS) {
            add_header Access-Control-Allow-Origin https://app.example.com;
            add_header Access-Control-Allow-Methods "GET, POST, OPTIONS";
            add_header Content-Type "text/plain; charset=utf-8";
            add_header Content-Length 0;
            return 204;
        }
        proxy_pass http://127.0.0.1:8000;
    }
}
"""


def test_the_cors_preflight_idiom_is_safe(tmp_path):
    result = lint_config(tmp_path, CORS_PREFLIGHT)
    assert not only(result, "if-is-evil") and not only(result, "add-header-content-type")


def test_an_if_that_does_not_return_is_still_reported(tmp_path):
    nginx = "server { location / { if ($arg_x) { add_header X y; proxy_pass http://a; } } }\n"
    assert findings(tmp_path, nginx, "if-is-evil")
    nginx = "server { location / { add_header Content-Type text/plain; return 200 ok; } }\n"
    assert findings(tmp_path, nginx, "add-header-content-type")


# ---------------------------------------------------------------------------------------------
# New rules: misses to catch


def test_server_name_comma(tmp_path):
    result = lint_config(tmp_path, "server { server_name a.example, b.example; }\nserver { server_name c d; }\n")
    [finding] = only(result, "server-name-comma")
    assert finding.line == 1 and "a.example," in finding.message


def test_server_name_regex_with_a_comma_quantifier_is_fine(tmp_path):
    nginx = 'server { server_name "~^(?<n>[a-z]{2,8})\\.example\\.com$"; }\n'
    assert findings(tmp_path, nginx, "server-name-comma") == []


def test_two_maps_for_one_variable(tmp_path):
    nginx = """
        map $http_upgrade $connection_upgrade { default upgrade; '' close; }
        geo $connection_upgrade { default x; }
        map $host $other { default y; }
    """
    [finding] = findings(tmp_path, nginx, "variable-defined-twice")
    assert finding.line == 2 and "$connection_upgrade" in finding.message


@pytest.mark.parametrize("body, reported", [
    ("uwsgi_pass unix:/run/app.sock; proxy_set_header X-Forwarded-Proto $scheme;", True),
    ("fastcgi_pass 127.0.0.1:9000; proxy_read_timeout 300s;", True),
    ("uwsgi_pass unix:/run/app.sock; uwsgi_param HTTP_X_FORWARDED_PROTO $scheme;", False),
    ("proxy_pass http://127.0.0.1:8000; proxy_set_header X-Forwarded-Proto $scheme;", False),
    ("uwsgi_pass unix:/run/app.sock; proxy_set_header X y; location /p/ { proxy_pass http://a; }", False),
])
def test_proxy_settings_beside_another_pass(tmp_path, body, reported):
    nginx = f"server {{ location / {{ {body} }} }}\n"
    assert bool(findings(tmp_path, nginx, "proxy-setting-without-proxy-pass")) is reported


@pytest.mark.parametrize("body, reported", [
    ("try_files $uri =404; try_files $uri /index.html;", True),
    ("root /srv; alias /srv/x/;", True),
    ("client_max_body_size 1m; client_max_body_size 2m;", True),
    ("add_header A b; add_header C d; index a.html; index b.html;", False),
    ("try_files $uri =404; if ($arg_x) { return 403; }", False),
    ("try_files $uri =404; location /x/ { try_files $uri =404; }", False),
])
def test_directive_duplicate(tmp_path, body, reported):
    nginx = f"server {{ location / {{ {body} }} }}\n"
    assert bool(findings(tmp_path, nginx, "directive-duplicate")) is reported


def test_directive_duplicate_through_an_include(tmp_path):
    result = lint_config(tmp_path, "server { listen 80; include extra.conf; client_max_body_size 5m; }\n",
                         files={"extra.conf": "client_max_body_size 1m;\n"})
    [finding] = only(result, "directive-duplicate")
    assert finding.file.endswith("nginx.conf") and "extra.conf:1" in finding.message


def test_keepalive_in_upstream_twice(tmp_path):
    nginx = "upstream a { server 127.0.0.1:1; keepalive 8; keepalive 16; }\n"
    assert findings(tmp_path, nginx, "directive-duplicate")


@pytest.mark.parametrize("config, version, reported", [
    ("server { listen 443 ssl; http2 on; }", "1.22.1", True),
    ("server { listen 443 ssl; http2 on; }", "1.25.1", False),
    ("upstream a { zone a 64k; server app.internal:8000 resolve; }", "1.26.2", True),
    ("upstream a { zone a 64k; server app.internal:8000 resolve; }", "1.27.3", False),
    ("upstream a { resolver 127.0.0.53; server a:1; }", "1.26.2", True),
    ("server { resolver 127.0.0.53; }", "1.22.1", False),
    ("server { listen 443 quic; }", "1.24.0", True),
])
def test_directive_too_new(tmp_path, config, version, reported):
    found = findings(tmp_path, config + "\n", "directive-too-new", nginx_version=version)
    assert bool(found) is reported
    assert all(f.severity == "error" for f in found)


TLS_SERVERS = """
server {{ listen 443 ssl default_server; ssl_certificate /etc/ssl/d.pem; ssl_certificate_key /etc/ssl/d.key; {default} }}
server {{ listen 443 ssl; server_name app.example.com; ssl_certificate /etc/ssl/a.pem;
         ssl_certificate_key /etc/ssl/a.key; {named} }}
"""


@pytest.mark.parametrize("default, named, version, reported", [
    ("", "ssl_protocols TLSv1.2 TLSv1.3;", "1.22.1", True),           # nginx's default lacks TLSv1.3
    ("ssl_protocols TLSv1.2;", "ssl_protocols TLSv1.2 TLSv1.3;", "1.26.2", True),
    ("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1.2 TLSv1.3;", "1.22.1", False),
    ("", "ssl_protocols TLSv1.2 TLSv1.3;", "1.27.3", False),           # the default is the same
    ("", "", "1.22.1", False),
])
def test_ssl_protocols_only_in_a_named_server(tmp_path, default, named, version, reported):
    nginx = full(TLS_SERVERS.format(default=default, named=named))
    found = findings(tmp_path, nginx, "ssl-protocols-not-default-server", nginx_version=version)
    assert bool(found) is reported
    if reported:
        assert found[0].line == line_of(tmp_path / "nginx.conf", named)


def test_ssl_protocols_default_server_is_the_first_without_a_mark(tmp_path):
    nginx = full("server { listen 443 ssl; ssl_protocols TLSv1.2; }\n"
                 "server { listen 443 ssl; server_name b; ssl_protocols TLSv1.3; }\n")
    [finding] = findings(tmp_path, nginx, "ssl-protocols-not-default-server")
    assert "TLSv1.3" in finding.message and finding.line == line_of(tmp_path / "nginx.conf", "TLSv1.3")


# ---------------------------------------------------------------------------------------------
# Precision learnt from the corpus: the default server, internal locations


def test_http_host_in_the_only_server_of_its_port_is_not_reported(tmp_path):
    # There $host is the client's Host too: `use $host` would change nothing.
    nginx = full("server { listen 80; server_name app.example.com;\n"
                 "  location / { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:8000; } }")
    assert findings(tmp_path, nginx, "host-spoofing") == []


def test_http_host_in_a_named_server_beside_a_default_is_reported(tmp_path):
    nginx = full("server { listen 80 default_server; return 444; }\n"
                 "server { listen 80; server_name app.example.com;\n"
                 "  location / { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:8000; } }")
    [finding] = findings(tmp_path, nginx, "host-spoofing")
    assert finding.line == line_of(tmp_path / "nginx.conf", "proxy_set_header Host")


def test_a_forwarded_host_is_reported_even_in_the_default_server(tmp_path):
    nginx = full("server { listen 80; location / { proxy_set_header Host $http_x_forwarded_host;"
                 " proxy_pass http://127.0.0.1:8000; } }")
    assert findings(tmp_path, nginx, "host-spoofing")


INTERNAL = """
server {
    location ~ ^/internal/s3/(?<s3_host>[^/]+)/(?<s3_path>.*) {
        internal;
        resolver 127.0.0.53;
        set $download_url https://$s3_host/$s3_path;
        proxy_set_header Host $s3_host;
        proxy_set_header X-Forwarded-Host $s3_path;
        proxy_pass $download_url;
    }
    location /internal/uploads { internal; alias /srv/uploads; }
}
"""


@pytest.mark.parametrize("rule", ["ssrf", "http-splitting", "host-spoofing", "alias-traversal"])
def test_internal_locations_are_not_reachable_by_clients(tmp_path, rule):
    assert findings(tmp_path, INTERNAL, rule) == []
    exposed = INTERNAL.replace("internal;", "")
    assert findings(tmp_path, exposed, rule)


def test_nginx_passes_whatever_follows_the_matched_name_in_http_host(tmp_path):
    """What host-spoofing says of a named server, on the real nginx: the server is chosen by the
    name before a colon, and $http_host still carries the rest (`:@evil.example`, which a URL
    reads as user info before the host evil.example), while $host is the matched name."""
    import socket

    from test_rules_edges_engine import nginx_serving

    body = """
        server { listen {port} default_server; return 444; }
        server {
            listen {port};
            server_name app.example.com;
            location / { return 200 "$host|$http_host"; }
        }
    """
    with nginx_serving(tmp_path, body) as (port, _, _):
        with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: app.example.com:@evil.example\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := connection.recv(4096):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"app.example.com|app.example.com:@evil.example")
    config = full(body.replace("{port}", "80").replace('return 200 "$host|$http_host";',
                                                       "proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:8000;"))
    [finding] = only(lint_config(tmp_path / "lint", config), "host-spoofing")
    assert "`Host: app.example.com:@evil.example` reaches the app whole" in finding.message
