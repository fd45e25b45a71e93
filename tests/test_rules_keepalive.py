"""Keep-alive to upstreams (CG1xx): inheritance, includes, maps, and nginx 1.29.7's new defaults."""

from __future__ import annotations

import pytest

from lint_helpers import full, line_of, lint_config, only, rules_of

OLD, NEW = "1.22.1", "1.29.7"

POOLED = "upstream app { server 127.0.0.1:8000; keepalive 8; }\n"


def test_http10_to_a_pooled_upstream_is_reported_at_the_directive_in_force(tmp_path):
    result = lint_config(tmp_path, POOLED + """
        server {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            location / { proxy_pass http://app; }
            location /legacy/ {
                proxy_http_version 1.0;
                proxy_pass http://app;
            }
        }
    """)
    (finding,) = only(result, "keepalive-needs-http11")
    assert finding.line == line_of(tmp_path / "nginx.conf", "proxy_http_version 1.0")


@pytest.mark.parametrize("level", ["http", "server", "include"])
def test_http11_inherited_from_an_outer_level_or_an_include(tmp_path, level):
    setting = 'proxy_http_version 1.1;\nproxy_set_header Connection "";\n'
    http = setting if level == "http" else ""
    server = setting if level == "server" else ""
    location = "include proxy_params;" if level == "include" else ""
    result = lint_config(tmp_path, full(f"""
        {http}
        {POOLED}
        server {{
            {server}
            location / {{ {location} proxy_pass http://app; }}
        }}
    """), files={"proxy_params": setting})
    assert not {"keepalive-needs-http11", "keepalive-connection-header"} & set(rules_of(result)), result.findings


def test_default_http10_before_1_29_7_but_not_from_it(tmp_path):
    config = POOLED + 'server { location / { proxy_pass http://app; proxy_set_header Connection ""; } }\n'
    old = only(lint_config(tmp_path, config, nginx_version=OLD), "keepalive-needs-http11")
    assert len(old) == 1 and "default" in old[0].message
    assert old[0].line == line_of(tmp_path / "nginx.conf", "proxy_pass")
    assert not only(lint_config(tmp_path, config, nginx_version=NEW), "keepalive-needs-http11")


def test_explicit_http10_from_1_29_7_breaks_the_default_pool(tmp_path):
    config = """
        upstream app { server 127.0.0.1:8000; }
        server { location / { proxy_pass http://app; proxy_http_version 1.0; } }
    """
    assert "keepalive-needs-http11" in rules_of(lint_config(tmp_path, config, nginx_version=NEW))
    # before 1.29.7 that upstream has no pool at all: the finding is upstream-no-keepalive instead
    old = rules_of(lint_config(tmp_path, config, nginx_version=OLD))
    assert "keepalive-needs-http11" not in old and "upstream-no-keepalive" in old


def test_connection_close_by_default_before_1_29_7_only(tmp_path):
    config = POOLED + "server { location / { proxy_pass http://app; proxy_http_version 1.1; } }\n"
    (old,) = only(lint_config(tmp_path, config, nginx_version=OLD), "keepalive-connection-header")
    assert "by default" in old.message and old.line == line_of(tmp_path / "nginx.conf", "proxy_pass")
    assert not only(lint_config(tmp_path, config, nginx_version=NEW), "keepalive-connection-header")


@pytest.mark.parametrize("version", [OLD, NEW])
def test_explicit_connection_close_on_both_sides_of_1_29_7(tmp_path, version):
    config = POOLED + """
        server { location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection close; } }
    """
    assert "keepalive-connection-header" in rules_of(lint_config(tmp_path, config, nginx_version=version))


@pytest.mark.parametrize("entries, reported", [
    ("default upgrade; '' close;", True),     # the classic WebSocket idiom
    ("default upgrade; \"\" close;", True),
    ("default close; websocket upgrade;", True),   # no '' entry: the default applies
    ("default upgrade; '' '';", False),
    ("default upgrade;", False),
    ("hostnames; default upgrade; '' '';", False),
])
def test_connection_from_a_map_is_judged_by_its_value_without_upgrade(tmp_path, entries, reported):
    config = f"map $http_upgrade $connection_upgrade {{ {entries} }}\n" + POOLED + """
        server {
            location / {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade;
            }
        }
    """
    result = lint_config(tmp_path, config)
    assert ("keepalive-connection-header" in rules_of(result)) is reported


