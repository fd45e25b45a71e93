"""nginx + gunicorn checked together (CG2xx): which upstream is the app, and each pairing rule."""

from __future__ import annotations

import pytest

from lint_helpers import full, line_of, lint_config, only, rules_of

UVICORN = 'worker_class = "uvicorn_worker.UvicornWorker"\n'
GTHREAD = 'worker_class = "gthread"\nthreads = 4\n'
SYNC = 'worker_class = "sync"\n'

REUSED = """
    upstream app {{ server {server}; keepalive 16;{extra} }}
    server {{
        location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
"""


def reused(server="127.0.0.1:8000", extra=""):
    return REUSED.format(server=server, extra=extra)


@pytest.mark.parametrize("app, extra, reported", [
    (UVICORN, "", True),                                    # 2s <= 60s (both defaults)
    (UVICORN + "keepalive = 60\n", "", True),               # equal still races
    (UVICORN + "keepalive = 65\n", "", False),
    (GTHREAD + "keepalive = 5\n", " keepalive_timeout 4s;", False),
    (GTHREAD + "keepalive = 75\n", " keepalive_timeout 90s;", True),
    (SYNC, "", False),                                      # sync closes every connection itself
    ('import os\nworker_class = "gthread"\nkeepalive = int(os.environ["KA"])\n', "", False),  # unknown: silent
])
def test_app_keepalive_race(tmp_path, app, extra, reported):
    result = lint_config(tmp_path, reused(extra=extra), gunicorn=app)
    assert ("app-keepalive-race" in rules_of(result)) is reported


def test_app_keepalive_race_anchor_and_message(tmp_path):
    result = lint_config(tmp_path, reused(extra=" keepalive_timeout 30s;"), gunicorn=UVICORN + "keepalive = 5\n")
    (finding,) = only(result, "app-keepalive-race")
    assert finding.line == line_of(tmp_path / "nginx.conf", "keepalive_timeout 30s")
    assert "keepalive = 5" in finding.message and "gunicorn.conf.py:2" in finding.message
    assert "30s" in finding.message and finding.severity == "error"


def test_app_keepalive_race_with_nginx_1_29_7_default_pool(tmp_path):
    config = "upstream app { server 127.0.0.1:8000; }\nserver { location / { proxy_pass http://app; } }\n"
    assert "app-keepalive-race" not in rules_of(lint_config(tmp_path, config, gunicorn=UVICORN))
    new = lint_config(tmp_path, config, gunicorn=UVICORN, nginx_version="1.29.7")
    (finding,) = only(new, "app-keepalive-race")
    assert finding.line == line_of(tmp_path / "nginx.conf", "upstream app")


def test_only_upstreams_that_reach_the_app_are_paired(tmp_path):
    config = """
        upstream app { server unix:/run/app.sock; keepalive 16; keepalive_timeout 30s; }
        upstream other { server 10.0.0.9:9000; keepalive 16; }
        server {
            location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
            location /other/ { proxy_pass http://other; proxy_http_version 1.1; proxy_set_header Connection ""; }
        }
    """
    result = lint_config(tmp_path, config, gunicorn=UVICORN + 'bind = "unix:/run/app.sock"\nkeepalive = 45\n')
    assert rules_of(result).count("app-keepalive-race") == 0   # app: 45 > 30; `other` is not this app
    result = lint_config(tmp_path, config, gunicorn=UVICORN + 'bind = "0.0.0.0:9000"\nkeepalive = 45\n')
    assert [f.message.split("upstream ")[1].split()[0] for f in only(result, "app-keepalive-race")] == ["other"]


def test_sync_worker_behind_an_explicit_pool(tmp_path):
    (finding,) = only(lint_config(tmp_path, reused(), gunicorn=SYNC), "sync-worker-keepalive")
    assert finding.line == line_of(tmp_path / "nginx.conf", "keepalive 16")
    assert not only(lint_config(tmp_path, reused(), gunicorn=GTHREAD), "sync-worker-keepalive")
    # threads > 1 turns gunicorn's sync worker into gthread
    assert not only(lint_config(tmp_path, reused(), gunicorn="threads = 2\n"), "sync-worker-keepalive")
    # nginx 1.29.7's implicit pool is not reported: sync behind a buffering nginx is a sound setup
    implicit = "upstream app { server 127.0.0.1:8000; }\nserver { location / { proxy_pass http://app; } }\n"
    assert not only(lint_config(tmp_path, implicit, gunicorn=SYNC, nginx_version="1.29.7"), "sync-worker-keepalive")


