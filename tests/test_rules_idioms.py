"""Common deployment idioms that must stay quiet (issue 25: a false alarm costs more than a miss),
each checked on the real nginx where the quiet rests on a behaviour."""

from __future__ import annotations

import pytest

from lint_helpers import full, line_of, lint_config, only, rules_of
from test_rules_edges_engine import fetch, nginx_serving, place

CORS_PREFLIGHT = """
    server {
        listen {port};
        location /api/ {
            if ($request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin "https://example.com";
                return 204;
            }
            add_header X-Cache-Status $upstream_cache_status;
            add_header X-Served-By edge-1;
            proxy_pass http://127.0.0.1:9;
        }
    }
"""


def test_a_preflight_if_drops_no_header_that_only_an_upstream_fills(tmp_path):
    # X-Cache-Status is empty where `return` answers (no upstream), so only X-Served-By is lost.
    [finding] = only(lint_config(tmp_path, full(CORS_PREFLIGHT.replace("{port}", "80"))), "add-header-inheritance")
    assert "X-Served-By is dropped" in finding.message and "X-Cache-Status" not in finding.message
    quiet = CORS_PREFLIGHT.replace("            add_header X-Served-By edge-1;\n", "")
    assert only(lint_config(tmp_path, full(quiet.replace("{port}", "80"))), "add-header-inheritance") == []


def test_nginx_sends_no_upstream_header_on_a_returned_response(tmp_path):
    # The behaviour the quiet rests on: without the if's own add_header the location's header
    # would be inherited, and is still not sent, because $upstream_cache_status is empty there.
    body = CORS_PREFLIGHT.replace('                add_header Access-Control-Allow-Origin "https://example.com";\n', "")
    body = body.replace("if ($request_method = OPTIONS)", "if ($request_method = GET)")
    with nginx_serving(tmp_path, body) as (port, _, _):
        status, headers, _ = fetch(port, "/api/x")
    assert status == 204
    assert headers.get("x-served-by") == "edge-1" and "x-cache-status" not in headers


WEBSOCKET = """
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    upstream app { server 127.0.0.1:8000; keepalive 16; }
    server {
        listen 80;
        location /ws/ {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
"""


def test_nginx_websocket_idiom_on_a_websocket_endpoint_is_not_a_pool_problem(tmp_path):
    assert only(lint_config(tmp_path, full(WEBSOCKET)), "keepalive-connection-header") == []


def test_the_websocket_map_on_ordinary_requests_is_still_reported(tmp_path):
    [finding] = only(lint_config(tmp_path, full(WEBSOCKET.replace("location /ws/", "location /app/"))),
                     "keepalive-connection-header")
    assert "map the `''` entry to `''`" in finding.message


TAKES = "regex-location-takes-prefix-files"
STATIC_BESIDE_REGEX = """
    server {
        listen {port};
        root {root}/www;
        location /static/ { alias {root}/app-static/; }
        location ~* \\.(css|js|png)$ { expires 30d; }
    }
"""


def test_a_static_regex_takes_the_files_of_an_alias_location(tmp_path):
    body = STATIC_BESIDE_REGEX.replace("{port}", "80").replace("{root}", "/srv")
    [finding] = only(lint_config(tmp_path, full(body)), TAKES)
    assert ((finding.line, finding.col), finding.severity) == (place(full(body), "location /static/"), "warning")
    assert "/srv/www/static/x/a.css, not /srv/app-static/x/a.css" in finding.message
    assert "`location ^~ /static/`" in finding.message


def test_nginx_serves_the_alias_files_only_once_the_prefix_is_written_caret_tilde(tmp_path):
    for fixed, expected in ((False, 404), (True, 200)):
        body = STATIC_BESIDE_REGEX.replace("location /static/", "location ^~ /static/") if fixed else STATIC_BESIDE_REGEX
        root = tmp_path / ("fixed" if fixed else "as-written")
        with nginx_serving(root, body) as (port, prefix, _):
            (prefix / "app-static").mkdir()
            (prefix / "app-static" / "a.css").write_text("body {}\n")
            status, _, _ = fetch(port, "/static/a.css")
        assert status == expected
        assert len(only(lint_config(tmp_path / f"lint-{fixed}", full(body.replace("{port}", "80")
                                                                        .replace("{root}", "/srv"))), TAKES)) \
            == (0 if fixed else 1)


@pytest.mark.parametrize("body", [
    # the regex maps the file to the same path: root in force is the alias's parent
    "server { root /srv; location /static/ { alias /srv/static/; } location ~* \\.css$ { expires 1d; } }",
    "server { root /srv; location /static/ { expires 1h; } location ~* \\.css$ { expires 1d; } }",
    # the regex refuses or hands on: it is meant to win
    "server { location /static/ { alias /srv/s/; } location ~ /\\. { deny all; } }",
    "server { location /static/ { alias /srv/s/; } location ~ \\.php$ { fastcgi_pass 127.0.0.1:9000; } }",
    # the regex cannot match there, or the prefix proxies
    "server { location /static/ { alias /srv/s/; } location ~ ^/api/.*\\.json$ { root /srv/api; } }",
    "server { location /media/ { proxy_pass http://127.0.0.1:9000; } location ~* \\.png$ { expires 1d; } }",
    # nested locations decide inside the prefix
    "server { location /static/ { alias /srv/s/; location ~ \\.css$ { expires 1d; } } location ~ \\.css$ { } }",
])
def test_regex_and_prefix_locations_that_agree_are_quiet(tmp_path, body):
    assert only(lint_config(tmp_path, full(body)), TAKES) == []


