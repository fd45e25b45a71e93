"""The nginx model: the directive tree, nginx's inheritance, per-version defaults, and the
helpers rules use (proxied locations, upstream pools, proxy headers, listen)."""

from __future__ import annotations

import textwrap

import pytest

from confgen.nginx_model import DEFAULTS, UPSTREAM_DEFAULTS, parse_listen
from confgen.nginx_parse import load_nginx


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
