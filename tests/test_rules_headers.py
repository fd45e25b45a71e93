"""Header inheritance (proxy_set_header, add_header) and X-Forwarded-Proto spoofing."""

from __future__ import annotations

import pytest

from lint_helpers import full, line_of, lint_config, only


def test_location_headers_drop_the_servers_and_the_lost_ones_are_named(tmp_path):
    result = lint_config(tmp_path, """
        server {
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            location / {
                proxy_set_header Host $host;
                proxy_set_header X-Request-Id $request_id;
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """, select=["proxy-header-inheritance"])
    (finding,) = result.findings
    assert finding.line == line_of(tmp_path / "nginx.conf", "proxy_set_header Host $host;") + 3
    assert "X-Forwarded-For" in finding.message and "Host," not in finding.message
    assert "server at" in finding.message


def test_if_block_inside_a_location_inherits_none_either(tmp_path):
    result = lint_config(tmp_path, """
        location / {
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            if ($http_upgrade) {
                proxy_set_header Upgrade $http_upgrade;
                proxy_pass http://127.0.0.1:8000;
            }
            proxy_pass http://127.0.0.1:8000;
        }
    """, select=["proxy-header-inheritance"])
    (finding,) = result.findings
    assert "X-Forwarded-For" in finding.message and "this if" in finding.message


def test_headers_from_an_include_at_the_outer_level_count(tmp_path):
    result = lint_config(tmp_path, full("""
        include proxy_headers.conf;
        server {
            location / {
                proxy_set_header X-Request-Id $request_id;
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """), files={"proxy_headers.conf": "proxy_set_header X-Real-IP $remote_addr;\n"},
        select=["proxy-header-inheritance"])
    (finding,) = result.findings
    assert "X-Real-IP" in finding.message and finding.file.endswith("nginx.conf")


def test_repeating_the_headers_through_the_same_include_is_clean(tmp_path):
    result = lint_config(tmp_path, """
        server {
            include proxy_headers.conf;
            location / {
                include proxy_headers.conf;
                proxy_set_header X-Request-Id $request_id;
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """, files={"proxy_headers.conf": "proxy_set_header X-Real-IP $remote_addr;\n"},
        select=["proxy-header-inheritance"])
    assert result.findings == []


def test_levels_that_do_not_proxy_are_not_reported(tmp_path):
    result = lint_config(tmp_path, """
        server {
            proxy_set_header X-Real-IP $remote_addr;
            location /static/ { proxy_set_header X-Unused 1; root /srv; }
        }
    """, select=["proxy-header-inheritance"])
    assert result.findings == []


def test_add_header_inheritance(tmp_path):
    result = lint_config(tmp_path, """
        server {
            add_header X-Served-By edge-1;
            add_header Strict-Transport-Security "max-age=63072000" always;
            location / { add_header Cache-Control no-store; }
            location /same/ { add_header X-Served-By edge-1; add_header Strict-Transport-Security "max-age=63072000" always; }
            location /hsts/ { add_header Strict-Transport-Security "max-age=63072000" always; add_header X-A b; }
        }
    """, select=["add-header-inheritance", "add-header-redefinition"])
    # One finding per level: the level that drops a security header is add-header-redefinition's
    # (naming the ordinary headers too); the one that drops only ordinary ones is this rule's.
    assert [(f.rule, f.line) for f in result.findings] == [
        ("add-header-redefinition", line_of(tmp_path / "nginx.conf", "Cache-Control")),
        ("add-header-inheritance", line_of(tmp_path / "nginx.conf", "location /hsts/"))]
    redefinition, inheritance = result.findings
    assert "Strict-Transport-Security from outside is not sent" in redefinition.message
    assert "(nor X-Served-By)" in redefinition.message
    assert "X-Served-By is dropped" in inheritance.message and "Strict-Transport-Security" not in inheritance.message


def test_add_header_inherit_merge_keeps_outer_headers(tmp_path):
    config = """
        server {
            add_header X-Served-By edge-1;
            location / { add_header_inherit merge; add_header Cache-Control no-store; }
        }
    """
    assert not lint_config(tmp_path, config, select=["add-header-inheritance"], nginx_version="1.29.3").findings
    assert lint_config(tmp_path, config, select=["add-header-inheritance"], nginx_version="1.29.2").findings


SPOOFABLE = "proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;"


@pytest.mark.parametrize("server_extra", ["listen 80;", "listen 0.0.0.0:80;", "listen [::]:80;", "",
                                          "listen 80; set_real_ip_from 10.0.0.0/8; real_ip_header X-Forwarded-For;"])
def test_client_proto_passed_while_anyone_can_connect(tmp_path, server_extra):
    result = lint_config(tmp_path, f"""
        server {{
            {server_extra}
            location / {{ {SPOOFABLE} proxy_pass http://127.0.0.1:8000; }}
        }}
    """, select=["forwarded-proto-spoofable"])
    (finding,) = result.findings
    assert finding.line == line_of(tmp_path / "nginx.conf", "X-Forwarded-Proto")
    assert ("vets no header" in finding.message) is ("set_real_ip_from" in server_extra)