ZONE = "zone-not-defined"


@pytest.mark.parametrize("use, refusal", [
    ("limit_req zone=login burst=5;", 'zero size shared memory zone "login"'),
    ("limit_conn perip 10;", 'zero size shared memory zone "perip"'),
    ("proxy_cache api;", '"proxy_cache" zone "api" is unknown'),
    # set 25's flask-5: a proxy_cache_path zone used by uwsgi_cache
    ("uwsgi_cache shared;", 'the shared memory zone "shared" is already declared for a different use'),
    ("limit_req zone=shared;", 'the shared memory zone "shared" is already declared for a different use'),
])
def test_a_zone_nothing_defines_stops_nginx_and_is_reported(tmp_path, nginx_check, use, refusal):
    config = full("proxy_cache_path /tmp/c keys_zone=shared:1m;\n"
                  f"server {{ listen 80; location / {{ {use} proxy_pass http://127.0.0.1:8000; }} }}")
    ok, output = nginx_check(config)
    assert not ok and refusal in output
    [finding] = only(lint_config(tmp_path, config), ZONE)
    assert (finding.line, finding.col, finding.severity) == (*place(config, use), "error")
    assert refusal in finding.message


@pytest.mark.parametrize("config", [
    full("limit_req_zone $binary_remote_addr zone=login:10m rate=5r/m;\n"
         "server { listen 80; location / { limit_req zone=login burst=5; proxy_pass http://127.0.0.1:8000; } }"),
    full("proxy_cache_path /tmp/c keys_zone=api:10m;\n"
         "server { listen 80; location / { proxy_cache api; proxy_pass http://127.0.0.1:8000; } }"),
    full("server { listen 80; location / { proxy_cache off; proxy_cache $zone; proxy_pass http://127.0.0.1:8000; } }"),
    # a file the deployment provides may define it
    full("include /etc/nginx/zones/*.conf;\n"
         "server { listen 80; location / { limit_req zone=login; proxy_pass http://127.0.0.1:8000; } }"),
    # a snippet: the http block it goes in is not known
    "location / { limit_req zone=login; proxy_pass http://127.0.0.1:8000; }\n",
])
def test_a_zone_defined_or_possibly_defined_elsewhere_is_quiet(tmp_path, config):
    assert only(lint_config(tmp_path, config), ZONE) == []


@pytest.mark.parametrize("block, refused", [
    ("sever { listen 8080; location / { return 204; } }", True),       # set 25's docker-revisit
    ("severs { listen 8081; }", True),
    ("server { listen 8082; location / { return 204; } }", False),
    ("upstream app { server 127.0.0.1:8000; }", False),
    ("map $uri $x { listen 1; }", False),                               # a map's keys are data
])
def test_a_block_of_an_unknown_name_that_holds_listen_is_a_misspelled_server(tmp_path, nginx_check, block, refused):
    config = full(block)
    ok, output = nginx_check(config)
    assert ok is not refused, output
    found = only(lint_config(tmp_path, config), "server-block-misspelled")
    assert len(found) == int(refused)
    if refused:
        name = block.split()[0]
        assert f'unknown directive "{name}"' in output and f'(unknown directive "{name}")' in found[0].message
        assert (found[0].line, found[0].col) == place(config, block)


FORWARDED_MAP = """
    map $http_x_forwarded_proto $forwarded_proto { default $http_x_forwarded_proto; '' $scheme; }
    server {
        listen 7080;
        location / {
            proxy_set_header X-Forwarded-Proto $forwarded_proto;
            proxy_pass http://127.0.0.1:8000;
        }
    }
"""


@pytest.mark.parametrize("behind, reported", [
    (None, True), ("ingress-nginx", False), ("aws-alb", False), ("gclb", False), ("heroku", False),
    ("haproxy:30", True),     # HAProxy sets the header only where its configuration says so
])
def test_a_balancer_that_sets_x_forwarded_proto_itself_makes_the_passthrough_safe(tmp_path, behind, reported):
    from confgen.lint.project import _behind

    options = {"behind": _behind(behind)} if behind else {}
    direct = FORWARDED_MAP.replace("$forwarded_proto;\n", "$http_x_forwarded_proto;\n")
    found = only(lint_config(tmp_path, full(direct), **options), "forwarded-proto-spoofable")
    assert bool(found) is reported


def test_alias_siblings_inside_a_tree_another_location_serves_are_not_reported(tmp_path):
    # PhysioNet: /static serves /data/pn-static; /static/projects (alias .../projects, no
    # slashes) reaches siblings such as /data/pn-static/projects-x, already public via /static.
    config = full("""
        server {
            listen 80;
            location /static { alias /data/pn-static; }
            location /static/projects { alias /data/pn-static/projects; autoindex on; }
            location /private-area { alias /data/pn-static/private-area; }
            location /tools { alias /data/other/tools; }
        }
    """)
    found = only(lint_config(tmp_path, config), "alias-traversal")
    assert sorted("location " + f.message.split("location ")[1].split(" ")[0] for f in found) == \
        ["location /static", "location /tools"]
    # An access check on the covering location: the siblings are not public there.
    guarded = config.replace("location /static { alias /data/pn-static; }",
                             "location /static { alias /data/pn-static; allow 10.0.0.0/8; deny all; }")
    assert len(only(lint_config(tmp_path, guarded), "alias-traversal")) == 4