def test_connection_empty_at_server_lost_in_a_location_is_one_finding_the_pools(tmp_path):
    result = lint_config(tmp_path, POOLED + """
        server {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            location / {
                proxy_set_header X-Request-Id $request_id;
                proxy_pass http://app;
            }
        }
    """)
    # One cause, one finding: the pool's rule names the lost Connection header.
    assert "keepalive-connection-header" in rules_of(result) and "proxy-header-inheritance" not in rules_of(result)


def test_no_keepalive_upstream_reported_at_its_block_before_1_29_7(tmp_path):
    config = """
        upstream app {
            server 127.0.0.1:8000;
        }
        upstream unused { server 127.0.0.1:9000; }
        server { location / { proxy_pass http://app/; } }
    """
    (finding,) = only(lint_config(tmp_path, config, nginx_version=OLD), "upstream-no-keepalive")
    assert finding.line == line_of(tmp_path / "nginx.conf", "upstream app {")
    assert not only(lint_config(tmp_path, config, nginx_version=NEW), "upstream-no-keepalive")


def test_upstream_in_an_included_file(tmp_path):
    result = lint_config(tmp_path, full("include upstreams.conf;\nserver { location / { proxy_pass http://app; } }"),
                         files={"upstreams.conf": "upstream app { server 127.0.0.1:8000; }\n"})
    (finding,) = only(result, "upstream-no-keepalive")
    assert finding.file.endswith("upstreams.conf") and finding.line == 1


@pytest.mark.parametrize("target", ["http://127.0.0.1:8000", "http://unix:/run/app.sock:/", "https://[::1]:8443/x",
                                    "http://localhost:8000"])
def test_literal_proxy_pass_targets_are_reported(tmp_path, target):
    result = lint_config(tmp_path, f"location / {{ proxy_pass {target}; }}\n")
    # (A URI part also draws proxy-pass-normalized, at info level: a different concern.)
    assert [f.rule for f in result.findings if f.severity != "info"] == ["proxy-pass-no-upstream"]


def test_bare_names_only_reported_in_whole_configs(tmp_path):
    snippet = "server { location / { proxy_pass http://backend; } }"
    assert not only(lint_config(tmp_path, snippet + "\n"), "proxy-pass-no-upstream")   # upstream may be elsewhere
    assert only(lint_config(tmp_path, full(snippet)), "proxy-pass-no-upstream")     # it is nowhere


def test_variables_and_upstreams_are_not_literal_targets(tmp_path):
    result = lint_config(tmp_path, POOLED + """
        server {
            location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
            location /dyn/ { proxy_pass http://$backend_host; }
        }
    """)
    assert rules_of(result) == []


def test_version_aware_message_for_literal_targets(tmp_path):
    config = "location / { proxy_pass http://127.0.0.1:8000; }\n"
    assert "never reused" in only(lint_config(tmp_path, config, nginx_version=OLD), "proxy-pass-no-upstream")[0].message
    assert "size its pool" in only(lint_config(tmp_path, config, nginx_version=NEW), "proxy-pass-no-upstream")[0].message


GTHREAD_32 = 'worker_class = "gthread"\nworkers = 4\nthreads = 8\nkeepalive = 75\n'


@pytest.mark.parametrize("keepalive, workers, reported", [(4, 2, True), (16, 2, False), (8, 1, True), (32, 1, False)])
def test_pool_smaller_than_in_flight_per_worker(tmp_path, keepalive, workers, reported):
    config = full(f"""
        upstream app {{ server 127.0.0.1:8000; keepalive {keepalive}; }}
        server {{ location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}
    """, top=f"worker_processes {workers};\n")
    result = lint_config(tmp_path, config, gunicorn=GTHREAD_32)
    assert ("upstream-keepalive-pool-small" in rules_of(result)) is reported