@pytest.mark.parametrize("app, read_timeout, reported", [
    ("timeout = 60\n", "proxy_read_timeout 59s;", True),
    # Equal: the arbiter, which looks once a second, kills the worker within a second of nginx's 504.
    ("timeout = 60\n", "proxy_read_timeout 60s;", False),
    ("timeout = 300000\n", "proxy_read_timeout 300000s;", False),  # both "never", deliberately
    ("timeout = 90\n", "", True),                      # default proxy_read_timeout is 60s
    ("timeout = 30\n", "", False),                     # both defaults
    ("timeout = 0\n", "proxy_read_timeout 300s;", True),   # 0 disables gunicorn's timeout
    ("timeout = 120\n", "proxy_read_timeout \"2m 10s\";", False),
    (GTHREAD + "timeout = 120\n", "", False),          # not a request timeout for other workers
    (UVICORN + "timeout = 120\n", "", False),
])
def test_app_timeout_exceeds_proxy(tmp_path, app, read_timeout, reported):
    result = lint_config(tmp_path, f"server {{ {read_timeout} location / {{ proxy_pass http://127.0.0.1:8000; }} }}\n",
                         gunicorn=app)
    assert ("app-timeout-exceeds-proxy" in rules_of(result)) is reported


def test_app_timeout_inherited_from_http_is_anchored_there(tmp_path):
    result = lint_config(tmp_path, full("""
        proxy_read_timeout 30s;
        server { location / { proxy_pass http://127.0.0.1:8000; } }
    """), gunicorn="timeout = 45\n")
    (finding,) = only(result, "app-timeout-exceeds-proxy")
    assert finding.line == line_of(tmp_path / "nginx.conf", "proxy_read_timeout 30s")


@pytest.mark.parametrize("setting", ["proxy_buffering off;", "proxy_request_buffering off;"])
def test_proxy_buffering_off_in_front_of_sync_workers(tmp_path, setting):
    config = f"server {{ {setting} location / {{ proxy_pass http://127.0.0.1:8000; }} }}\n"
    (finding,) = only(lint_config(tmp_path, config, gunicorn=SYNC), "proxy-buffering-sync-worker")
    assert finding.line == 1 and setting.split()[0] in finding.message
    assert not only(lint_config(tmp_path, config, gunicorn=GTHREAD), "proxy-buffering-sync-worker")


def test_proxy_buffering_back_on_in_the_location_is_fine(tmp_path):
    config = "server { proxy_buffering off; location / { proxy_buffering on; proxy_pass http://127.0.0.1:8000; } }\n"
    assert not only(lint_config(tmp_path, config, gunicorn=SYNC), "proxy-buffering-sync-worker")


@pytest.mark.parametrize("app, reported", [
    (UVICORN + 'bind = "unix:/run/app.sock"\n', True),
    (UVICORN + 'bind = "unix:/run/app.sock"\nforwarded_allow_ips = "10.0.0.1"\n', True),
    (UVICORN + 'bind = "unix:/run/app.sock"\nforwarded_allow_ips = "*"\n', False),
    (UVICORN + 'bind = "127.0.0.1:8000"\n', False),
    (GTHREAD + 'bind = "unix:/run/app.sock"\n', False),
])
def test_uvicorn_on_a_unix_socket_needs_forwarded_allow_ips_star(tmp_path, app, reported):
    result = lint_config(tmp_path, "location / { proxy_pass http://unix:/run/app.sock; }\n", gunicorn=app)
    assert ("uvicorn-unix-forwarded" in rules_of(result)) is reported