@pytest.mark.parametrize("location, reported", [
    ("location /files/ { alias /; }", True),
    ("location /galaxy/_x_accel_redirect/ { internal; alias /; }", False),
    ('location ~ ^/db/(.*)$ { set $p $1; alias /; try_files "data/public/$p" "data/public/$p/" =404; }', False),
    ('location ~ ^/db/(.*)$ { set $p $1; alias /; try_files "$p" =404; }', True),
    ("location ~ ^/db/(.*)$ { alias /; try_files $uri =404; }", True),
])
def test_the_filesystem_root_is_reported_where_a_client_reaches_any_file(tmp_path, location, reported):
    config = full(f"server {{ listen 80; {location} }}")
    assert bool(only(lint_config(tmp_path, config), "filesystem-root-exposure")) is reported


UPGRADE_MAP = "map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"


def test_two_identical_maps_are_one_definition(tmp_path):
    # Two site files that each carry the WebSocket map: nginx behaves as with one.
    assert only(lint_config(tmp_path, full(UPGRADE_MAP + UPGRADE_MAP)), "variable-defined-twice") == []
    other = UPGRADE_MAP.replace("'' close;", "'' '';")
    assert len(only(lint_config(tmp_path, full(UPGRADE_MAP + other)), "variable-defined-twice")) == 1


def test_stapling_a_lets_encrypt_certificate_asks_no_resolver(tmp_path):
    server = """
        server {
            listen 443 ssl;
            ssl_certificate %s;
            ssl_certificate_key /etc/ssl/site.key;
            ssl_stapling on;
            resolver 8.8.8.8;
        }
    """
    encrypt = server % "/etc/letsencrypt/live/example.com/fullchain.pem"
    assert only(lint_config(tmp_path, full(encrypt)), "resolver-external") == []
    assert len(only(lint_config(tmp_path, full(server % "/etc/ssl/site.pem")), "resolver-external")) == 1


def test_a_passed_on_x_forwarded_host_is_told_to_use_host_even_in_a_catch_all(tmp_path):
    config = full("""
        server {
            listen 80 default_server;
            location / {
                proxy_set_header X-Forwarded-Host $http_x_forwarded_host;
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """)
    [finding] = only(lint_config(tmp_path, config), "host-spoofing")
    # There $host is any Host the client sent too: both halves of the fix are named.
    assert finding.message.endswith("use $host, and name the real hosts in server_name and refuse the others in "
                                    "a default server")


def test_the_passthrough_map_for_a_proxy_in_front_is_a_note(tmp_path):
    result = lint_config(tmp_path, full(FORWARDED_MAP))
    assert only(result, "forwarded-proto-spoofable") == []
    [note] = [n for n in result.notes if "map $forwarded_proto takes X-Forwarded-Proto from the client's header" in n]
    assert "spoofable wherever clients reach this nginx directly" in note
    direct = FORWARDED_MAP.replace("$forwarded_proto;\n", "$http_x_forwarded_proto;\n")
    assert len(only(lint_config(tmp_path, full(direct)), "forwarded-proto-spoofable")) == 1


def test_a_data_directory_beside_a_static_file_regex_is_not_reported(tmp_path):
    config = full("""
        server {
            root /srv/www;
            location /data { alias /srv/dumps; }
            location /static/ { alias /srv/app/static/; }
            location ~* \\.(css|js|png)$ { expires 30d; }
        }
    """)
    found = only(lint_config(tmp_path, config), TAKES)
    assert [f.message.split(" from ")[0].split(" takes ")[1] for f in found] == ["/static/x/a.css"]


def test_http2_on_a_plain_port_answers_no_http11_client_before_1_25_1(tmp_path):
    import http.client

    body = 'server { listen {port} http2; location / { return 200 "ok"; } }'
    with nginx_serving(tmp_path / "h2", body) as (port, _, _):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            connection.request("GET", "/")
            with pytest.raises(http.client.HTTPException):
                connection.getresponse()
        finally:
            connection.close()
    with nginx_serving(tmp_path / "h1", body.replace(" http2", "")) as (port, _, _):
        assert fetch(port, "/")[0] == 200
    config = full(body.replace("{port}", "80"))
    [finding] = only(lint_config(tmp_path / "lint", config), "http2-plaintext-listen")
    assert ((finding.line, finding.col), finding.severity) == (place(config, "listen 80 http2"), "warning")
    assert only(lint_config(tmp_path / "lint", config, nginx_version="1.25.3"), "http2-plaintext-listen") == []


@pytest.mark.parametrize("servers", [
    "server { listen 443 ssl http2; }",
    "server { listen 8443 http2; } server { listen 8443 ssl; }",     # the socket is TLS through another server
    "server { listen 50051 http2; location / { grpc_pass grpc://127.0.0.1:9000; } }",
    "server { listen 8080 http2 proxy_protocol; }",
])
def test_http2_where_the_port_is_tls_or_meant_for_h2c_is_quiet(tmp_path, servers):
    assert only(lint_config(tmp_path, full(servers)), "http2-plaintext-listen") == []