def test_pool_size_is_not_judged_for_async_workers_without_a_profile(tmp_path):
    config = full("""
        upstream app { server 127.0.0.1:8000; keepalive 1; }
        server { location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }
    """, top="worker_processes 1;\n")
    result = lint_config(tmp_path, config, gunicorn='worker_class = "uvicorn_worker.UvicornWorker"\nkeepalive = 75\n')
    assert "upstream-keepalive-pool-small" not in rules_of(result)


@pytest.mark.parametrize("setting, reported", [
    ("keepalive_timeout 30s 60s;", True),
    ("keepalive_timeout 60s 30s;", False),
    ("keepalive_timeout 65;", False),
])
def test_advertised_keepalive_timeout_beyond_the_real_one(tmp_path, setting, reported):
    result = lint_config(tmp_path, f"server {{ {setting} }}\n")
    assert ("keepalive-timeout-order" in rules_of(result)) is reported


BALANCER_60S = {"keepalive-timeout-order": {"balancer-idle-timeout": 60}}


@pytest.mark.parametrize("setting, reported", [("keepalive_timeout 30s;", True), ("keepalive_timeout 60;", True),
                                               ("keepalive_timeout 75s;", False), ("", False)])
def test_nginx_behind_a_declared_balancer_must_idle_longer_than_it(tmp_path, setting, reported):
    config = f"""
        set_real_ip_from 10.0.0.0/8;
        {setting}
        server {{ listen 80; }}
    """
    result = lint_config(tmp_path, config, rule_options=BALANCER_60S)
    assert ("keepalive-timeout-order" in rules_of(result)) is reported
    # set_real_ip_from alone declares no balancer (a CDN's ranges, a sidecar): nothing inferred.
    assert "keepalive-timeout-order" not in rules_of(lint_config(tmp_path, config))


def test_a_profile_with_trusted_proxies_declares_a_balancer(tmp_path):
    import yaml
    from conftest import MINIMAL_PROFILE

    for proxies, reported in (([], False), (["10.0.0.0/8"], True)):
        (tmp_path / "profile.yaml").write_text(yaml.safe_dump({**MINIMAL_PROFILE, "trusted_proxies": proxies}))
        result = lint_config(tmp_path, "keepalive_timeout 30s;\nserver { listen 80; }\n",
                             profile=str(tmp_path / "profile.yaml"))
        assert ("keepalive-timeout-order" in rules_of(result)) is reported


def test_balancer_option_is_one_finding_per_directive_and_silent_under_a_deployment_include(tmp_path):
    config = "keepalive_timeout 30s;\nserver { listen 80; }\nserver { listen 81; }\n"
    assert len(only(lint_config(tmp_path, config, rule_options=BALANCER_60S), "keepalive-timeout-order")) == 1
    provided = "include /run/confgen-test-absent/timeouts.conf;\nserver { listen 80; }\n"
    result = lint_config(tmp_path, provided, rule_options=BALANCER_60S)
    assert "keepalive-timeout-order" not in rules_of(result)
    assert not [f for f in result.findings if f.rule == "include-not-found"]


def test_upstream_keepalive_timeout_is_not_a_client_one(tmp_path):
    result = lint_config(tmp_path, """
        set_real_ip_from 10.0.0.0/8;
        upstream app { server 127.0.0.1:8000; keepalive 8; keepalive_timeout 30s; }
        server { listen 80; }
    """)
    assert "keepalive-timeout-order" not in rules_of(result)


@pytest.mark.parametrize("value, reported", [("120s", True), ("2m", True), ("75s", False), ("5", False)])
def test_connect_timeout_above_75s(tmp_path, value, reported):
    result = lint_config(tmp_path, f"server {{ proxy_connect_timeout {value}; "
                                   f"location / {{ proxy_pass http://127.0.0.1:8000; }} }}\n")
    assert ("proxy-connect-timeout-ineffective" in rules_of(result)) is reported


