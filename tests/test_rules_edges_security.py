"""Edges of the security rules about paths, request data, regexes, access and DNS (CG603
autoindex-enabled, CG614 invalid-capture-reference, CG632 valid-referers-none, CG634 regex-redos,
CG641 allow-without-deny, CG643 status-page-exposed, CG645 map-without-default, CG651
resolver-external): the documented examples at their exact place, the near misses on both sides
of each rule's boundary (inherited values, included files, contexts where the directive is fine),
and what the messages say nginx does, on the real nginx."""

from __future__ import annotations

import pytest

from lint_helpers import only
from test_rules_edges_engine import check_documented_examples, fetch, lint_file, linted, nginx_serving, place


@pytest.mark.parametrize("name, expected", [
    ("autoindex-enabled", [("autoindex on", 1, ["autoindex on lists every file", "anyone"])]),
    ("invalid-capture-reference", [("return 301 /profile/$2", 1, ["$2 is used", "'^/user/(\\\\d+)$'", "location at",
                                                                 "nginx.conf:2", "1 capture group", "always empty"])]),
    ("valid-referers-none", [("valid_referers none", 1, ["valid_referers none accepts", "missing or stripped"])]),
    ("regex-redos", [("location ~ ^/(\\w+\\s?)*$", 1, ["'^/(\\\\w+\\\\s?)*$'", "backtrack exponentially",
                                                       "variable-length part repeated"])]),
    ("allow-without-deny", [("allow 10.0.0.0/8", 1, ["this location allows some addresses but denies none",
                                                     "every address is allowed", "deny all;"])]),
    ("status-page-exposed", [("stub_status", 1, ["stub_status answers any client", "allow/deny all"])]),
    ("map-without-default", [("map $http_x_role $is_admin", 1, ["map $is_admin has no default", 'become ""',
                                                                "`default` entry"])]),
    ("resolver-external", [("resolver 8.8.8.8 1.1.1.1", 1, ["resolver 8.8.8.8 1.1.1.1 is a public DNS server",
                                                            "plain UDP", "spoofed"])]),
])
def test_documented_bad_example_fires_at_its_directive_and_good_example_is_silent(tmp_path, name, expected):
    check_documented_examples(tmp_path, name, expected)


def findings(tmp_path, nginx: str, rule: str, **options):
    return only(linted(tmp_path, nginx, **options), rule)


# ---------------------------------------------------------------------------------------------
# CG603 autoindex-enabled


@pytest.mark.parametrize("nginx, places", [
    # On at the server level and switched off in a location: the server's line is what lists.
    ("server {\n    autoindex on;\n    location /files/ { autoindex off; }\n}\n", [(2, 5)]),
    # The column is the directive's, not the location path's that contains the same word.
    ("server {\n    location /autoindex/ { autoindex on; }\n}\n", [(2, 28)]),
    ("server {\n    location /files/ {\n        autoindex On;\n    }\n}\n", [(3, 9)]),   # nginx reads On as on
    ("server {\n    location /files/ { autoindex off; }\n    location / { index index.html; }\n}\n", []),
])
def test_autoindex_enabled_only_where_on_is_written(tmp_path, nginx, places):
    found = findings(tmp_path, nginx, "autoindex-enabled")
    assert [(f.line, f.col) for f in found] == places
    assert all(f.code == "CG603" and f.severity == "warning" for f in found)


def test_autoindex_enabled_in_an_included_file_is_reported_in_that_file(tmp_path):
    result = linted(tmp_path, "server {\n    location /files/ { include listing.conf; }\n}\n",
                    files={"listing.conf": "# directory listings\nautoindex on;\n"})
    [finding] = only(result, "autoindex-enabled")
    assert (finding.file, finding.line, finding.col) == (str(tmp_path / "listing.conf"), 2, 1)