def test_a_preflight_if_that_drops_only_caching_headers_is_quiet(tmp_path):
    location = """
        server {
            location /media {
                alias /srv/media/;
                add_header Cache-Control "public, max-age=3600";
                %s
                if ($request_method = OPTIONS) {
                    add_header Access-Control-Allow-Origin "*";
                    return 204;
                }
            }
        }
    """
    assert only(lint_config(tmp_path, full(location % "")), "add-header-inheritance") == []
    # A header that is no cache directive is still lost for the preflight: reported.
    found = only(lint_config(tmp_path, full(location % "add_header X-Served-By edge-1;")), "add-header-inheritance")
    assert len(found) == 1 and "X-Served-By" in found[0].message


def test_a_map_that_takes_only_https_from_the_proxy_is_the_same_idiom(tmp_path):
    accepting = FORWARDED_MAP.replace("default $http_x_forwarded_proto; '' $scheme;", "default $scheme; https https;")
    assert "https https" in accepting
    result = lint_config(tmp_path, full(accepting))
    assert only(result, "forwarded-proto-spoofable") == []
    assert any("takes X-Forwarded-Proto from the client's header" in n for n in result.notes)


@pytest.mark.parametrize("app, reported", [
    ("gunicorn project.wsgi:application --bind 127.0.0.1:8000", False),   # Django refuses `name:@evil`
    ("gunicorn project.wsgi --bind 127.0.0.1:8000", False),
    ("gunicorn app:app --bind 127.0.0.1:8000", True),                     # a Flask app takes it whole
    (None, True),
])
def test_http_host_in_a_named_server_in_front_of_django_is_quiet(tmp_path, app, reported):
    config = full("""
        server { listen 80 default_server; return 444; }
        server {
            listen 80;
            server_name app.example.com;
            location / { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:8000; }
        }
    """)
    found = only(lint_config(tmp_path, config, **({"app_command": app} if app else {})), "host-spoofing")
    assert bool(found) is reported


def test_headers_only_auth_request_fills_are_not_lost_where_it_is_off(tmp_path):
    # Frigate: /api/ authenticates and passes the user on; its login location turns auth off.
    config = full("""
        server {
            location /api/ {
                auth_request /auth;
                auth_request_set $user $upstream_http_remote_user;
                proxy_set_header Remote-User $user;
                proxy_set_header X-Served-By edge-1;
                proxy_pass http://127.0.0.1:8000/;
                location /api/login {
                    auth_request off;
                    proxy_set_header Host $host;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
            location = /auth { internal; proxy_pass http://127.0.0.1:8001; }
        }
    """)
    [finding] = only(lint_config(tmp_path, config), "proxy-header-inheritance")
    assert "X-Served-By is dropped" in finding.message and "Remote-User" not in finding.message


@pytest.mark.parametrize("location, reported", [
    ("location /ws { proxy_pass http://127.0.0.1:5002/; }", False),     # the endpoint mapped to the app's root
    ("location /api { proxy_pass http://127.0.0.1:5000/v1/; }", True),
])
def test_a_prefix_mapped_to_the_apps_root_is_not_a_slash_mismatch(tmp_path, location, reported):
    assert bool(only(lint_config(tmp_path, full(f"server {{ {location} }}")), "proxy-pass-normalized")) is reported


def test_supervisor_expansions_are_variables_and_umask_is_octal(tmp_path):
    """OnlineJudge's `--workers %(ENV_MAX_WORKER_NUM)s` and a start script's `--umask 0022` (gunicorn
    reads it as octal) stopped the lint; now the first is the environment's value (unknown here) and
    the second 18."""
    from confgen.gunicorn.reader import read_gunicorn_cmd

    assert read_gunicorn_cmd("gunicorn app:app --umask 0022").get("umask") == 18
    supervisor = ("[program:web]\ncommand=gunicorn oj.wsgi --bind 127.0.0.1:8080 --workers %(ENV_WORKERS)s --threads 4 "
                  "--keep-alive 32\n")
    config = full("upstream app { server 127.0.0.1:8080; keepalive 8; }\n"
                  "server { listen 80; location / { proxy_pass http://app; proxy_http_version 1.1; "
                  "proxy_set_header Connection \"\"; } }")
    result = lint_config(tmp_path, config, files={"supervisord.conf": supervisor})
    assert "app-keepalive-race" in [f.rule for f in result.findings], result.notes


HSTS_SERVER = """
    server {
        listen 443 ssl;
        ssl_certificate /etc/ssl/site.pem;
        ssl_certificate_key /etc/ssl/site.key;
        add_header Strict-Transport-Security "max-age=31536000" always;
        add_header X-Served-By edge-1;
        location /media/ {
            add_header Cache-Control "public, max-age=86400";
            root /srv;
        }
        location / {
            proxy_pass http://127.0.0.1:8000;
        }
    }
"""


def test_a_location_that_drops_only_hsts_while_the_pages_send_it_is_not_a_security_finding(tmp_path):
    # The browser keeps HSTS from any HTTPS response of the host (RFC 6797, 8.1): the pages send it.
    findings = lint_config(tmp_path, full(HSTS_SERVER))
    assert only(findings, "add-header-redefinition") == []
    # The header that is per response is still reported, by the rule for non-security headers.
    [other] = only(findings, "add-header-inheritance")
    assert "X-Served-By" in other.message and "Strict-Transport-Security" not in other.message