@pytest.mark.parametrize("config", [
    # nothing passed to FastCGI: the setting governs no connect
    "fastcgi_connect_timeout 300; server { listen 80; location / { proxy_pass http://127.0.0.1:8000; } }",
    # a unix socket: nginx's non-blocking connect is accepted or fails (EAGAIN) at once
    "server { listen 80; location / { proxy_pass http://unix:/run/app.sock; proxy_connect_timeout 300; } }",
    "upstream app { server unix:/run/app.sock; } server { listen 80; proxy_connect_timeout 300;"
    " location / { proxy_pass http://app; } }",
    # amadeuslms: a map chooses between upstreams of unix sockets only
    "upstream wsgi { server unix:/run/app.sock; } upstream asgi { server unix:/run/app.sock; }"
    " map $http_upgrade $dispatcher { default wsgi; websocket asgi; }"
    " server { listen 80; proxy_connect_timeout 300; location / { proxy_pass http://$dispatcher; } }",
])
def test_connect_timeout_governing_no_network_connect_is_not_reported(tmp_path, config):
    assert "proxy-connect-timeout-ineffective" not in rules_of(lint_config(tmp_path, full(config)))
    tcp = full(config.replace("unix:/run/app.sock", "127.0.0.1:8000").replace(
        "fastcgi_connect_timeout 300;", "fastcgi_connect_timeout 300; server { location ~ \\.php$ { fastcgi_pass 127.0.0.1:9000; } }"))
    assert "proxy-connect-timeout-ineffective" in rules_of(lint_config(tmp_path / "tcp", tcp))


@pytest.mark.parametrize("entries", [
    "websocket asgi;",                              # no default: an empty value, nothing to resolve
    "default wsgi; websocket $http_x_backend;",     # a value nginx computes per request
])
def test_a_map_whose_values_cannot_all_be_resolved_leaves_the_connect_timeout_reported(tmp_path, entries):
    config = ("upstream wsgi { server unix:/run/app.sock; } upstream asgi { server unix:/run/app.sock; }"
              f" map $http_upgrade $dispatcher {{ {entries} }}"
              " server { listen 80; proxy_connect_timeout 300; location / { proxy_pass http://$dispatcher; } }")
    assert "proxy-connect-timeout-ineffective" in rules_of(lint_config(tmp_path, full(config)))


# ---------------------------------------------------------------------------------------------
# The pool advice depends on the app behind it; following it produces no other finding.

NO_POOL = """
    upstream app {{ server 127.0.0.1:8000;{pool} }}
    server {{
        location / {{ proxy_pass http://app;{http11} }}
    }}
"""
HTTP11 = ' proxy_http_version 1.1; proxy_set_header Connection "";'
PAIRING = {"app-keepalive-race", "sync-worker-keepalive", "upstream-no-keepalive", "keepalive-needs-http11",
           "keepalive-connection-header"}


def _no_pool(pool="", http11=""):
    return NO_POOL.format(pool=pool, http11=http11)


@pytest.mark.parametrize("app, says", [
    ('worker_class = "gthread"\nthreads = 4\n', "set gunicorn keepalive = 65"),
    ('worker_class = "gevent"\n', "set gunicorn keepalive = 65"),
    ('worker_class = "uvicorn_worker.UvicornWorker"\n', "set gunicorn keepalive = 65"),
    ('worker_class = "gthread"\nthreads = 4\nkeepalive = 75\n', "outlasts nginx's"),
    ('import os\nworker_class = os.environ["WORKER"]\n', "worker class cannot be read"),
    (None, "if the app behind keeps connections open"),
])
def test_pool_advice_per_worker_class(tmp_path, app, says):
    (finding,) = only(lint_config(tmp_path, _no_pool(), gunicorn=app), "upstream-no-keepalive")
    assert says in finding.message and finding.severity == "warning", finding.message


def test_no_pool_behind_the_sync_worker_is_a_note_that_says_to_switch_the_worker_first(tmp_path):
    # The sync worker closes every connection: no pool is right (sync-worker-keepalive says to
    # drop one), so reporting its absence would contradict that rule.
    result = lint_config(tmp_path, _no_pool(), gunicorn='worker_class = "sync"\n')
    assert not only(result, "upstream-no-keepalive")
    assert any("switch worker_class to gthread" in note and "first" in note for note in result.notes), result.notes


