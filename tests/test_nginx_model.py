"""The nginx model: the directive tree, nginx's inheritance, per-version defaults, and the
helpers rules use (proxied locations, upstream pools, proxy headers, listen)."""

from __future__ import annotations

import socket
import subprocess
import textwrap
import threading
import time

import pytest

from confgen.nginx.model import DEFAULTS, UPSTREAM_DEFAULTS, parse_listen, versioned
from confgen.nginx.parse import load_nginx
from confgen.nginx.versions import installed_nginx_version, parse_version

from conftest import free_port, require_binary


def config_of(text: str, version: str = "1.22.1"):
    return load_nginx(text=textwrap.dedent(text), nginx_version=version)


def location(config, path: str):
    return next(d for d in config.find_all("location") if d.args[-1] == path)


INHERITANCE = """
    events {}
    http {
        proxy_set_header X-Outer http;
        proxy_set_header X-Other http;
        add_header X-Frame-Options DENY;
        proxy_read_timeout 30s;
        server {
            listen 80;
            location /inherits/ {
                proxy_pass http://app;
            }
            location /own/ {
                proxy_set_header X-Inner own;
                add_header Cache-Control no-store;
                proxy_pass http://app;
                location /own/nested/ {
                    proxy_read_timeout 5s;
                    proxy_pass http://app;
                }
                if ($request_method = POST) {
                    proxy_pass http://app;
                }
                limit_except GET {
                    proxy_set_header X-Limit yes;
                    proxy_pass http://app;
                }
            }
        }
        server {
            listen 81;
            proxy_set_header X-Server server;
            location / { proxy_pass http://app; }
        }
    }
"""


def header_names(config, at) -> list[str]:
    return [d.args[0] for d in config.effective("proxy_set_header", at)]


def test_a_level_without_the_directive_inherits_the_outer_ones():
    config = config_of(INHERITANCE)
    assert header_names(config, location(config, "/inherits/")) == ["X-Outer", "X-Other"]
    assert config.effective_args("proxy_read_timeout", location(config, "/inherits/")) == ["30s"]


def test_one_proxy_set_header_at_a_level_drops_every_outer_one():
    config = config_of(INHERITANCE)
    own = location(config, "/own/")
    assert header_names(config, own) == ["X-Inner"]
    assert [d.args[0] for d in config.effective("add_header", own)] == ["Cache-Control"]
    server = config.find_all("server")[1]
    assert header_names(config, location(config, "/")) == ["X-Server"] == header_names(config, server)


def test_nested_locations_if_and_limit_except_inherit_from_their_location():
    config = config_of(INHERITANCE)
    nested = location(config, "/own/nested/")
    assert header_names(config, nested) == ["X-Inner"]
    assert config.effective_args("proxy_read_timeout", nested) == ["5s"]
    assert config.effective_args("proxy_read_timeout", location(config, "/own/")) == ["30s"]
    if_block = config.find_all("if")[0]
    assert header_names(config, if_block) == ["X-Inner"]
    limit = config.find_all("limit_except")[0]
    assert header_names(config, limit) == ["X-Limit"]


def test_effective_is_empty_and_effective_args_falls_back_to_the_default():
    config = config_of("events {}\nhttp { server { location / { proxy_pass http://a; } } }\n")
    loc = location(config, "/")
    assert config.effective("proxy_buffering", loc) == []
    assert config.effective_args("proxy_buffering", loc) == ["on"]
    assert config.effective_args("no_such_directive", loc) is None


def test_an_upstream_block_inherits_nothing_from_http():
    config = config_of("""
        events {}
        http {
            keepalive_timeout 65s;
            keepalive_requests 50;
            upstream app { server 127.0.0.1:8000; keepalive 8; keepalive_requests 500; }
        }
    """, version="1.25.3")
    upstream = config.upstreams()["app"]
    assert config.effective("keepalive_timeout", upstream) == []
    assert config.effective_args("keepalive_timeout", upstream) == ["60s"]  # the upstream module's
    assert config.effective_args("keepalive_requests", upstream) == ["500"]
    assert config.effective_args("keepalive_timeout", config.find_all("http")[0]) == ["65s"]