def test_uvicorn_unix_forwarded_points_at_the_gunicorn_line(tmp_path):
    app = UVICORN + 'bind = "unix:/run/app.sock"\nforwarded_allow_ips = "10.0.0.1"\n'
    (finding,) = only(lint_config(tmp_path, "location / { proxy_pass http://unix:/run/app.sock; }\n", gunicorn=app),
                      "uvicorn-unix-forwarded")
    assert finding.file.endswith("gunicorn.conf.py") and finding.line == 3


@pytest.mark.parametrize("nginx_extra, app, reported", [
    ("", GTHREAD, True),                                    # both defaults (8k, 4094): at info
    ("large_client_header_buffers 4 8k;", GTHREAD, True),   # 8k written, gunicorn left at 4094
    ("", GTHREAD + "limit_request_line = 2048\n", True),     # gunicorn lowered below nginx's default
    ("", GTHREAD + "limit_request_line = 8190\n", False),
    ("", GTHREAD + "limit_request_line = 0\n", False),      # unlimited
    ("large_client_header_buffers 4 4k;", GTHREAD, False),
    ("large_client_header_buffers 4 16k;", GTHREAD + "limit_request_line = 0\n", True),   # header fields: 8190
    ("", UVICORN, False),                                   # uvicorn does not apply gunicorn's limits
    ("", 'bind = "127.0.0.1:8000"\nworker_class = "aiohttp.GunicornWebWorker"\n', False),   # nor aiohttp's
])
def test_header_limits_mismatch(tmp_path, nginx_extra, app, reported):
    result = lint_config(tmp_path, f"{nginx_extra}\nserver {{ location / {{ proxy_pass http://127.0.0.1:8000; }} }}\n",
                         gunicorn=app)
    assert ("header-limits-mismatch" in rules_of(result)) is reported


def test_header_limits_message_names_both_sides(tmp_path):
    result = lint_config(tmp_path, "server { location / { proxy_pass http://127.0.0.1:8000; } }\n",
                         gunicorn=GTHREAD + "limit_request_line = 2048\n")
    (finding,) = only(result, "header-limits-mismatch")
    assert "8190" in finding.message and "2048" in finding.message
    assert finding.file.endswith("gunicorn.conf.py") and finding.line == 3


@pytest.mark.parametrize("app, reported", [
    ("max_requests = 1000\n", True),
    ("max_requests = 1000\nmax_requests_jitter = 50\n", False),
    ("max_requests = 0\n", False),
    ("", False),
])
def test_max_requests_without_jitter(tmp_path, app, reported):
    result = lint_config(tmp_path, "location / { proxy_pass http://127.0.0.1:8000; }\n", gunicorn=app)
    assert ("max-requests-no-jitter" in rules_of(result)) is reported


@pytest.mark.parametrize("bind, server, reported", [
    ("unix:/run/app/gunicorn.sock", "unix:/run/app.sock", True),
    ("unix:/run/app.sock", "unix:/run/app.sock", False),
    ("127.0.0.1:8000", "10.1.1.1:8000", True),
    ("0.0.0.0:8000", "app:8000", False),         # a container name on the app's port
    ("127.0.0.1:8000", "localhost:8000", False),
    ("[::]:8000", "127.0.0.1:8000", False),
    ("127.0.0.1:8001", "127.0.0.1:8000", True),
])
def test_app_bind_mismatch(tmp_path, bind, server, reported):
    config = full(f"upstream app {{ server {server}; }}\nserver {{ location / {{ proxy_pass http://app; }} }}")
    result = lint_config(tmp_path, config, gunicorn=f'bind = "{bind}"\n')
    assert ("app-bind-mismatch" in rules_of(result)) is reported


@pytest.mark.parametrize("bind, server", [
    ("0.0.0.0:8000", "127.0.0.1:8080"),   # all interfaces: a published port may map 8080 to 8000
    ("0.0.0.0:3031", "10.2.2.45:13037"),
])
def test_an_app_on_all_interfaces_may_be_reached_through_a_mapped_port(tmp_path, bind, server):
    config = full(f"upstream app {{ server {server}; }}\nserver {{ location / {{ proxy_pass http://app; }} }}")
    assert "app-bind-mismatch" not in rules_of(lint_config(tmp_path, config, gunicorn=f'bind = "{bind}"\n'))