@pytest.mark.parametrize("app, gunicorn_after", [
    ('worker_class = "sync"\n', 'worker_class = "gthread"\nthreads = 4\nkeepalive = 65\n'),
    ('worker_class = "gthread"\nthreads = 4\n', 'worker_class = "gthread"\nthreads = 4\nkeepalive = 65\n'),
    ('worker_class = "uvicorn_worker.UvicornWorker"\n', 'worker_class = "uvicorn_worker.UvicornWorker"\nkeepalive = 65\n'),
])
def test_following_the_pool_advice_produces_no_other_keepalive_finding(tmp_path, app, gunicorn_after):
    before = lint_config(tmp_path, _no_pool(), gunicorn=app)
    assert "upstream-no-keepalive" in rules_of(before) or "sync" in app
    # Only the pool, without the app side the advice names: the next run reports the app side.
    pool_only = rules_of(lint_config(tmp_path, _no_pool(" keepalive 16;", HTTP11), gunicorn=app))
    assert {"app-keepalive-race", "sync-worker-keepalive"} & set(pool_only)
    after = lint_config(tmp_path, _no_pool(" keepalive 16;", HTTP11), gunicorn=gunicorn_after)
    assert not PAIRING & set(rules_of(after)), after.findings


def test_proxy_pass_without_upstream_gets_the_same_advice_once_per_target(tmp_path):
    config = """
        server {
            location / { proxy_pass http://127.0.0.1:8000; }
            location /api/ { proxy_pass http://127.0.0.1:8000; }
        }
    """
    (finding,) = only(lint_config(tmp_path, config, gunicorn='worker_class = "gthread"\nthreads = 2\n'),
                      "proxy-pass-no-upstream")
    assert "1 more location" in finding.message and "set gunicorn keepalive = 65" in finding.message
    synced = lint_config(tmp_path, config, gunicorn='worker_class = "sync"\n')
    assert not only(synced, "proxy-pass-no-upstream")
    assert any("switch worker_class" in note for note in synced.notes)


@pytest.mark.parametrize("path, connection, reported", [
    ("/ws/", '"upgrade"', False), ("/ws/", "Upgrade", False), ("/", '"upgrade"', False),
    # The $connection_upgrade map sends `close` without an Upgrade header: WebSocket-only where the
    # path says so (issue 25, AWX's /websocket), an ordinary location where it does not.
    ("/ws/", "$connection_upgrade", False),
    ("/", "$connection_upgrade", True),
])
def test_websocket_only_upstreams_are_not_pool_candidates(tmp_path, path, connection, reported):
    config = f"""
        map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
        upstream ws {{ server 127.0.0.1:9000; }}
        server {{
            location {path} {{
                proxy_pass http://ws;
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection {connection};
            }}
        }}
    """
    assert ("upstream-no-keepalive" in rules_of(lint_config(tmp_path, config))) is reported
    literal = config.replace("proxy_pass http://ws;", "proxy_pass http://127.0.0.1:9000;")
    assert ("proxy-pass-no-upstream" in rules_of(lint_config(tmp_path, literal))) is reported


AWX = """
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    upstream daphne { server 127.0.0.1:8051; }
    server {
        listen 80;
        location /websocket {
            proxy_pass http://daphne;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
    }
"""


def test_a_websocket_location_through_the_connection_upgrade_map_is_not_a_pool_candidate(tmp_path):
    # Held-out review (issue 25), AWX: daphne behind `location /websocket` with the map. Every
    # request there is an Upgrade, and an upgraded connection never goes back to a pool.
    result = lint_config(tmp_path, full(AWX))
    assert not {"upstream-no-keepalive", "proxy-pass-no-upstream"} & set(rules_of(result)), result.findings
    literal = full(AWX.replace("proxy_pass http://daphne;", "proxy_pass http://127.0.0.1:8051;"))
    assert "proxy-pass-no-upstream" not in rules_of(lint_config(tmp_path, literal))