def test_hsts_dropped_by_the_pages_is_reported(tmp_path):
    config = HSTS_SERVER.replace("proxy_pass http://127.0.0.1:8000;", "add_header X-Robots-Tag noindex;\n"
                                 "            proxy_pass http://127.0.0.1:8000;")
    findings = only(lint_config(tmp_path, full(config)), "add-header-redefinition")
    assert len(findings) == 2 and all("Strict-Transport-Security" in f.message for f in findings)


def test_a_per_response_security_header_dropped_beside_hsts_is_reported(tmp_path):
    config = HSTS_SERVER.replace("add_header X-Served-By edge-1;", "add_header X-Content-Type-Options nosniff always;")
    [finding] = only(lint_config(tmp_path, full(config)), "add-header-redefinition")
    assert "Strict-Transport-Security, X-Content-Type-Options" in finding.message


def test_an_origin_check_whose_host_wildcard_could_take_a_slash_is_anchored_enough(tmp_path):
    # Browsers send Origin as scheme://host[:port] (RFC 6454, 7): there is no path to hide in.
    origin = 'map $http_origin $cors { ~^https://.+\\.(akvo|akvotest)\\.org$ $http_origin; }\n' \
             'server { listen 80; location / { add_header Access-Control-Allow-Origin $cors; } }\n'
    assert only(lint_config(tmp_path, full(origin)), "origins-regex") == []
    referer = 'server { listen 80; if ($http_referer !~ "^https://.+\\.example\\.org/") { return 403; } }\n'
    [finding] = only(lint_config(tmp_path, full(referer)), "origins-regex")
    assert "takes /" in finding.message


FORWARDED_PROTO = """
    server {
        listen 80;
        server_name _;
        __REDIRECT__
        location /a/ { proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto; proxy_pass http://127.0.0.1:8000; }
        location /b/ { proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto; proxy_pass http://127.0.0.1:8000; }
        location /c/ { proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto; proxy_pass http://127.0.0.1:8000; }
    }
"""


def test_a_server_that_redirects_on_the_forwarded_proto_it_receives_sits_behind_a_proxy(tmp_path):
    redirect = 'if ($http_x_forwarded_proto = "http") { return 301 https://$host$request_uri; }'
    result = lint_config(tmp_path, full(FORWARDED_PROTO.replace("__REDIRECT__", redirect)))
    assert only(result, "forwarded-proto-spoofable") == []
    assert any("redirects on the X-Forwarded-Proto it receives" in note for note in result.notes)


def test_a_server_that_copies_the_forwarded_proto_in_each_location_is_one_finding(tmp_path):
    [finding] = only(lint_config(tmp_path, full(FORWARDED_PROTO.replace("__REDIRECT__", ""))),
                     "forwarded-proto-spoofable")
    assert "(and 2 more places using it)" in finding.message


STATUS_SERVER = """
    server { listen __PORT__; server_name health; location / { stub_status on; access_log off; } }
    server { listen 80; server_name app.example.org; location / { proxy_pass http://127.0.0.1:8000; } }
"""


@pytest.mark.parametrize("port, reported", [("8081", False), ("80", True), ("8080", True)])
def test_a_status_page_on_a_monitoring_port_of_its_own_is_a_note(tmp_path, port, reported):
    result = lint_config(tmp_path, full(STATUS_SERVER.replace("__PORT__", port)))
    assert bool(only(result, "status-page-exposed")) is reported
    assert any("a monitoring port that no site shares" in note for note in result.notes) is not reported


@pytest.mark.parametrize("location, target, auth, reported", [
    ("/media-auth", "/api/v1.0/documents/media-auth/", "proxy_pass_request_body off;", False),  # an auth endpoint
    ("/media-auth", "/api/v1.0/documents/media-auth/", "", True),
    ("/media", "/media/", "", True),                # a tree: /media/js/a.js reaches the app as /media//js/a.js
    ("/api", "/v1/", "", True),
])
def test_an_auth_endpoint_mapped_to_the_apps_endpoint_with_a_slash_is_not_a_slash_mismatch(tmp_path, location, target,
                                                                                           auth, reported):
    config = f"server {{ listen 80; location {location} {{ {auth} proxy_pass http://127.0.0.1:8000{target}; }} }}\n"
    assert bool(only(lint_config(tmp_path, full(config)), "proxy-pass-normalized")) is reported


@pytest.mark.parametrize("connection, path, reported", [
    ('"upgrade"', "/ws/", False),
    ('""', "/ws/", True),           # ordinary requests: an app builds links from the Host
])
def test_http_host_on_a_websocket_only_location_of_a_named_server_is_quiet(tmp_path, connection, path, reported):
    config = f"""
        server {{ listen 80 default_server; return 444; }}
        server {{
            listen 80;
            server_name app.example.org;
            location {path} {{
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection {connection};
                proxy_set_header Host $http_host;
                proxy_pass http://127.0.0.1:9000;
            }}
        }}
    """
    assert bool(only(lint_config(tmp_path, full(config)), "host-spoofing")) is reported