def test_autoindex_on_lists_every_file_to_any_client_as_autoindex_enabled_says(tmp_path):
    body = ("    server {\n        listen 127.0.0.1:{port};\n        root {root}/site;\n"
            "        location /files/ { autoindex on; }\n        location /closed/ { autoindex off; }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, prefix, conf):
        for folder in ("files", "closed"):
            (prefix / "site" / folder).mkdir(parents=True)
            (prefix / "site" / folder / "db-backup.sql.gz").write_text("secret")
        listed = fetch(port, "/files/")
        closed = fetch(port, "/closed/")
        found = only(lint_file(conf), "autoindex-enabled")
    assert listed[0] == 200 and b"db-backup.sql.gz" in listed[2]
    assert closed[0] == 403
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "autoindex on")]


# ---------------------------------------------------------------------------------------------
# CG614 invalid-capture-reference


@pytest.mark.parametrize("nginx, reported", [
    # The innermost regex is the one in scope: a nested location's two groups make $2 real.
    ("server {\n    location ~ ^/a/(\\d+)$ {\n        location ~ ^/a/(\\d+)/(x)$ {\n"
     "            return 301 /b/$2;\n        }\n    }\n}\n", None),
    # A capture copied with set is the capture it was: fine.
    ("server {\n    location ~ ^/a/(\\d+)$ {\n        set $id $1;\n        return 301 /b/$id;\n    }\n}\n", None),
    # A server-level rewrite with two groups, and with one.
    ("server {\n    rewrite ^/a/(.*)/(.*)$ /b/$1/$2 last;\n}\n", None),
    ("server {\n    rewrite ^/a/(.*)$ /b/$1/$2 last;\n}\n", (2, 5)),
    # proxy_pass loses its path the same way.
    ("server {\n    location ~ ^/a/(\\d+)$ {\n        proxy_pass http://127.0.0.1:8000/b/$2;\n    }\n}\n", (3, 9)),
    # "$19.99" is $1 followed by text: within the one group.
    ('server {\n    location ~ ^/u/(\\d+)$ {\n        return 200 "cost: $19.99";\n    }\n}\n', None),
    # A log format's $1 is no capture of a request regex.
    ("http {\n    log_format odd '$1 $remote_addr';\n}\n", None),
])
def test_invalid_capture_reference_uses_the_regex_in_scope(tmp_path, nginx, reported):
    found = findings(tmp_path, nginx, "invalid-capture-reference")
    assert [(f.line, f.col) for f in found] == ([] if reported is None else [reported]), found


def test_invalid_capture_reference_after_an_if_regex_without_groups(tmp_path):
    # An if whose regex matched resets the captures to its own: with no group in it, the
    # location's $1 is gone (checked on nginx in the next test).
    nginx = "server {\n    location ~ ^/u/(\\d+)$ {\n        if ($arg_x ~ ^y$) { return 302 /p/$1; }\n    }\n}\n"
    [finding] = findings(tmp_path, nginx, "invalid-capture-reference")
    assert (finding.line, finding.col) == (3, 29)
    assert "'^y$'" in finding.message and "if at" in finding.message and "0 capture groups" in finding.message