@pytest.mark.parametrize("location, reported", [
    ("/ws", False), ("/ws/", False), ("= /ws", False), ("/wss/", False), ("^~ /websocket/", False),
    ("/socket.io/", False), ("~ ^/socket\\.io/", False), ("/cable", False), ("/sockjs/", False),
    ("/api/ws/", False), ("~ ^/api/v1/websocket$", False), ("~* ^/WS/", False),
    # A general path keeps the pool advice (set the map's '' value to ''): plain requests go there.
    ("/", True), ("/api", True), ("/wsgi/", True), ("/news", True), ("~ ^/(ws|api)/", True), ("@ws", True),
])
def test_which_paths_say_websocket(tmp_path, location, reported):
    config = full(AWX.replace("location /websocket", f"location {location}"))
    found = only(lint_config(tmp_path, config), "upstream-no-keepalive")
    assert bool(found) is reported, (location, found)
    if reported:
        assert "the Connection map's `''` value set to `''`" in found[0].message


GENERAL_TOO = """
        location / {
            proxy_pass http://daphne;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }
        location /websocket {"""


@pytest.mark.parametrize("before, after", [
    ("map $http_upgrade", "map $http_x_mode"),             # the map keys on another variable
    ("\n        location /websocket {", GENERAL_TOO),     # ordinary requests reach the upstream too
    ("proxy_set_header Connection $connection_upgrade;", ""),   # nginx's own Connection: close
])
def test_near_misses_of_the_websocket_map_keep_the_pool_advice(tmp_path, before, after):
    assert before in AWX
    config = full(AWX.replace(before, after))
    assert "upstream-no-keepalive" in rules_of(lint_config(tmp_path, config)), config


@pytest.mark.parametrize("target, reported", [("https://api.example.com", False), ("https://api.example.com:8443", False),
                                              ("https://10.0.0.5:8443", True), ("http://api.example.com:8080", True)])
def test_https_to_an_external_site_is_not_a_pool_candidate(tmp_path, target, reported):
    result = lint_config(tmp_path, f"server {{ location /ext/ {{ proxy_pass {target}; }} }}\n")
    assert ("proxy-pass-no-upstream" in rules_of(result)) is reported


def test_default_http10_in_many_locations_is_one_finding(tmp_path):
    config = POOLED + """
        server {
            proxy_set_header Connection "";
            location / { proxy_pass http://app; }
            location /a/ { proxy_pass http://app; }
            location /b/ { proxy_pass http://app; }
        }
    """
    (finding,) = only(lint_config(tmp_path, config), "keepalive-needs-http11")
    assert "2 more locations" in finding.message


@pytest.mark.parametrize("floor, keepalive, reported", [(0, 4, False), (8, 4, True), (8, 8, False), (8, 32, False)])
def test_pool_size_floor_is_a_rule_option(tmp_path, floor, keepalive, reported):
    config = f"upstream app {{ server 127.0.0.1:8000; keepalive {keepalive}; }}\n" \
             f'server {{ location / {{ proxy_pass http://app;{HTTP11} }} }}\n'
    options = {"upstream-keepalive-pool-small": {"min-size": floor}}
    result = lint_config(tmp_path, config, rule_options=options)
    findings = only(result, "upstream-keepalive-pool-small")
    assert bool(findings) is reported
    assert not reported or "floor of 8" in findings[0].message


@pytest.mark.parametrize("location, reported", [("/.well-known/acme-challenge/", False),
                                                ("'/.well-known/acme-challenge'", False), ("/api/", True)])
def test_acme_challenge_pass_through_is_not_a_pool_candidate(tmp_path, location, reported):
    result = lint_config(tmp_path, f"server {{ location {location} {{ proxy_pass http://certbot:80; }} }}\n")
    assert ("proxy-pass-no-upstream" in rules_of(result)) is reported
    upstream = f"upstream certbot {{ server certbot:80; }}\nserver {{ location {location} {{ proxy_pass http://certbot; }} }}\n"
    assert ("upstream-no-keepalive" in rules_of(lint_config(tmp_path, upstream))) is reported