def test_a_uwsgi_app_reached_through_uwsgi_pass_is_not_said_to_be_unreached(tmp_path):
    config = """
        upstream app { server unix:///run/app/uwsgi.sock; }
        upstream channels { server unix:///run/app/daphne.sock; }
        server {
            listen 80;
            location / { include uwsgi_params; uwsgi_pass app; }
            location /ws/ { proxy_pass http://channels; }
        }
    """
    result = lint_config(tmp_path, full(config), files={
        "uwsgi.ini": "[uwsgi]\nmodule = project.wsgi:application\nsocket = /run/app/uwsgi.sock\n",
        "uwsgi_params": "uwsgi_param REQUEST_METHOD $request_method;\n"})
    assert not any("which no upstream or proxy_pass here reaches" in note for note in result.notes)
    assert any("is reached through uwsgi_pass app; channels leads elsewhere" in note for note in result.notes)


@pytest.mark.parametrize("include, reported", [
    ("include uwsgi_params;", False),                                   # nginx's own, wherever it lives
    ("include /var/www/portal/deploy/uwsgi_params;", False),            # a copy the tree does not ship
    ("include snippets/app-params.conf;", False),                       # a file the deployment provides
    ("", True),
])
def test_uwsgi_pass_without_params_is_reported_only_where_none_can_be_in_force(tmp_path, monkeypatch, include,
                                                                              reported):
    from confgen.nginx import parse

    monkeypatch.setattr(parse, "SYSTEM_CONF_DIRS", ())     # as on a machine without nginx installed
    config = f"server {{ listen 80; location / {{ {include} uwsgi_pass 127.0.0.1:3031; }} }}\n"
    assert bool(only(lint_config(tmp_path, full(config)), "uwsgi-params-missing")) is reported


REFERRER_BLOCKLIST = """
    map $http_referer $bad_referer { hostnames; default 0; "~semalt.com" 1; "~darodar.com" 1; }
    server { listen 80; location / { __USE__ return 200; } }
"""


@pytest.mark.parametrize("use", ["", "if ($bad_referer) { return 444; }"])
def test_a_referrer_blocklist_lets_nothing_through(tmp_path, use):
    # Read nowhere, or only by an `if` that refuses: a looser regex only blocks more.
    config = REFERRER_BLOCKLIST.replace("__USE__", use)
    assert only(lint_config(tmp_path, full(config)), "origins-regex") == []


def test_the_entries_of_one_allowing_map_are_one_finding(tmp_path):
    config = ('map $http_origin $cors { default ""; "~^https://a.example.com$" $http_origin; '
              '"~^https://b.example.com$" $http_origin; }\n'
              "server { listen 80; location / { add_header Access-Control-Allow-Origin $cors; return 200; } }\n")
    [finding] = only(lint_config(tmp_path, full(config)), "origins-regex")
    assert "(and 1 more entry of this map)" in finding.message


INERT_POOL = """
    upstream app { server 127.0.0.1:8000; keepalive 32; }
    server { listen 80; location / { proxy_pass http://app; } }
"""


def test_an_unused_pool_has_no_race_yet_and_the_fix_that_fills_it_says_what_follows(tmp_path):
    # HTTP/1.0 and Connection: close: no idle connection is kept, so none meets gunicorn's close.
    result = lint_config(tmp_path, full(INERT_POOL), gunicorn='worker_class = "gthread"\nthreads = 4\n'
                                                              'bind = "127.0.0.1:8000"\n')
    assert only(result, "app-keepalive-race") == []
    [http11] = only(result, "keepalive-needs-http11")
    assert "then the app's idle timeout (2s" in http11.message and "must also pass the pool's 60s" in http11.message


def test_one_connection_map_used_by_two_pools_is_one_finding(tmp_path):
    config = """
        map $http_upgrade $connection_upgrade { default upgrade; '' close; }
        upstream a { server 127.0.0.1:8000; keepalive 8; }
        upstream b { server 127.0.0.1:8001; keepalive 8; }
        server {
            listen 80;
            location /a/ { proxy_pass http://a; proxy_http_version 1.1; proxy_set_header Connection $connection_upgrade; }
            location /b/ { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection $connection_upgrade; }
        }
    """
    assert len(only(lint_config(tmp_path, full(config)), "keepalive-connection-header")) == 1


def test_http_host_to_another_service_than_the_paired_app_is_a_note(tmp_path):
    # vas3k.club: the site's gunicorn is paired; /telegram/ goes to a webhook receiver it does not read.
    config = """
        server { listen 80 default_server; return 444; }
        server {
            listen 80;
            server_name club.example.org;
            location / { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:8000; }
            location /telegram/ { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:8816; }
        }
    """
    result = lint_config(tmp_path, full(config), gunicorn='bind = "127.0.0.1:8000"\nworker_class = "gthread"\n')
    [finding] = only(result, "host-spoofing")
    assert "127.0.0.1:8000" in (tmp_path / "nginx.conf").read_text().splitlines()[finding.line - 1]
    assert any("passes on what a client writes after the name" in note for note in result.notes)