@pytest.mark.parametrize("server_extra", [
    "listen 127.0.0.1:8080;",
    "listen 10.0.0.5:80;",
    "listen unix:/run/nginx.sock;",
    "listen 80; allow 10.0.0.0/8; deny all;",
])
def test_client_proto_is_fine_when_only_trusted_peers_can_connect(tmp_path, server_extra):
    result = lint_config(tmp_path, f"""
        server {{
            {server_extra}
            location / {{ {SPOOFABLE} proxy_pass http://127.0.0.1:8000; }}
        }}
    """, select=["forwarded-proto-spoofable"])
    assert result.findings == []


def test_inner_allow_list_replaces_the_outer_deny(tmp_path):
    # nginx inherits allow/deny as one list: the location's own `allow` drops the server's `deny all`
    result = lint_config(tmp_path, f"""
        server {{
            listen 80;
            allow 10.0.0.0/8;
            deny all;
            location / {{ allow 192.168.0.0/16; {SPOOFABLE} proxy_pass http://127.0.0.1:8000; }}
        }}
    """, select=["forwarded-proto-spoofable"])
    assert len(result.findings) == 1


def test_client_proto_through_an_ungated_map_and_inherited_from_http(tmp_path):
    # The map written for a TLS proxy in front (nginx's scheme unless it says https) is a note
    # saying where it is spoofable; the header copied straight from the client is a finding.
    config = full("""
        map $http_x_forwarded_proto $proto { default $scheme; https https; }
        proxy_set_header X-Forwarded-Proto $proto;
        server { listen 80; location / { proxy_pass http://127.0.0.1:8000; } }
    """)
    result = lint_config(tmp_path, config, select=["forwarded-proto-spoofable"])
    assert result.findings == [] and any("map $proto takes X-Forwarded-Proto" in n for n in result.notes)
    direct = lint_config(tmp_path, config.replace("X-Forwarded-Proto $proto;", "X-Forwarded-Proto $http_x_forwarded_proto;"),
                         select=["forwarded-proto-spoofable"])
    (finding,) = direct.findings
    assert finding.line == line_of(tmp_path / "nginx.conf", "proxy_set_header X-Forwarded-Proto")


def test_gated_map_and_scheme_are_fine(tmp_path):
    result = lint_config(tmp_path, full("""
        geo $realip_remote_addr $from_trusted_proxy { default 0; 10.0.0.0/8 1; }
        map "$from_trusted_proxy:$http_x_forwarded_proto" $forwarded_proto { default $scheme; "1:https" https; }
        server {
            listen 80;
            location / { proxy_set_header X-Forwarded-Proto $forwarded_proto; proxy_pass http://127.0.0.1:8000; }
            location /b/ { proxy_set_header X-Forwarded-Proto $scheme; proxy_pass http://127.0.0.1:8000; }
        }
    """), select=["forwarded-proto-spoofable"])
    assert result.findings == []


def test_one_map_copying_forwarded_proto_used_in_many_locations_is_one_finding(tmp_path):
    config = """
        map $http_x_forwarded_proto $proxy_x_forwarded_proto { default $http_x_forwarded_proto; https https; }
        server {
            listen 80;
            location / { proxy_set_header X-Forwarded-Proto $proxy_x_forwarded_proto; proxy_pass http://127.0.0.1:8000; }
            location /a/ { proxy_set_header X-Forwarded-Proto $proxy_x_forwarded_proto; proxy_pass http://127.0.0.1:8000; }
            location /b/ { proxy_set_header X-Forwarded-Proto $proxy_x_forwarded_proto; proxy_pass http://127.0.0.1:8000; }
        }
    """
    (finding,) = only(lint_config(tmp_path, config), "forwarded-proto-spoofable")
    assert "(and 2 more places using it)" in finding.message
    assert finding.line == line_of(tmp_path / "nginx.conf", "location / {")
    # Written without the map, the server's copies are one cause too: one change fixes them all.
    direct = config.replace("$proxy_x_forwarded_proto;", "$http_x_forwarded_proto;")
    (finding,) = only(lint_config(tmp_path, direct), "forwarded-proto-spoofable")
    assert "(and 2 more places using it)" in finding.message


@pytest.mark.parametrize("own", [
    # X-Accel to a remote URL the app names: the fetch must carry the remote's own Host.
    "set $remote_url $upstream_http_x_remote_url; resolver 127.0.0.53; proxy_set_header Accept \"*/*\"; "
    "proxy_pass $remote_url;",
    "proxy_set_header Authorization \"\"; proxy_set_header Cookie \"\"; proxy_pass http://127.0.0.1:9000;",
    "proxy_set_header Cookie ''; proxy_pass https://media.example.org;",
])
def test_a_route_with_its_own_destination_keeps_its_own_headers(tmp_path, own):
    """Not reported: the enclosing Host $http_host and X-Forwarded-For were written for the app;
    repeating them where nginx fetches from another server (the app named the URL in a response
    header, or the client's credentials are cleared for it) would hand that server the client's
    host and address. The same server's other proxying location is still reported."""
    result = lint_config(tmp_path, full(f"""
        server {{
            listen 80;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            location / {{ proxy_pass http://127.0.0.1:8000; }}
            location /__accel__/ {{ internal; {own} }}
            location /ws/ {{ proxy_set_header Upgrade $http_upgrade; proxy_pass http://127.0.0.1:8000; }}
        }}
    """))
    found = only(result, "proxy-header-inheritance")
    assert [f.line for f in found] == [line_of(tmp_path / "nginx.conf", "location /ws/")]