def test_a_missing_capture_is_always_empty_on_nginx_as_invalid_capture_reference_says(tmp_path):
    body = ("    server {\n        listen 127.0.0.1:{port};\n"
            "        location ~ ^/user/(\\d+)$ { return 301 /profile/$2; }\n"
            "        location ~ ^/good/(\\d+)$ { return 301 /profile/$1; }\n"
            "        location ~ ^/u/(\\d+)$ {\n            if ($arg_x ~ ^y$) { return 302 /p/$1; }\n"
            "            return 204;\n        }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        bad = fetch(port, "/user/42")[1]["location"]
        good = fetch(port, "/good/42")[1]["location"]
        after_if = fetch(port, "/u/42?x=y")[1]["location"]
        found = only(lint_file(conf), "invalid-capture-reference")
    assert bad.endswith("/profile/") and good.endswith("/profile/42")
    assert after_if.endswith("/p/")
    text = conf.read_text()
    assert [(f.line, f.col) for f in found] == [place(text, "return 301 /profile/$2"), place(text, "return 302 /p/$1")]


# ---------------------------------------------------------------------------------------------
# CG632 valid-referers-none


@pytest.mark.parametrize("args, weak", [
    ("none server_names", "none"),
    ("blocked *.example.com", "blocked"),
    ("NONE Blocked server_names", "NONE and Blocked"),        # nginx compares them case-insensitively
])
def test_valid_referers_none_names_each_weak_keyword(tmp_path, args, weak):
    nginx = (f"server {{\n    location /img/ {{\n        valid_referers {args};\n"
             f"        if ($invalid_referer) {{ return 403; }}\n    }}\n}}\n")
    [finding] = findings(tmp_path, nginx, "valid-referers-none")
    assert (finding.line, finding.col) == (3, 9)
    assert finding.message.startswith(f"valid_referers {weak} accepts requests")


@pytest.mark.parametrize("args", [
    "server_names",
    "server_names none.example.com",                # a host name that starts with "none"
    "server_names ~\\.none\\.example\\.com",        # a regex mentioning it
    "*.example.com blocked.example.com",
])
def test_valid_referers_without_none_or_blocked_as_keywords_is_silent(tmp_path, args):
    assert findings(tmp_path, f"server {{\n    valid_referers {args};\n}}\n", "valid-referers-none") == []


def test_valid_referers_none_lets_a_request_without_referer_through_on_nginx(tmp_path):
    body = ("    server {\n        listen 127.0.0.1:{port};\n        server_name site.test;\n"
            "        location /weak/ {\n            valid_referers none server_names;\n"
            "            if ($invalid_referer) { return 403; }\n            return 200 ok;\n        }\n"
            "        location /strict/ {\n            valid_referers server_names;\n"
            "            if ($invalid_referer) { return 403; }\n            return 200 ok;\n        }\n    }\n")
    evil = {"Referer": "https://attacker.example/page"}
    with nginx_serving(tmp_path, body) as (port, _, conf):
        statuses = {path: (fetch(port, path)[0], fetch(port, path, evil)[0]) for path in ("/weak/", "/strict/")}
        found = only(lint_file(conf), "valid-referers-none")
    # An attacker page that sends no Referer (Referrer-Policy: no-referrer) passes the weak check.
    assert statuses == {"/weak/": (200, 403), "/strict/": (403, 403)}
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "valid_referers none")]


# ---------------------------------------------------------------------------------------------
# CG634 regex-redos


@pytest.mark.parametrize("nginx, needle", [
    ("server {\n    location / {\n        if ($uri ~ ^/(\\w+\\s?)*$) { return 404; }\n    }\n}\n", "if ($uri"),
    ("server {\n    rewrite ^/(\\w+\\s?)*$ /x last;\n}\n", "rewrite"),
    ("server {\n    server_name ~^(\\w+\\s?)*\\.example\\.com$;\n}\n", "server_name"),
    ("map $uri $m {\n    default 0;\n    ~^/(\\w+\\s?)*$ 1;\n}\n", "~^/("),
    ("server {\n    location ~* ^/(a+)+$ { return 404; }\n}\n", "location"),
    # A bound above 100 repetitions counts as unbounded: (a+){1,200} splits as many ways.
    # (Quoted: nginx reads an unquoted "{" as the start of a block.)
    ('server {\n    location ~ "^/(a+){1,200}$" { return 404; }\n}\n', "location"),
])
def test_regex_redos_in_every_place_nginx_matches_a_regex_per_request(tmp_path, nginx, needle):
    [finding] = findings(tmp_path, nginx, "regex-redos")
    assert (finding.line, finding.col) == place(nginx, needle)
    assert "can backtrack exponentially" in finding.message


@pytest.mark.parametrize("regex", [
    "^/(/[a-z]+)*$",             # each repetition starts with "/", which the body cannot match
    '"^/(a+){1,5}$"',            # a bounded outer count (quoted for nginx's braces)
    "^/(foo|bar)+$",             # alternatives that never match the same character
    "^/[\\w\\s]*$",              # one quantifier, no nesting
    "^/api/v[0-9]+/.*$",
])
def test_regex_redos_is_silent_for_repetition_that_cannot_be_split_many_ways(tmp_path, regex):
    assert findings(tmp_path, f"server {{\n    location ~ {regex} {{ return 404; }}\n}}\n", "regex-redos") == []