@pytest.mark.parametrize("ini, reported", [
    ("socket = 127.0.0.1:3080\n", True),                 # the port moved on one side only
    ("socket = 127.0.0.1:3033\n", False),
    ("socket = /run/app.sock\n", True),
    ("socket = %(chdir)/app.sock\n", False),             # a placeholder: where it listens is unknown
    ("socket = 0.0.0.0:3031\n", False),                  # may be published as 3033
    ("http-socket = 127.0.0.1:3033\nsocket = 127.0.0.1:3031\n", False),   # one of its sockets
])
def test_app_bind_mismatch_for_uwsgi(tmp_path, ini, reported):
    config = ("upstream main_app { server 127.0.0.1:3033; }\n"
              "server { location / { include uwsgi_params; uwsgi_pass main_app; } }\n")
    result = lint_config(tmp_path, config, files={"uwsgi.ini": "[uwsgi]\nmodule = app.wsgi\n" + ini})
    assert ("app-bind-mismatch" in rules_of(result)) is reported
    if reported:
        (finding,) = only(result, "app-bind-mismatch")
        assert finding.line == 1 and "uWSGI" in finding.message and "127.0.0.1:3033" in finding.message


@pytest.mark.parametrize("config, bind", [
    ("server { location / { proxy_pass http://app; } }", "127.0.0.1:8000"),   # an upstream of another file
    ("server { location / { proxy_pass http://localhost:5601; } }", "127.0.0.1:5998"),  # a gateway to Kibana
    (full("server { location / { proxy_pass http://unix:/run/app.sock; } }"), "unix:app.sock"),  # relative
    (full("server { set $admin 10.0.0.5:80; location /.well-known/ { proxy_pass http://127.0.0.1:8008; }\n"
          "location /admin { proxy_pass http://$admin; } }"), "127.0.0.1:80"),   # mailu: reached by a variable
])
def test_app_bind_mismatch_is_not_claimed_where_the_app_may_be_reached_otherwise(tmp_path, config, bind):
    result = lint_config(tmp_path, config, gunicorn=f'bind = "{bind}"\n')
    assert "app-bind-mismatch" not in rules_of(result)


def test_a_compose_service_on_all_interfaces_is_reached_on_its_own_port(tmp_path):
    config = full("upstream web { server web:8001; }\nserver { location / { proxy_pass http://web; } }")
    compose = "services:\n  web:\n    command: gunicorn -b 0.0.0.0:8000 app.wsgi\n"
    result = lint_config(tmp_path, config, files={"docker-compose.yml": compose})
    (finding,) = only(result, "app-bind-mismatch")
    assert "0.0.0.0:8000" in finding.message and "web:8001" in finding.message


def test_default_bind_is_not_judged(tmp_path):
    config = full("upstream app { server unix:/run/app.sock; }\nserver { location / { proxy_pass http://app; } }")
    assert "app-bind-mismatch" not in rules_of(lint_config(tmp_path, config, gunicorn="workers = 2\n"))


def test_gunicorn_config_that_does_not_parse_is_an_error(tmp_path):
    result = lint_config(tmp_path, "location / { proxy_pass http://127.0.0.1:8000; }\n", gunicorn="workers = (\n")
    (finding,) = only(result, "gunicorn-config-error")
    assert finding.file.endswith("gunicorn.conf.py") and finding.severity == "error"


# ---------------------------------------------------------------------------------------------
# Pairing scope: a gunicorn config describes one app; other upstreams are not judged by it.

TWO_APPS = """
    upstream django {{ server unix:/run/django.sock; keepalive 16; }}
    upstream goapi {{ server 127.0.0.1:9000; keepalive 16; }}
    server {{
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        {read}
        location / {{ proxy_pass http://django; }}
        location /api/ {{ proxy_pass http://goapi; }}
        location /api/v2/ {{ proxy_pass http://goapi; }}
    }}
"""