# ---------------------------------------------------------------------------------------------
# Defaults per version


@pytest.mark.parametrize(("name", "version", "expected"), [
    ("proxy_http_version", "1.22.1", ["1.0"]),
    ("proxy_http_version", "1.29.6", ["1.0"]),
    ("proxy_http_version", "1.29.7", ["1.1"]),
    ("proxy_http_version", "1.30.0", ["1.1"]),
    ("keepalive_requests", "1.19.9", ["100"]),
    ("keepalive_requests", "1.19.10", ["1000"]),
    ("keepalive_time", "1.19.9", None),
    ("keepalive_time", "1.19.10", ["1h"]),
    ("keepalive_timeout", "1.22.1", ["75s"]),
    ("proxy_read_timeout", "1.22.1", ["60s"]),
    ("ssl_protocols", "1.22.1", ["TLSv1", "TLSv1.1", "TLSv1.2"]),
    ("ssl_protocols", "1.25.0", ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
    ("ssl_protocols", "1.27.3", ["TLSv1.2", "TLSv1.3"]),
    ("http2", "1.25.0", None),
    ("http2", "1.25.1", ["off"]),
    ("worker_connections", "1.22.1", ["512"]),
    ("large_client_header_buffers", "1.22.1", ["4", "8k"]),
])
def test_defaults_follow_the_target_version(name, version, expected):
    assert config_of("events {}\n", version=version).default(name) == expected


def test_default_tables_are_oldest_first():
    for table in (DEFAULTS, UPSTREAM_DEFAULTS):
        for name, entries in table.items():
            versions = [since for since, _ in entries]
            assert versions == sorted(versions), name


UPSTREAM_PAIR = """
    events {}
    http {
        upstream implicit_pool { server 127.0.0.1:8000; }
        upstream sized { server 127.0.0.1:8001; keepalive 16; }
        upstream disabled { server 127.0.0.1:8002; keepalive 0; }
        server {
            location /a { proxy_pass http://implicit_pool; }
            location /b { proxy_pass http://sized; }
            location /c { proxy_pass http://disabled; }
        }
    }
"""


@pytest.mark.parametrize(("version", "expected"), [
    ("1.22.1", {"implicit_pool": None, "sized": 16, "disabled": None}),
    ("1.29.6", {"implicit_pool": None, "sized": 16, "disabled": None}),
    ("1.29.7", {"implicit_pool": 32, "sized": 16, "disabled": None}),
])
def test_upstream_keepalive_pool_switches_at_1_29_7(version, expected):
    config = config_of(UPSTREAM_PAIR, version=version)
    assert {name: config.upstream_keepalive(block) for name, block in config.upstreams().items()} == expected


@pytest.mark.parametrize(("version", "connection"), [("1.22.1", "close"), ("1.29.6", "close"), ("1.29.7", None)])
def test_proxy_headers_include_nginx_defaults_for_the_version(version, connection):
    config = config_of("events {}\nhttp { server { location / { proxy_pass http://a; } } }\n", version=version)
    headers = config.proxy_headers(location(config, "/"))
    assert headers["host"] == ("$proxy_host", None)
    assert headers.get("connection", (None, None))[0] == connection
    assert config.effective_args("proxy_http_version", location(config, "/")) == (
        ["1.1"] if version == "1.29.7" else ["1.0"])


def test_proxy_headers_overrides_are_case_insensitive_and_empty_means_not_sent():
    config = config_of("""
        location / {
            proxy_set_header HOST $host;
            proxy_set_header connection "";
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    """)
    headers = config.proxy_headers(location(config, "/"))
    assert headers["host"][0] == "$host" and headers["host"][1].line == 3
    assert headers["connection"][0] == "" and headers["connection"][1] is not None
    assert headers["x-forwarded-proto"][0] == "$scheme"


# ---------------------------------------------------------------------------------------------
# Rule helpers


def test_proxied_locations_cover_location_if_and_limit_except_with_their_upstream():
    config = config_of("""
        events {}
        http {
            upstream Backend { server 127.0.0.1:8000; }
            server {
                location /a { proxy_pass http://backend/api/; }
                location /b {
                    if ($arg_x) { proxy_pass http://10.0.0.1:9000; }
                    limit_except GET { proxy_pass https://BACKEND; }
                }
                location /c { proxy_pass http://unix:/run/app.sock:/; }
                location /d { set $target app; proxy_pass http://$target; }
            }
        }
        stream {
            upstream tcp { server 127.0.0.1:5432; }
            server { listen 5433; proxy_pass tcp; }
        }
    """)
    found = [(block.name, block.args, proxy.args[0], upstream.args[0] if upstream else None)
             for block, proxy, upstream in config.proxied_locations()]
    assert found == [
        ("location", ["/a"], "http://backend/api/", "Backend"),
        ("if", ["$arg_x"], "http://10.0.0.1:9000", None),
        ("limit_except", ["GET"], "https://BACKEND", "Backend"),
        ("location", ["/c"], "http://unix:/run/app.sock:/", None),
        ("location", ["/d"], "http://$target", None),
    ]
    assert list(config.upstreams()) == ["Backend"]  # the stream upstream is not an http one


@pytest.mark.parametrize(("args", "address", "port", "flags"), [
    (["80"], None, 80, set()),
    (["*:8080", "default_server"], None, 8080, {"default_server"}),
    (["127.0.0.1"], "127.0.0.1", 80, set()),
    (["[::]:443", "ssl", "http2"], "[::]", 443, {"ssl", "http2"}),
    (["[::1]"], "[::1]", 80, set()),
    (["443", "quic", "reuseport"], None, 443, {"quic"}),
    (["unix:/run/nginx.sock", "proxy_protocol"], "unix:/run/nginx.sock", None, {"proxy_protocol"}),
    (["localhost:8000"], "localhost", 8000, set()),
])
def test_parse_listen(args, address, port, flags):
    config = config_of(f"server {{ listen {' '.join(args)}; }}\n")
    listen = parse_listen(config.find_all("listen")[0])
    assert (listen.address, listen.port) == (address, port)
    assert {name for name in ("ssl", "http2", "quic", "default_server", "proxy_protocol")
            if getattr(listen, name)} == flags
    assert listen.is_unix == (address or "").startswith("unix:")
    assert config.listens(config.find_all("server")[0]) == [listen]


def test_directive_tree_helpers():
    config = config_of("""
        events {}
        http {
            server {
                location / {
                    if ($a) { return 404; }
                }
            }
        }
    """)
    ret = config.find_all("return")[0]
    assert [level.name for level in ret.ancestors()] == ["if", "location", "server", "http", "main"]
    assert ret.context == "if"
    assert ret.enclosing("server", "http").name == "server"
    assert ret.enclosing("upstream") is None
    assert [d.name for d in config.walk()] == ["events", "http", "server", "location", "if", "return"]
    assert [d.name for d in config.root.walk()][0] == "main"
    assert config.root.find("http")[0].is_block and not ret.is_block
    assert config.root.context == "main" and config.root.parent is None


# ---------------------------------------------------------------------------------------------
# More inheritance


def test_server_level_if_and_nested_location_chain_for_add_header():
    config = config_of("""
        events {}
        http {
            add_header X-Http 1;
            server {
                if ($http_x) { add_header X-If 1; }
                location /a/ {
                    location /a/b/ { }
                    location /a/c/ { add_header X-C 1; if ($arg_y) { return 404; } }
                }
            }
        }
    """)
    names = lambda at: [d.args[0] for d in config.effective("add_header", at)]  # noqa: E731
    server_if = config.find_all("if")[0]
    assert names(server_if) == ["X-If"]
    assert names(location(config, "/a/b/")) == ["X-Http"]
    assert names(config.find_all("if")[1]) == ["X-C"]
    assert names(config.find_all("server")[0]) == ["X-Http"]


def test_effective_args_takes_the_last_of_repeated_directives_at_the_innermost_level():
    config = config_of("http { proxy_read_timeout 1s; server { proxy_read_timeout 2s; proxy_read_timeout 3s; "
                       "location / { } } }\n")
    assert config.effective_args("proxy_read_timeout", location(config, "/")) == ["3s"]


ADD_HEADER_INHERIT = """
    events {}
    http {
        add_header X-Http 1;
        add_header_inherit merge;
        server {
            add_header X-Server 1;
            location /merged/ { add_header X-Loc 1; }
            location /off/ { add_header_inherit off; }
            location /on/ { add_header_inherit on; add_header X-On 1; }
            location /on-empty/ { add_header_inherit on; }
        }
        server { add_header_inherit off; location /none/ { } }
    }
"""


def test_add_header_inherit_merge_and_off_from_1_29_3():
    config = config_of(ADD_HEADER_INHERIT, version="1.29.3")
    names = lambda path: [d.args[0] for d in config.effective("add_header", location(config, path))]  # noqa: E731
    assert names("/merged/") == ["X-Loc", "X-Server", "X-Http"]
    assert names("/off/") == []
    assert names("/on/") == ["X-On"]
    assert names("/on-empty/") == ["X-Server", "X-Http"]  # "on" inherits when the level has none
    assert names("/none/") == []  # "off" itself inherits from the server
    assert config.effective_args("add_header_inherit", location(config, "/merged/")) == ["merge"]


def test_add_header_inherit_is_ignored_before_1_29_3():
    config = config_of(ADD_HEADER_INHERIT, version="1.29.2")
    assert [d.args[0] for d in config.effective("add_header", location(config, "/merged/"))] == ["X-Loc"]
    assert [d.args[0] for d in config.effective("add_header", location(config, "/off/"))] == ["X-Server"]
    assert config.default("add_header_inherit") is None


def test_add_trailer_inherit_is_the_same_rule_and_proxy_set_header_has_none():
    config = config_of("""
        http {
            add_trailer X-T 1;
            add_trailer_inherit merge;
            proxy_set_header X-P 1;
            server { location / { add_trailer X-U 1; proxy_set_header X-Q 1; } }
        }
    """, version="1.30.0")
    loc = location(config, "/")
    assert [d.args[0] for d in config.effective("add_trailer", loc)] == ["X-U", "X-T"]
    assert header_names(config, loc) == ["X-Q"]


# ---------------------------------------------------------------------------------------------
# More defaults


@pytest.mark.parametrize(("version", "expected"), [
    ("1.15.2", {"keepalive_timeout": None, "keepalive_requests": None, "keepalive_time": None, "keepalive": None}),
    ("1.15.3", {"keepalive_timeout": ["60s"], "keepalive_requests": ["100"], "keepalive_time": None,
                "keepalive": None}),
    ("1.19.10", {"keepalive_timeout": ["60s"], "keepalive_requests": ["1000"], "keepalive_time": ["1h"],
                 "keepalive": None}),
    ("1.29.7", {"keepalive_timeout": ["60s"], "keepalive_requests": ["1000"], "keepalive_time": ["1h"],
                "keepalive": ["32", "local"]}),
])
def test_upstream_module_defaults_per_version(version, expected):
    config = config_of("http { upstream app { server 127.0.0.1:1; } }\n", version=version)
    upstream = config.upstreams()["app"]
    assert {name: config.effective_args(name, upstream) for name in expected} == expected


@pytest.mark.parametrize(("keepalive", "version", "expected"), [
    ("keepalive 64;", "1.22.1", 64),
    ("keepalive 0;", "1.29.7", None),
    ("keepalive many;", "1.29.7", None),
    ("keepalive 16 local;", "1.29.7", 16),
    ("", "1.29.7", 32),
    ("", "1.22.1", None),
])
def test_upstream_keepalive_values(keepalive, version, expected):
    config = config_of(f"http {{ upstream app {{ server 127.0.0.1:1; {keepalive} }} }}\n", version=version)
    assert config.upstream_keepalive(config.upstreams()["app"]) == expected


def test_upstream_keepalive_of_a_block_that_is_not_an_upstream_is_none():
    config = config_of("http { server { location / { keepalive 8; } } }\n", version="1.29.7")
    assert config.upstream_keepalive(location(config, "/")) is None


def test_proxy_headers_connection_set_at_server_level_reaches_the_location():
    for version in ("1.22.1", "1.29.7"):
        config = config_of("""
            http { server {
                proxy_set_header Connection "";
                location / { proxy_pass http://app; }
                location /ws/ { proxy_set_header Upgrade $http_upgrade; proxy_pass http://app; }
            } }
        """, version=version)
        assert config.proxy_headers(location(config, "/"))["connection"][0] == ""
        # The location's own proxy_set_header drops the server's Connection "": back to the default.
        ws = config.proxy_headers(location(config, "/ws/"))
        assert ws.get("connection", ("absent", None))[0] == ("close" if version == "1.22.1" else "absent")


def test_upstreams_ignores_stream_upstreams_even_with_the_same_name():
    config = config_of("""
        http { upstream db { server 127.0.0.1:1; keepalive 4; } }
        stream { upstream db { server 127.0.0.1:5432; } upstream tcp_only { server 127.0.0.1:1; } }
    """)
    upstreams = config.upstreams()
    assert list(upstreams) == ["db"] and upstreams["db"].find("keepalive")


def installed_version() -> tuple[int, int, int]:
    require_binary("nginx")
    text = installed_nginx_version()
    if not text:
        pytest.skip("nginx -v gave no version")
    return parse_version(str(text))


# Where each default may be written (the first context nginx allows it in).
_DEFAULT_CONTEXT = {"worker_processes": "main", "worker_connections": "events", "multi_accept": "events"}


def test_every_default_is_accepted_by_the_installed_nginx(nginx_check):
    """A default written out must be a valid directive for the nginx it is the default of (catches
    a wrong unit, a missing argument, a value nginx does not take)."""
    version = installed_version()
    where: dict[str, list[str]] = {"main": [], "events": [], "http": [], "upstream": []}
    for name in DEFAULTS:
        args = versioned(DEFAULTS, name, version)
        if args is not None:
            where[_DEFAULT_CONTEXT.get(name, "http")].append(f"{name} {' '.join(args)};")
    for name in UPSTREAM_DEFAULTS:
        args = versioned(UPSTREAM_DEFAULTS, name, version)
        if args is not None:
            where["upstream"].append(f"{name} {' '.join(args)};")
    text = "\n".join(where["main"]) + "\nevents {\n" + "\n".join(where["events"]) + "\n}\nhttp {\n" + \
        "\n".join(where["http"]) + "\nupstream app {\nserver 127.0.0.1:9;\n" + "\n".join(where["upstream"]) + \
        "\n}\n}\n"
    ok, output = nginx_check(text)
    assert ok, output + text


class _RecordingBackend:
    """A one-shot HTTP server on 127.0.0.1 that keeps each request's head."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data.decode("latin-1"))
                conn.sendall(self.response())

    def response(self) -> bytes:
        """The answer to the request just recorded."""
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"



def test_proxy_headers_and_http_version_agree_with_what_the_installed_nginx_sends(tmp_path):
    """The model's view of the headers a location sends, checked against the request the real
    nginx makes: its defaults (Host $proxy_host, Connection close, HTTP/1.0 before 1.29.7) and
    the rule that one proxy_set_header at a level drops every outer one."""
    nginx = require_binary("nginx")
    version = installed_version()
    backend = _RecordingBackend()
    port = free_port()
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(textwrap.dedent(f"""
        pid {tmp_path}/nginx.pid;
        error_log {tmp_path}/error.log;
        events {{}}
        http {{
            access_log off;
            proxy_set_header X-Outer outer;
            upstream backend {{ server 127.0.0.1:{backend.port}; }}
            server {{
                listen 127.0.0.1:{port};
                location /inherits/ {{ proxy_pass http://backend; }}
                location /own/ {{ proxy_set_header X-Inner inner; proxy_pass http://backend; }}
                location /twice/ {{
                    proxy_set_header X-Twice first; proxy_set_header X-Twice "";
                    proxy_set_header X-Blank ""; proxy_pass http://backend;
                }}
            }}
        }}
    """))
    server = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        sent = {}
        for path in ("/inherits/", "/own/", "/twice/"):
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                        client.sendall(f"GET {path} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n".encode())
                        while client.recv(65536):
                            pass
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.05)
            head = backend.requests[-1].split("\r\n")
            headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in head[1:] if ":" in line}
            sent[path] = (head[0].rsplit(" ", 1)[1], headers)
    finally:
        server.terminate()
        server.wait(timeout=10)
        backend.sock.close()

    config = load_nginx(str(conf), nginx_version=".".join(map(str, version)))
    for path, (http_version, headers) in sent.items():
        loc = location(config, path)
        assert http_version == "HTTP/" + config.effective_args("proxy_http_version", loc)[0]
        model = {name: value for name, (value, _) in config.proxy_headers(loc).items() if value != ""}
        expected = {name: value.replace("$proxy_host", "backend") for name, value in model.items()}
        assert {name: headers.get(name) for name in expected} == expected, (path, headers)
    # The headers nginx sent that proxy_set_header names: exactly the model's, per location.
    assert "x-outer" in sent["/inherits/"][1] and "x-inner" not in sent["/inherits/"][1]
    assert "x-inner" in sent["/own/"][1] and "x-outer" not in sent["/own/"][1]
    # A later empty value does not unset an earlier one: nginx sends every non-empty entry.
    assert sent["/twice/"][1].get("x-twice") == "first" and "x-blank" not in sent["/twice/"][1]


@pytest.mark.parametrize("filler", [0, 40])
def test_access_rules_are_one_array_in_written_order_and_the_innermost_level_wins(filler):
    # ``filler`` makes the server big enough for find() to index its children: same answers.
    padding = "add_header X-Pad 1;\n" * filler
    config = config_of(f"""
        http {{
            server {{
                allow 10.0.0.0/8;
                {padding}
                deny 10.1.0.0/16;
                allow 192.168.0.0/16;
                deny all;
                location /open/ {{ return 200; }}
                location /own/ {{ allow 127.0.0.1; }}
            }}
        }}
    """)
    server = config.find_all("server")[0]
    open_location, own_location = server.find("location")
    expected = [("allow", "10.0.0.0/8"), ("deny", "10.1.0.0/16"), ("allow", "192.168.0.0/16"), ("deny", "all")]
    assert [(d.name, d.args[0]) for d in config.access_rules(open_location)] == expected
    assert [(d.name, d.args[0]) for d in server.find_any("deny", "allow")] == expected
    assert [(d.name, d.args[0]) for d in config.access_rules(own_location)] == [("allow", "127.0.0.1")]
    assert server.find_any("satisfy") == [] and open_location.find_any("allow") == []


# ---------------------------------------------------------------------------------------------
# proxy_pass URLs as nginx splits them


@pytest.mark.parametrize("url, address, uri", [
    ("http://unix:/run/gunicorn.sock", "unix:/run/gunicorn.sock", None),     # a socket path, no URI part
    ("http://unix:/run/gunicorn.sock:", "unix:/run/gunicorn.sock", ""),
    ("http://unix:/run/gunicorn.sock:/api/", "unix:/run/gunicorn.sock", "/api/"),
    ("http://127.0.0.1:8000", "127.0.0.1:8000", None),
    ("http://app/v1/", "app", "/v1/"),
    ("https://[::1]:8443/", "[::1]:8443", "/"),
])
def test_split_proxy_url(url, address, uri):
    from confgen.nginx.model import split_proxy_url
    parts = split_proxy_url(url)
    assert (parts.address, parts.uri) == (address, uri)