def test_regex_redos_reports_each_regex_once_where_it_is_written(tmp_path):
    result = linted(tmp_path, "server {\n    include routes.conf;\n    location ~ ^/(a+)+$ { return 404; }\n}\n",
                    files={"routes.conf": "location ~ ^/b/(\\d+\\s?)*$ { return 404; }\n"})
    found = only(result, "regex-redos")
    assert sorted((f.file, f.line, f.col) for f in found) == sorted(
        [(str(tmp_path / "routes.conf"), 1, 1), (str(tmp_path / "nginx.conf"), 3, 5)])


# ---------------------------------------------------------------------------------------------
# CG641 allow-without-deny


@pytest.mark.parametrize("nginx", [
    # The location has no allow/deny of its own: it inherits the server's list, which denies.
    "server {\n    allow 10.0.0.0/8;\n    deny all;\n    location /admin/ { proxy_pass http://127.0.0.1:8000; }\n}\n",
    # allow all only: nothing restricted, nothing claimed.
    "server {\n    location /open/ { allow all; }\n}\n",
    # limit_except holds its own list.
    "server {\n    location /admin/ {\n        limit_except GET {\n            allow 10.0.0.0/8;\n            deny all;\n"
    "        }\n    }\n}\n",
])
def test_allow_without_deny_is_silent_where_a_deny_applies(tmp_path, nginx):
    assert findings(tmp_path, nginx, "allow-without-deny") == []


def test_allow_without_deny_reads_the_lists_included_files_build(tmp_path):
    both = linted(tmp_path / "a", "server {\n    location /admin/ {\n        include acl.conf;\n        deny all;\n"
                                  "    }\n}\n", files={"acl.conf": "allow 10.0.0.0/8;\n"})
    assert only(both, "allow-without-deny") == []
    only_allow = linted(tmp_path / "b", "server {\n    location /admin/ {\n        include acl.conf;\n    }\n}\n",
                        files={"acl.conf": "# the office\nallow 10.0.0.0/8;\n"})
    [finding] = only(only_allow, "allow-without-deny")
    assert (finding.file, finding.line, finding.col) == (str(tmp_path / "b" / "acl.conf"), 2, 1)


def test_allow_without_deny_in_limit_except_is_its_own_level(tmp_path):
    nginx = ("server {\n    location /admin/ {\n        deny all;\n        limit_except GET {\n"
             "            allow 10.0.0.0/8;\n        }\n    }\n}\n")
    [finding] = findings(tmp_path, nginx, "allow-without-deny")
    assert (finding.line, finding.col) == (5, 13) and finding.message.startswith("this limit_except allows")


def test_allow_without_deny_lets_every_address_in_on_nginx(tmp_path):
    # 192.0.2.1 (TEST-NET-1) is not the test's client: only the deny decides whether 127.0.0.1 gets in.
    # (A content handler, not return: return answers before the access phase, return-bypasses-allow-deny.)
    body = ("    server {\n        listen 127.0.0.1:{port};\n"
            "        location /allow-only/ {\n            allow 192.0.2.1;\n            empty_gif;\n        }\n"
            "        location /with-deny/ {\n            allow 192.0.2.1;\n            deny all;\n"
            "            empty_gif;\n        }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        allow_only, with_deny = fetch(port, "/allow-only/")[0], fetch(port, "/with-deny/")[0]
        found = only(lint_file(conf), "allow-without-deny")
    assert (allow_only, with_deny) == (200, 403)
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "allow 192.0.2.1")]


# ---------------------------------------------------------------------------------------------
# CG643 status-page-exposed