@pytest.mark.parametrize("app, reported", [("project.wsgi:application", False), ("app:create_app()", True)])
def test_x_forwarded_host_to_a_django_app_that_does_not_read_it_is_a_note(tmp_path, app, reported):
    # photonix: Django reads X-Forwarded-Host only with USE_X_FORWARDED_HOST = True (False by default).
    config = """
        server {
            listen 80;
            location / { proxy_set_header X-Forwarded-Host $http_host; proxy_pass http://127.0.0.1:8000; }
        }
    """
    result = lint_config(tmp_path, full(config), gunicorn=f'bind = "127.0.0.1:8000"\nwsgi_app = "{app}"\n')
    assert bool(only(result, "host-spoofing")) is reported
    assert any("USE_X_FORWARDED_HOST = True" in note for note in result.notes) is not reported


@pytest.mark.parametrize("app, reported", [
    ({"app_command": "uvicorn main:app --host 127.0.0.1 --port 8000"}, False),      # set 25's fastapi template
    ({"gunicorn": 'bind = "127.0.0.1:8000"\nworker_class = "uvicorn_worker.UvicornWorker"\n'}, False),
    ({"gunicorn": 'bind = "127.0.0.1:8000"\nworker_class = "gthread"\n'}, True),   # a WSGI app may wrap ProxyFix(x_host=1)
    ({"app_command": "hypercorn main:app --bind 127.0.0.1:8000"}, True),             # hypercorn's ProxyFixMiddleware reads it
])
def test_x_forwarded_host_to_uvicorn_which_reads_no_such_header_is_a_note(tmp_path, app, reported):
    # uvicorn's proxy headers are X-Forwarded-For and X-Forwarded-Proto only (middleware/proxy_headers.py).
    config = """
        server {
            listen 80;
            location / { proxy_set_header X-Forwarded-Host $http_host; proxy_pass http://127.0.0.1:8000; }
        }
    """
    result = lint_config(tmp_path, full(config), **app)
    assert bool(only(result, "host-spoofing")) is reported
    assert any("goes to uvicorn, whose proxy headers are X-Forwarded-For and X-Forwarded-Proto only" in note
               for note in result.notes) is not reported


def test_uwsgi_pass_to_an_http_socket_is_the_protocol_finding_alone(tmp_path):
    # iris: uwsgi_pass to uWSGI's `http = :8080` fails whatever params it sends (app-protocol-mismatch).
    config = """
        upstream backend { server 127.0.0.1:8080; }
        server { listen 80; location /health/ { uwsgi_pass backend; } location / { proxy_pass http://backend; } }
    """
    result = lint_config(tmp_path, full(config), files={"uwsgi.ini": "[uwsgi]\nhttp = :8080\nmodule = main.wsgi\n"})
    assert only(result, "app-protocol-mismatch") and only(result, "uwsgi-params-missing") == []


@pytest.mark.parametrize("listen, reported", [("", False), ("listen 80;", True)])
def test_http_host_in_the_only_server_of_a_site_file_without_listen_is_a_note(tmp_path, listen, reported):
    # runestone: the site's installer removes the default site, so this server is the default on *:80.
    site = f"server {{ {listen} server_name localhost; location / {{ proxy_set_header Host $http_host; " \
           f"proxy_pass http://127.0.0.1:8000; }} }}\n"
    others = "server { listen 80 default_server; return 444; }\n" if listen else ""
    result = lint_config(tmp_path, others + site, main="site.conf")
    assert bool(only(result, "host-spoofing")) is reported


@pytest.mark.parametrize("command, server, binds", [
    ("daphne -u /app/sock/daphne --proxy-headers project.asgi:application", "daphne", ["unix:/app/sock/daphne"]),
    ("tini -- gunicorn -b 127.0.0.1:9000 app:app", "gunicorn", None),
    ("python -u -m uvicorn --uds /run/app.sock app:app", "uvicorn", None),
])
def test_a_socket_path_named_like_a_server_does_not_start_one(command, server, binds):
    # virtualbarcamp: the socket path /app/sock/daphne is daphne's -u value, not a second daphne.
    from confgen.appserver import commands
    from confgen.appserver.daphne import read

    found = commands.find_server(command.split())
    assert found is not None and found[0] == server
    if binds is not None:
        assert read(command.split()[found[1]:], {}, "cmd", None, 1).binds == binds


def test_the_auth_endpoint_location_keeps_its_own_headers(tmp_path):
    """quay: the auth_request endpoint sends the app only what it asks about (X-Original-URI)."""
    config = full("""
        server {
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            location / { auth_request /auth; proxy_pass http://127.0.0.1:8000; }
            location = /auth {
                proxy_set_header X-Original-URI $request_uri;
                proxy_pass http://127.0.0.1:8000;
            }
            location /api/ {
                proxy_set_header X-Request-Id $request_id;
                proxy_pass http://127.0.0.1:8000;
            }
        }""")
    (finding,) = only(lint_config(tmp_path, config), "proxy-header-inheritance")
    assert finding.line == line_of(tmp_path / "nginx.conf", "X-Request-Id")


def test_a_problem_in_a_file_two_servers_include_is_reported_once(tmp_path):
    site = "location /api/ {\n    proxy_set_header X-Request-Id $request_id;\n    proxy_pass http://127.0.0.1:8000;\n}\n"
    config = full("server { listen 80; proxy_set_header Host $host; include site.conf; }\n"
                  "server { listen 443 ssl; ssl_certificate a.pem; ssl_certificate_key a.key;\n"
                  "         proxy_set_header Host $host; include site.conf; }")
    result = lint_config(tmp_path, config, files={"site.conf": site})
    (finding,) = only(result, "proxy-header-inheritance")
    assert finding.file.endswith("site.conf") and finding.line == 2