def test_only_the_upstream_reaching_the_bind_is_judged_and_a_note_names_the_others(tmp_path):
    app = 'worker_class = "gthread"\nthreads = 4\nbind = "unix:/run/django.sock"\n'
    result = lint_config(tmp_path, TWO_APPS.format(read=""), gunicorn=app)
    (race,) = only(result, "app-keepalive-race")
    assert "upstream django" in race.message
    assert any("reached through django" in n and "goapi leads elsewhere" in n for n in result.notes), result.notes
    # The Go service on 9000 as the app: only goapi is judged.
    result = lint_config(tmp_path, TWO_APPS.format(read=""), gunicorn=app.replace("unix:/run/django.sock", "127.0.0.1:9000"))
    assert [f.message.split("upstream ")[1].split()[0] for f in only(result, "app-keepalive-race")] == ["goapi"]


@pytest.mark.parametrize("bind, note", [
    ('import os\nbind = os.environ["BIND"]\n', "cannot be read without running it"),
    ('bind = "unix:/run/elsewhere.sock"\n', "which no upstream or proxy_pass here reaches"),
])
def test_when_the_match_cannot_be_made_nothing_is_assumed_and_a_note_says_so(tmp_path, bind, note):
    result = lint_config(tmp_path, TWO_APPS.format(read=""), gunicorn='worker_class = "gthread"\nthreads = 4\n' + bind)
    assert not only(result, "app-keepalive-race")
    assert any(note in n for n in result.notes), result.notes


def test_an_upstream_defined_in_a_file_not_linted_is_not_assumed_to_be_the_app(tmp_path):
    snippet = 'location / { proxy_pass http://app; proxy_read_timeout 10s; }\n'
    result = lint_config(tmp_path, snippet, gunicorn="timeout = 30\n")
    assert not only(result, "app-timeout-exceeds-proxy")
    assert any("no upstream or proxy_pass here reaches" in n for n in result.notes), result.notes


def test_one_problem_is_one_finding_not_one_per_location(tmp_path):
    app = 'bind = "127.0.0.1:9000"\ntimeout = 90\n'
    result = lint_config(tmp_path, TWO_APPS.format(read=""), gunicorn=app)
    (finding,) = only(result, "app-timeout-exceeds-proxy")      # the default 60s, for two locations
    assert "(default) (and 1 more location)" in finding.message
    result = lint_config(tmp_path, TWO_APPS.format(read="proxy_read_timeout 30s;"), gunicorn=app)
    (finding,) = only(result, "app-timeout-exceeds-proxy")
    assert finding.line == line_of(tmp_path / "nginx.conf", "proxy_read_timeout 30s")


def test_header_limits_both_defaults_are_info_a_written_mismatch_a_warning(tmp_path):
    location = "server { location / { proxy_pass http://127.0.0.1:8000; } }\n"
    (defaults,) = only(lint_config(tmp_path, location, gunicorn=GTHREAD), "header-limits-mismatch")
    (written,) = only(lint_config(tmp_path, "large_client_header_buffers 4 8k;\n" + location, gunicorn=GTHREAD),
                      "header-limits-mismatch")
    assert (defaults.severity, written.severity) == ("info", "warning")


def test_a_wildcard_bind_whose_port_upstreams_on_different_hosts_use_is_not_guessed(tmp_path):
    config = """
        upstream a { server 10.0.0.5:8000; keepalive 16; }
        upstream b { server 10.0.0.6:8000; keepalive 16; }
        upstream a_ws { server 10.0.0.5:8000; }
        server {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            location / { proxy_pass http://a; }
            location /b/ { proxy_pass http://b; }
        }
    """
    app = UVICORN + 'bind = "0.0.0.0:8000"\n'
    result = lint_config(tmp_path, config, gunicorn=app)
    assert not only(result, "app-keepalive-race")
    assert any("which of them is this app cannot be told" in note for note in result.notes), result.notes
    # Replicas of one app in one upstream block, or two blocks on the same host, are one app.
    replicas = config.replace("upstream b { server 10.0.0.6:8000; keepalive 16; }",
                              "upstream b { server 10.0.0.5:8000; keepalive 16; }")
    assert len(only(lint_config(tmp_path, replicas, gunicorn=app), "app-keepalive-race")) == 2
    one_block = "upstream a { server 10.0.0.5:8000; server 10.0.0.6:8000; keepalive 16; }\n" \
                'server { location / { proxy_pass http://a; proxy_http_version 1.1; proxy_set_header Connection ""; } }\n'
    assert len(only(lint_config(tmp_path, one_block, gunicorn=app), "app-keepalive-race")) == 1