@pytest.mark.parametrize("command, expected", [
    # granian closes an idle connection after 30 s (--http1-header-read-timeout 30000 ms by default)
    ("granian --interface asgi --port 8000 app:app", ["closes them after 30s", "`keepalive_timeout 25s;`"]),
    # uvicorn's 5 s default: half of it, so the pool lets go well before
    ("uvicorn app:app --port 8000", ["closes them after 5s, sooner than", "`keepalive_timeout 2s;`"]),
    ("uvicorn app:app --port 8000 --timeout-keep-alive 75", ["keeps idle connections 75s, longer than"]),
    # set 25: equal timers are no "sooner"
    ("uvicorn app:app --port 8000 --timeout-keep-alive 60", ["closes them after 60s, no later than nginx's",
                                                             "`keepalive_timeout 55s;`"]),
])
def test_pool_advice_behind_a_paired_server_names_its_idle_timeout(tmp_path, command, expected):
    """The advice follows the app that is there: a pool kept longer than the app's idle timeout
    races its closes (chain-keepalive-race), so the advice says how long the pool may keep them."""
    result = lint_config(tmp_path, full("server { listen 80; location / { proxy_pass http://127.0.0.1:8000; } }"),
                         app_command=command)
    [finding] = only(result, "proxy-pass-no-upstream")
    assert all(part in finding.message for part in expected), finding.message
    assert "if the app behind keeps connections open" not in finding.message


@pytest.mark.parametrize("gunicorn, pool, explained", [
    ('worker_class = "gevent"\nworkers = 2\nworker_connections = 10\n', 5, "at most 5 per nginx worker"),
    ('worker_class = "gevent"\nworkers = 2\n', 16, None),                         # 1000 slots each
    ('worker_class = "gthread"\nthreads = 4\nworkers = 2\nworker_connections = 10\n', 8, None),   # keeps threads free
    ('worker_class = "gevent"\nworkers = 1\nworker_connections = 1\n', None, "too few for a pool"),
])
def test_the_advised_pool_leaves_room_in_a_gevent_apps_connection_slots(tmp_path, gunicorn, pool, explained):
    """gevent holds every connection, idle keep-alive ones too, in a greenlet of its
    worker_connections pool: the idle pools of all nginx workers must leave it room."""
    nginx = ("worker_processes 2;\nevents {}\nhttp {\n    upstream app { server 127.0.0.1:8000; }\n"
             "    server { location / { proxy_pass http://app; } }\n}\n")
    [finding] = only(lint_config(tmp_path, nginx, gunicorn=gunicorn + 'bind = "127.0.0.1:8000"\n'),
                     "upstream-no-keepalive")
    if pool is not None:
        assert f"add `keepalive {pool};`" in finding.message
    assert (explained in finding.message) if explained else "per nginx worker" not in finding.message


def test_an_upstream_whose_app_is_not_read_gets_the_advice_as_a_note(tmp_path):
    """Whether a pool is ever reused depends on the app (Odoo's and Radicale's servers answer one
    request per connection): with no app side read, the default is a note; the project's
    unknown-app option asks for the finding; with the app paired, the finding is back."""
    from confgen.lint.engine import lint

    config = "upstream app { server 127.0.0.1:8000; }\nserver { listen 80; location / { proxy_pass http://app; } }\n"
    (tmp_path / "nginx.conf").write_text(config)
    path = [str(tmp_path / "nginx.conf")]
    result = lint(path, nginx_version="1.22.1")
    assert "upstream-no-keepalive" not in rules_of(result)
    [note] = [n for n in result.notes if "upstream app has no `keepalive`" in n]
    assert "not reported, as the app behind it is not read" in note and "if the app behind keeps" in note
    asked = lint(path, nginx_version="1.22.1", rule_options={"upstream-no-keepalive": {"unknown-app": True}})
    assert "upstream-no-keepalive" in rules_of(asked)
    paired = lint(path, nginx_version="1.22.1", gunicorn_cmd="gunicorn app:app -b 127.0.0.1:8000 --threads 4")
    [finding] = only(paired, "upstream-no-keepalive")
    assert "set gunicorn keepalive = 65" in finding.message