def test_a_pool_in_front_of_hosts_that_may_be_the_paired_sync_app_is_a_note(tmp_path):
    """doaj: gunicorn (sync) binds 0.0.0.0:5050 on several hosts the upstreams name: which is this
    app cannot be told, but each may be, and it closes every connection: `Connection ""` alone
    would not make the pools reused."""
    config = full("""
        upstream public { server 10.0.0.1:5050; server 10.0.0.2:5050 backup; keepalive 16; }
        upstream editor { server 10.0.0.3:5050; keepalive 16; }
        server {
            location / { proxy_pass http://public; }
            location /editor/ { proxy_pass http://editor; }
        }""")
    result = lint_config(tmp_path, config, gunicorn='bind = "0.0.0.0:5050"\n')
    assert not {"keepalive-needs-http11", "keepalive-connection-header"} & set(rules_of(result))
    assert any("which these servers may be" in note for note in result.notes)
    gthread = lint_config(tmp_path, config, gunicorn='bind = "0.0.0.0:5050"\nworker_class = "gthread"\n')
    assert "keepalive-connection-header" in rules_of(gthread)


def test_a_command_file_below_the_repository_root_finds_the_config_it_names_by_absolute_path(tmp_path):
    """doaj: deploy/supervisor/production/app.conf runs `gunicorn -c /home/app/doaj/deploy/gunicorn.py`."""
    from confgen.gunicorn import sources

    (tmp_path / "deploy" / "supervisor" / "production").mkdir(parents=True)
    (tmp_path / "deploy" / "gunicorn.py").write_text('bind = "0.0.0.0:5050"\nworkers = 4\n')
    program = tmp_path / "deploy" / "supervisor" / "production" / "app.conf"
    program.write_text("[program:app]\ncommand=/home/app/venv/bin/gunicorn -c /home/app/doaj/deploy/gunicorn.py "
                       "portality.app:app\ndirectory=/home/app/doaj\n")
    config = sources.read_paired(str(program))
    assert config.binds == ["0.0.0.0:5050"] and config.get("workers") == 4


@pytest.mark.parametrize("table, condition, reported", [
    ("geo $external { default 1; 10.0.0.0/8 0; }", "$external", False),     # hydroshare: only 10/8 gets in
    ("geo $internal { default 0; 10.0.0.0/8 1; }", "!$internal", False),
    ("geo $blocked { default 0; 192.0.2.0/24 1; }", "$blocked", True),      # a blocklist: the rest get in
    ("geo $http_x_forwarded_for $external { default 1; 10.0.0.0/8 0; }", "$external", True),  # client-written
])
def test_a_status_page_behind_a_refusal_by_client_address_is_not_exposed(tmp_path, table, condition, reported):
    config = full(f"{table}\nserver {{ listen 8080;\n  location /status {{ if ({condition}) {{ return 404; }} "
                  f"stub_status; }} }}")
    assert ("status-page-exposed" in rules_of(lint_config(tmp_path, config))) is reported


def test_the_same_capture_less_line_in_two_locations_of_a_server_is_one_finding(tmp_path):
    """archweb: `return 301 https://www.example.org/packages$1;` in two prefix locations."""
    config = full("server {\n  location /packages { return 301 https://www.example.org/packages$1; }\n"
                  "  location /pkg { return 301 https://www.example.org/packages$1; }\n}")
    (finding,) = only(lint_config(tmp_path, config), "invalid-capture-reference")
    assert "(and 1 more place in this server)" in finding.message
    assert finding.line == line_of(tmp_path / "nginx.conf", "location /packages")


@pytest.mark.parametrize("origin, reported", [("'*'", False), ("$http_origin", True)])
def test_credentials_dropped_where_any_origin_is_allowed_are_no_loss(tmp_path, origin, reported):
    """sapl: the OPTIONS preflight drops Allow-Credentials beside Allow-Origin '*', which browsers
    never pair with credentials."""
    config = full(f"""
        server {{
            location /api/ {{
                add_header Access-Control-Allow-Origin {origin};
                add_header Access-Control-Allow-Credentials 'true';
                if ($request_method = 'OPTIONS') {{
                    add_header Access-Control-Allow-Origin {origin};
                    add_header Access-Control-Max-Age 1728000;
                    return 204;
                }}
                proxy_pass http://127.0.0.1:8000;
            }}
        }}""")
    assert ("add-header-inheritance" in rules_of(lint_config(tmp_path, config))) is reported


@pytest.mark.parametrize("counterpart, reported", [("uwsgi_buffering off;", False), ("", True)])
def test_a_proxy_setting_beside_its_uwsgi_counterpart_is_a_dead_line_not_a_finding(tmp_path, counterpart, reported):
    """kitchenowl: `proxy_buffering off; uwsgi_buffering off;` in a uwsgi_pass location."""
    config = full(f"server {{ location /mcp {{ include uwsgi_params; proxy_buffering off; {counterpart} "
                  f"uwsgi_pass 127.0.0.1:5000; }} }}")
    assert ("proxy-setting-without-proxy-pass" in rules_of(lint_config(tmp_path, config))) is reported