@pytest.mark.parametrize("app, reported", [
    ('worker_class = "gevent"\n', True),                     # gunicorn's parser, through base_async
    ('worker_class = "gevent_pywsgi"\n', False),             # gevent.pywsgi parses
    ('worker_class = "tornado"\n', False),                   # tornado's HTTP server parses
    ('worker_class = "h.websocket.Worker"\n', False),        # a project's own worker: parser unknown
])
def test_header_limits_only_where_gunicorns_parser_reads_the_request(tmp_path, app, reported):
    result = lint_config(tmp_path, "server { location / { proxy_pass http://127.0.0.1:8000; } }\n",
                         gunicorn=app + 'bind = "127.0.0.1:8000"\n')
    assert ("header-limits-mismatch" in rules_of(result)) is reported


def test_websocket_locations_get_no_header_limit_or_buffering_findings(tmp_path):
    ws = ("map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"
          "server { location /ws { proxy_pass http://127.0.0.1:8000; proxy_http_version 1.1; proxy_buffering off;\n"
          "    proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; } }\n")
    result = lint_config(tmp_path, ws, gunicorn='worker_class = "sync"\nbind = "127.0.0.1:8000"\n')
    assert not {"header-limits-mismatch", "proxy-buffering-sync-worker"} & set(rules_of(result))
    plain = ws.replace("location /ws", "location /")
    assert {"header-limits-mismatch", "proxy-buffering-sync-worker"} <= set(rules_of(
        lint_config(tmp_path, plain, gunicorn='worker_class = "sync"\nbind = "127.0.0.1:8000"\n')))


@pytest.mark.parametrize("target", ["unix://var/run/app.sock", "unix:////var/run/app.sock", "unix:/var/run//app.sock"])
def test_a_socket_path_with_extra_slashes_is_the_same_socket(tmp_path, target):
    # http://unix://var/run/app.sock (an install script's rendering) reaches unix:/var/run/app.sock.
    config = f"server {{ listen 80; location / {{ proxy_pass http://{target}; }} }}\n"
    result = lint_config(tmp_path, config, gunicorn_cmd="gunicorn app:app -b unix:/var/run/app.sock")
    # The app is paired with the location: its rules run (gunicorn's 4094-byte request line).
    assert "header-limits-mismatch" in rules_of(result), result.notes
    assert not any("which no upstream or proxy_pass here reaches" in n for n in result.notes), result.notes


@pytest.mark.parametrize("bind, server, container, reported", [
    ("0.0.0.0:8001", "127.0.0.1:8001", False, True),    # strappo: the app answers past nginx on :8001
    ("127.0.0.1:8001", "127.0.0.1:8001", False, False),
    ("0.0.0.0:8001", "127.0.0.1:8001", True, False),     # a Dockerfile beside it: the wildcard is for nginx's container
    ("0.0.0.0:8001", "app:8001", False, False),          # reached by name: another machine or container
])
def test_app_listens_beyond_nginx(tmp_path, bind, server, container, reported):
    config = full(f"upstream app {{ server {server}; }}\nserver {{ location / {{ proxy_pass http://app; }} }}")
    files = {"Dockerfile": "FROM python:3.12\n"} if container else {}
    result = lint_config(tmp_path, config, gunicorn=f'bind = "{bind}"\n', files=files)
    assert ("app-listens-beyond-nginx" in rules_of(result)) is reported


def test_a_uwsgi_socket_on_every_interface_is_reported_at_its_line(tmp_path):
    config = "upstream app { server 127.0.0.1:3031; }\nserver { location / { include uwsgi_params; uwsgi_pass app; } }\n"
    ini = "[uwsgi]\nmodule = app.wsgi\nsocket = 0.0.0.0:3031\n"
    (finding,) = only(lint_config(tmp_path, config, files={"uwsgi.ini": ini}),
                      "app-listens-beyond-nginx")
    assert finding.file.endswith("uwsgi.ini") and finding.line == 3