@pytest.mark.parametrize("server_body", [
    "    location /s { stub_status; internal; }\n",
    "    location /s { stub_status; auth_request /auth; }\n",
    '    auth_basic "ops";\n    auth_basic_user_file /etc/nginx/htpasswd;\n    location /s { stub_status; }\n',
    "    location /s { stub_status; allow 10.0.0.0/8; deny all; }\n",
])
@pytest.mark.parametrize("listen", ["80", "unix:/run/nginx-status.sock", "127.0.0.1:8080", "[::1]:8080", "10.0.0.5:80"])
def test_status_page_exposed_is_silent_where_the_page_is_restricted(tmp_path, server_body, listen):
    # Each restriction alone is enough on a public listener, and a private listener alone too.
    nginx = f"server {{\n    listen {listen};\n{server_body}}}\n"
    assert findings(tmp_path, nginx, "status-page-exposed") == []
    if listen != "80":
        bare = f"server {{\n    listen {listen};\n    location /s {{ stub_status; }}\n}}\n"
        assert findings(tmp_path, bare, "status-page-exposed") == []


@pytest.mark.parametrize("server_body", [
    # auth_basic off in the location switches the server's off.
    '    auth_basic "ops";\n    auth_basic_user_file /etc/nginx/htpasswd;\n'
    "    location /s {\n        auth_basic off;\n        stub_status;\n    }\n",
    # A second, public listener: reachable from outside whatever the loopback one is.
    "    listen 127.0.0.1:8080;\n    location /s { stub_status; }\n",
    # An allow list in another location protects nothing here.
    "    location /admin/ { allow 10.0.0.0/8; deny all; }\n    location /s { stub_status; }\n",
])
def test_status_page_exposed_where_a_restriction_is_undone_or_elsewhere(tmp_path, server_body):
    nginx = f"server {{\n    listen 80;\n{server_body}}}\n"
    [finding] = findings(tmp_path, nginx, "status-page-exposed")
    assert (finding.line, finding.col) == place(nginx, "stub_status")
    assert finding.message.startswith("stub_status answers any client here")


def test_stub_status_answers_any_client_unless_denied_on_nginx(tmp_path):
    body = ("    server {\n        listen 127.0.0.1:{port};\n        location /open_status { stub_status; }\n"
            "        location /closed_status {\n            stub_status;\n            allow 192.0.2.1;\n"
            "            deny all;\n        }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        opened, closed = fetch(port, "/open_status"), fetch(port, "/closed_status")
        # Loopback-only, so the lint stays silent here; the same server on every address does not.
        quiet = only(lint_file(conf), "status-page-exposed")
        public = conf.parent / "public.conf"
        public.write_text(conf.read_text().replace(f"listen 127.0.0.1:{port};", f"listen {port};"))
        found = only(lint_file(public), "status-page-exposed")
    assert opened[0] == 200 and b"Active connections:" in opened[2] and closed[0] == 403
    assert quiet == []
    assert [(f.line, f.col) for f in found] == [place(public.read_text(), "stub_status; }")]


# ---------------------------------------------------------------------------------------------
# CG645 map-without-default


@pytest.mark.parametrize("use", [
    "location / { proxy_pass http://$gate; }",
    "location / { return 302 https://$gate/; }",
    "location / { root /srv/$gate; }",
    "if ($gate) { return 403; }",
])
def test_map_without_default_when_its_value_gates_the_request(tmp_path, use):
    nginx = f"http {{\n    map $http_x_key $gate {{\n        a 1;\n    }}\n    server {{\n        {use}\n    }}\n}}\n"
    [finding] = findings(tmp_path, nginx, "map-without-default")
    assert (finding.code, finding.severity, finding.line, finding.col) == ("CG645", "info", 2, 5)
    assert finding.message.startswith("map $gate has no default")


def test_map_without_default_for_a_rate_limit_key_and_a_geo(tmp_path):
    nginx = ("http {\n    map $http_x_key $limit_key {\n        secret \"\";\n    }\n"
             "    limit_req_zone $limit_key zone=per_key:1m rate=1r/s;\n"
             "    geo $trusted {\n        10.0.0.0/8 1;\n    }\n    server {\n        if ($trusted) { return 403; }\n"
             "    }\n}\n")
    found = findings(tmp_path, nginx, "map-without-default")
    assert [(f.line, f.message.split(" has")[0]) for f in found] == [(2, "map $limit_key"), (6, "geo $trusted")]


@pytest.mark.parametrize("table, files", [
    # Read only by add_header: an empty value leaves the header out, on purpose.
    ("map $http_x_key $gate {\n        a 1;\n    }\n    add_header X-Gate $gate;\n", {}),
    # The default comes from a table file in the tree.
    ("map $http_x_key $gate {\n        include gate.map;\n    }\n    server { if ($gate) { return 403; } }\n",
     {"gate.map": "default 0;\na 1;\n"}),
    ("geo $gate {\n        default 0;\n        10.0.0.0/8 1;\n    }\n    server { if ($gate) { return 403; } }\n", {}),
])
def test_map_without_default_is_silent_where_an_empty_value_is_harmless_or_a_default_is_read(tmp_path, table, files):
    nginx = f"http {{\n    {table}}}\n"
    assert findings(tmp_path, nginx, "map-without-default", files=files) == []


def test_an_unmatched_value_becomes_empty_on_nginx_as_map_without_default_says(tmp_path):
    body = ("    map $http_x_role $is_admin {\n        admin 1;\n    }\n"
            "    map $http_x_role $is_admin_or_zero {\n        default 0;\n        admin 1;\n    }\n"
            "    server {\n        listen 127.0.0.1:{port};\n"
            "        location / {\n            if ($is_admin = \"\") { return 403; }\n"
            "            return 200 \"[$is_admin_or_zero]\";\n        }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        unknown = fetch(port, "/", {"X-Role": "guest"})
        admin = fetch(port, "/", {"X-Role": "admin"})
        found = only(lint_file(conf), "map-without-default")
    # The guest's value matched no entry: "" for the map without default, which this if refuses.
    assert unknown[0] == 403 and (admin[0], admin[2]) == (200, b"[1]")
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "map $http_x_role $is_admin {")]


# ---------------------------------------------------------------------------------------------
# CG651 resolver-external


@pytest.mark.parametrize("args, public", [
    ("8.8.8.8:53", "8.8.8.8:53"),
    ("[2001:4860:4860::8888]", "[2001:4860:4860::8888]"),
    ("2001:4860:4860::8888 valid=30s", "2001:4860:4860::8888"),
    ("172.31.0.2 8.8.4.4 ipv6=off", "8.8.4.4"),          # only the public one is named
])
def test_resolver_external_names_only_the_public_servers(tmp_path, args, public):
    [finding] = findings(tmp_path, f"server {{\n    resolver {args};\n}}\n", "resolver-external")
    assert (finding.line, finding.col) == (2, 5)
    assert finding.message.startswith(f"resolver {public} is a public DNS server")


@pytest.mark.parametrize("args", [
    "127.0.0.53", "127.0.0.11 valid=10s",           # systemd-resolved, Docker's embedded DNS
    "10.0.0.2", "172.16.0.10", "192.168.1.1",       # a VPC or LAN resolver
    "169.254.169.253",                              # the AWS VPC resolver's link-local address
    "100.100.100.100",                              # CGNAT range (Tailscale's MagicDNS): not global
    "fd00::53", "[::1]:5353",
    "kube-dns.kube-system.svc.cluster.local",       # a name, resolved at start from /etc/hosts or DNS
])
def test_resolver_external_is_silent_for_local_and_private_resolvers(tmp_path, args):
    assert findings(tmp_path, f"server {{\n    resolver {args};\n}}\n", "resolver-external") == []


def test_resolver_external_is_reported_where_written_not_where_inherited(tmp_path):
    nginx = ("http {\n    resolver 1.1.1.1;\n    server { listen 80; location / { proxy_pass http://$host; } }\n"
             "    server { listen 81; resolver 10.0.0.2; }\n}\n")
    found = findings(tmp_path, nginx, "resolver-external")
    assert [(f.line, f.col) for f in found] == [(2, 5)]
