"""Edges of the security rules about paths, request data, regexes, access and DNS (CG603
autoindex-enabled, CG614 invalid-capture-reference, CG632 valid-referers-none, CG634 regex-redos,
CG641 allow-without-deny, CG643 status-page-exposed, CG645 map-without-default, CG647
auth-basic-without-user-file, CG651 resolver-external): the documented examples at their exact
place, the near misses on both sides of each rule's boundary (inherited values, included files,
contexts where the directive is fine), and what the messages say nginx does, on the real nginx."""

from __future__ import annotations

import base64
import http.client

import pytest

from confgen.lint.engine import get_rule
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
    ("auth-basic-without-user-file", [("auth_basic", 1, ['auth_basic "Restricted"', "no auth_basic_user_file in force",
                                                          "answers every client without credentials"])]),
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


HTPASSWD = "auth_basic_user_file /etc/nginx/htpasswd;"


@pytest.mark.parametrize("server_body, files", [
    # A login (a realm and its user file), at the location or inherited from the server.
    (f'    location /files/ {{ autoindex on; auth_basic "staff"; {HTPASSWD} }}\n', {}),
    (f'    auth_basic "staff";\n    {HTPASSWD}\n    location /files/ {{ autoindex on; }}\n', {}),
    # An allow list that ends in deny all; a subrequest that must say yes.
    ("    location /files/ { autoindex on; allow 10.0.0.0/8; deny all; }\n", {}),
    ("    location /files/ { autoindex on; auth_request /auth; }\n", {}),
    # satisfy any: an address the list does not name must still log in.
    (f'    location /files/ {{ autoindex on; satisfy any; allow 10.0.0.0/8; auth_basic "staff"; {HTPASSWD} }}\n', {}),
    # A file the deployment provides, beside it or around it, may hold the login.
    ("    location /files/ { autoindex on; include /etc/nginx/provided-by-the-deployment/auth.conf; }\n", {}),
    ("    include /etc/nginx/provided-by-the-deployment/auth.conf;\n    location /files/ { autoindex on; }\n", {}),
])
def test_autoindex_enabled_is_silent_where_the_listing_needs_a_login_or_an_allowed_address(
        tmp_path, server_body, files):
    assert findings(tmp_path, f"server {{\n    listen 80;\n{server_body}}}\n", "autoindex-enabled", files=files) == []


@pytest.mark.parametrize("server_body", [
    # A realm without a user file asks for nothing (nginx answers 200, below).
    '    location /files/ { autoindex on; auth_basic "staff"; }\n',
    # The server's login switched off here.
    f'    auth_basic "staff";\n    {HTPASSWD}\n    location /files/ {{ autoindex on; auth_basic off; }}\n',
    # An allow list without deny all; satisfy any beside an allow of every address.
    "    location /files/ { autoindex on; allow 10.0.0.0/8; }\n",
    f'    location /files/ {{ autoindex on; satisfy any; allow all; auth_basic "staff"; {HTPASSWD} }}\n',
    # An include in the tree that holds no login.
    "    location /files/ { autoindex on; include snippets/cache.conf; }\n",
])
def test_autoindex_enabled_where_the_login_or_allow_list_lets_everyone_through(tmp_path, server_body):
    nginx = f"server {{\n    listen 80;\n{server_body}}}\n"
    [finding] = findings(tmp_path, nginx, "autoindex-enabled", files={"snippets/cache.conf": "expires 1h;\n"})
    assert (finding.line, finding.col) == place(nginx, "autoindex on")


def test_a_listing_behind_a_login_or_an_allow_list_is_refused_on_nginx_and_autoindex_enabled_is_silent(tmp_path):
    # Each location lists the same directory; only the ones nginx answers with 200 are reported.
    def listing(path: str, guard: str) -> str:
        return (f"        location /{path}/ {{\n            alias {{root}}/site/;\n            autoindex on;\n"
                f"{guard}        }}\n")
    login = '            auth_basic "staff";\n            auth_basic_user_file {root}/htpasswd;\n'
    body = ("    server {\n        listen 127.0.0.1:{port};\n"
            "        location = /no { return 401; }\n"
            + listing("basic", login)
            + listing("acl", "            allow 192.0.2.1;\n            deny all;\n")
            + listing("subrequest", "            auth_request /no;\n")
            + listing("any", "            satisfy any;\n            allow 192.0.2.1;\n" + login)
            + listing("realm-only", '            auth_basic "staff";\n')
            + listing("any-open", "            satisfy any;\n            allow all;\n" + login)
            + "    }\n")
    with nginx_serving(tmp_path, body) as (port, prefix, conf):
        (prefix / "site").mkdir()
        (prefix / "site" / "db-backup.sql.gz").write_text("secret")
        (prefix / "htpasswd").write_text("staff:{PLAIN}secret\n")
        statuses = {path: fetch(port, f"/{path}/")[0] for path in
                    ("basic", "acl", "subrequest", "any", "realm-only", "any-open")}
        logged_in = fetch(port, "/basic/", {"Authorization": "Basic " + base64.b64encode(b"staff:secret").decode()})
        found = only(lint_file(conf), "autoindex-enabled")
    assert statuses == {"basic": 401, "acl": 403, "subrequest": 401, "any": 401, "realm-only": 200, "any-open": 200}
    assert logged_in[0] == 200 and b"db-backup.sql.gz" in logged_in[2]     # the listing is there, behind the login
    text = conf.read_text()
    assert [(f.line, f.col) for f in found] == [place(text, "autoindex on", 5), place(text, "autoindex on", 6)]


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


def test_a_named_location_keeps_the_captures_of_the_location_it_was_reached_from(tmp_path):
    # Set 23's traverseda.uwsgi: `try_files $2 @app` from a two-group regex location, and `$1` in
    # `location @app`. nginx keeps the captures across try_files and error_page jumps; only a regex
    # inside the named location (here the rewrite's, no group) is checked there.
    body = ("    server {\n        listen 127.0.0.1:{port};\n"
            "        location ~ ^/~(.+?)(/.*)?$ { try_files $2 @app; }\n"
            "        location ~ ^/e/(\\w+) { error_page 404 = @app; return 404; }\n"
            "        location @app { return 200 \"one=[$1] two=[$2]\"; }\n"
            "        location /r/ { try_files $uri @rewritten; }\n"
            "        location @rewritten { rewrite ^ /x$1 break; return 200 \"[$1]\"; }\n"
            "    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        from_try_files = fetch(port, "/~alice/foo")[2]
        from_error_page = fetch(port, "/e/bob")[2]
        found = only(lint_file(conf), "invalid-capture-reference")
    assert from_try_files == b"one=[alice] two=[/foo]" and from_error_page == b"one=[bob] two=[]"
    text = conf.read_text()
    assert [(f.line, f.col) for f in found] == [place(text, "rewrite ^ /x$1 break"),
                                                place(text, 'return 200 "[$1]"')]


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


def test_the_shapes_regex_redos_names_in_its_docstring_are_the_ones_it_reports(tmp_path):
    # Each ``(...)`` shape the docstring gives as reported is reported; the one it names as
    # linear, (a|ab)*, is not: its n "a"s split one way only, whatever follows (issue 25).
    why = get_rule("regex-redos").doc.why
    assert "``(a+)+``" in why and "``(a|aa)*``" in why and "``(a|ab)*``" in why
    for number, (shape, reported) in enumerate([("(a+)+", True), ("(a|aa)*", True), ("(a|ab)*", False)]):
        nginx = f"server {{\n    location ~ ^/{shape}$ {{ return 404; }}\n}}\n"
        found = findings(tmp_path / str(number), nginx, "regex-redos")
        assert [(f.line, f.col) for f in found] == ([(2, 5)] if reported else []), shape


def test_nginx_runs_into_pcres_match_limit_only_on_the_shape_regex_redos_reports(tmp_path):
    # 40 "a"s and a character the regex refuses: (a|aa)* tries every split of them until PCRE's
    # match limit (error -47 in the log, and a 500 for the client), (a|ab)* fails at once.
    body = ("    server {\n        listen 127.0.0.1:{port};\n"
            "        location ~ ^/x/(a|aa)*$ { return 200 x; }\n"
            "        location ~ ^/y/(a|ab)*$ { return 200 y; }\n        location / { return 404; }\n    }\n")
    crafted = "a" * 40 + "c"
    with nginx_serving(tmp_path, body) as (port, prefix, conf):
        before = fetch(port, f"/y/{crafted}")[0]
        linear = (prefix / "error.log").read_text().count("pcre2_match() failed")
        after = fetch(port, f"/x/{crafted}")[0]
        exponential = (prefix / "error.log").read_text().count("pcre2_match() failed")
        found = only(lint_file(conf), "regex-redos")
    assert (before, after) == (404, 500)
    assert (linear, exponential) == (0, 1)
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "location ~ ^/x/")]


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


@pytest.mark.parametrize("listens, acl, needle, words", [
    # A deny of some addresses only: every other address is still allowed.
    ("listen 80;", "allow 10.0.0.0/8; deny 192.168.1.1;", "allow 10.0.0.0/8",
     "allows some addresses but denies only 192.168.1.1, so every other address is allowed"),
    # nginx applies the first rule that matches: allow all lets everyone in before deny all.
    ("listen 80;", "allow 10.0.0.0/8; allow all; deny all;", "allow all",
     "allow all matches every address and nginx applies the first rule that matches"),
    ("listen 80;", "allow 10.0.0.0/8; allow 0.0.0.0/0; deny all;", "allow 0.0.0.0/",
     "allow 0.0.0.0/0 matches every address"),
    # deny 0.0.0.0/0 closes IPv4 only: an IPv6 listener lets every IPv6 client in.
    ("listen 80; listen [::]:80;", "allow 10.0.0.0/8; deny 0.0.0.0/0;", "allow 10.0.0.0/8",
     "denies only 0.0.0.0/0, so every IPv6 address is allowed"),
    ("listen 80;", "allow 10.0.0.0/8; allow 2001:db8::/32; deny 0.0.0.0/0;", "allow 10.0.0.0/8",
     "every IPv6 address is allowed"),
])
def test_allow_without_deny_when_the_list_judged_in_order_still_lets_every_address_in(
        tmp_path, listens, acl, needle, words):
    nginx = f"server {{\n    {listens}\n    location /admin/ {{ {acl} }}\n}}\n"
    [finding] = findings(tmp_path, nginx, "allow-without-deny")
    assert (finding.code, finding.severity) == ("CG641", "error")
    assert (finding.line, finding.col) == place(nginx, needle)
    assert words in finding.message and "deny all;" in finding.message


@pytest.mark.parametrize("listens, acl", [
    ("listen 80;", "allow 10.0.0.0/8; deny 192.168.1.1; deny all;"),
    ("listen 80;", "allow 10.0.0.0/8; deny 0.0.0.0/0;"),                    # an IPv4-only server
    ("listen 80; listen [::]:80;", "allow 10.0.0.0/8; deny 0.0.0.0/0; deny ::/0;"),
    ("listen 80; listen [::]:80;", "allow 10.0.0.0/8; allow 2001:db8::/32; deny all;"),
    ("listen 80; listen [::]:80;", "allow 0.0.0.0/0; deny all;"),          # IPv4 only, on purpose
    ("listen 80; listen unix:/run/nginx.sock;", "allow 10.0.0.0/8; deny 0.0.0.0/0;"),   # unix clients are local
])
def test_allow_without_deny_is_silent_where_every_family_the_server_accepts_ends_in_a_deny(tmp_path, listens, acl):
    nginx = f"server {{\n    {listens}\n    location /admin/ {{ {acl} }}\n}}\n"
    assert findings(tmp_path, nginx, "allow-without-deny") == []


def test_allow_without_deny_is_silent_beside_an_acl_the_deployment_provides(tmp_path):
    # The engine's promise: a file not in the tree (nor on this machine) may end the list.
    provided = ("server {\n    location /admin/ {\n        allow 10.0.0.0/8;\n"
                "        include /etc/nginx/acl/admins.conf;\n    }\n}\n")
    assert findings(tmp_path / "a", provided, "allow-without-deny") == []
    # Not when the provided file is included at the server: the location's own list wins whole.
    outside = ("server {\n    include /etc/nginx/acl/admins.conf;\n    location /admin/ {\n"
               "        allow 10.0.0.0/8;\n    }\n}\n")
    [finding] = findings(tmp_path / "b", outside, "allow-without-deny")
    assert (finding.line, finding.col) == (4, 9)


def fetch6(port: int, path: str) -> int:
    """The status of one GET to [::1]:``port``."""
    connection = http.client.HTTPConnection("::1", port, timeout=15)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_nginx_judges_an_allow_list_in_order_and_per_address_family_as_allow_without_deny_says(tmp_path):
    body = ("    server {\n        listen 127.0.0.1:{port};\n        listen [::1]:{port};\n"
            "        location /some-denied/ {\n            allow 10.0.0.0/8;\n            deny 192.168.1.1;\n"
            "            empty_gif;\n        }\n"
            "        location /allow-all-first/ {\n            allow 10.0.0.0/8;\n            allow all;\n"
            "            deny all;\n            empty_gif;\n        }\n"
            "        location /ipv4-denied/ {\n            allow 10.0.0.0/8;\n            deny 0.0.0.0/0;\n"
            "            empty_gif;\n        }\n"
            "        location /closed/ {\n            allow 10.0.0.0/8;\n            deny all;\n"
            "            empty_gif;\n        }\n    }\n")
    paths = ("/some-denied/", "/allow-all-first/", "/ipv4-denied/", "/closed/")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        statuses = {path: (fetch(port, path)[0], fetch6(port, path)) for path in paths}
        found = only(lint_file(conf), "allow-without-deny")
    # (IPv4 client, IPv6 client): 127.0.0.1 and ::1 are in none of the lists' networks.
    assert statuses == {"/some-denied/": (200, 200), "/allow-all-first/": (200, 200),
                        "/ipv4-denied/": (403, 200), "/closed/": (403, 403)}
    text = conf.read_text()
    assert [(f.line, f.col) for f in found] == [place(text, "allow 10.0.0.0/8"), place(text, "allow all"),
                                                place(text, "allow 10.0.0.0/8", 3)]
    assert "every IPv6 address is allowed" in found[2].message


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


@pytest.mark.parametrize("location", [
    # nginx applies the first rule that matches: these let everyone in before deny all.
    "location /s { allow all; deny all; stub_status; }",
    "location /s { allow 0.0.0.0/0; deny all; stub_status; }",
    "location /s { allow 10.0.0.0/8; deny 192.168.1.1; stub_status; }",
    # A realm without its user file asks for nothing; satisfy any with an allow of everyone.
    'location /s { auth_basic "ops"; stub_status; }',
    'location /s { satisfy any; allow all; auth_basic "ops"; auth_basic_user_file /etc/nginx/htpasswd; stub_status; }',
    # A file in the tree that restricts nothing.
    "location /s { include snippets/cache.conf; stub_status; }",
])
def test_status_page_exposed_when_the_restriction_judged_in_order_lets_everyone_in(tmp_path, location):
    nginx = f"server {{\n    listen 80;\n    {location}\n}}\n"
    [finding] = findings(tmp_path, nginx, "status-page-exposed", files={"snippets/cache.conf": "expires 1h;\n"})
    assert (finding.line, finding.col) == place(nginx, "stub_status")


@pytest.mark.parametrize("server_body", [
    "    location /s { allow 127.0.0.1; deny 0.0.0.0/0; stub_status; }\n",       # IPv4-only server
    '    location /s { satisfy any; allow 10.0.0.0/8; auth_basic "ops"; auth_basic_user_file /etc/nginx/htpasswd; '
    "stub_status; }\n",
    # A file the deployment provides, beside it or around it, may restrict it.
    "    location /s { include /etc/nginx/acl/ops.conf; stub_status; }\n",
    "    include /etc/nginx/acl/ops.conf;\n    location /s { stub_status; }\n",
])
def test_status_page_exposed_is_silent_where_a_list_or_login_holds_or_a_provided_file_may(tmp_path, server_body):
    assert findings(tmp_path, f"server {{\n    listen 80;\n{server_body}}}\n", "status-page-exposed") == []


def test_nginx_serves_a_status_page_to_everyone_when_allow_all_comes_first_as_status_page_exposed_says(tmp_path):
    body = ("    server {\n        listen 127.0.0.1:{port};\n"
            "        location /allow-all-first { allow all; deny all; stub_status; }\n"
            "        location /everyone-v4-first { allow 0.0.0.0/0; deny all; stub_status; }\n"
            "        location /closed { allow 192.0.2.1; deny all; stub_status; }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        answers = {path: fetch(port, path) for path in ("/allow-all-first", "/everyone-v4-first", "/closed")}
        public = conf.parent / "public.conf"
        public.write_text(conf.read_text().replace(f"listen 127.0.0.1:{port};", "listen 80;"))
        found = only(lint_file(public), "status-page-exposed")
    assert [(status, b"Active connections:" in text) for status, _, text in answers.values()] == [
        (200, True), (200, True), (403, False)]
    text = public.read_text()
    assert [(f.line, f.col) for f in found] == [place(text, "stub_status"), place(text, "stub_status", 2)]


def test_stub_status_answers_any_client_unless_denied_on_nginx(tmp_path):
    body = ("    server {\n        listen 127.0.0.1:{port};\n        location /open_status { stub_status; }\n"
            "        location /closed_status {\n            stub_status;\n            allow 192.0.2.1;\n"
            "            deny all;\n        }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        opened, closed = fetch(port, "/open_status"), fetch(port, "/closed_status")
        # Loopback-only, so the lint stays silent here; the same server on every address does not.
        quiet = only(lint_file(conf), "status-page-exposed")
        public = conf.parent / "public.conf"
        public.write_text(conf.read_text().replace(f"listen 127.0.0.1:{port};", "listen 80;"))
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


def test_map_without_default_is_silent_when_the_table_includes_a_file_the_deployment_provides(tmp_path):
    # The engine's promise: the provided file may hold the default entry.
    provided = ("http {\n    map $http_x_key $gate {\n        include /etc/nginx/maps/keys.map;\n    }\n"
                "    server { if ($gate) { return 403; } }\n}\n")
    assert findings(tmp_path / "a", provided, "map-without-default") == []
    # A table file in the tree without a default is read as entries: still reported.
    in_tree = provided.replace("/etc/nginx/maps/keys.map", "keys.map")
    [finding] = findings(tmp_path / "b", in_tree, "map-without-default", files={"keys.map": "a 1;\n"})
    assert (finding.line, finding.col) == (2, 5)


GEO_USE = "    server {{\n        {listens}\n        if ($gate) {{ return 403; }}\n    }}\n"


@pytest.mark.parametrize("source, entries, listens", [
    # nginx's default is 0.0.0.0/0 and ::/0 together: both written are a default.
    ("", "0.0.0.0/0 0;\n        ::/0 0;", "listen 80; listen [::]:80;"),
    # One alone is enough for the only family the servers accept.
    ("", "0.0.0.0/0 0;", "listen 80;"),
    ("", "::/0 0;", "listen [::]:80;"),
])
def test_map_without_default_reads_a_geos_whole_networks_as_its_default(tmp_path, source, entries, listens):
    nginx = (f"http {{\n    geo {source}$gate {{\n        {entries}\n        10.0.0.0/8 1;\n    }}\n"
             + GEO_USE.format(listens=listens) + "}\n")
    assert findings(tmp_path, nginx, "map-without-default") == []


@pytest.mark.parametrize("source, entries, listens, family", [
    ("", "0.0.0.0/0 0;", "listen 80; listen [::]:80;", "IPv6"),
    ("", "::/0 0;", "listen 80; listen [::]:80;", "IPv4"),
    ("", "::/0 0;", "listen 80;", "IPv4"),
    # The address read from a header may be of either family.
    ("$http_x_forwarded_for ", "0.0.0.0/0 0;", "listen 80;", "IPv6"),
])
def test_map_without_default_names_the_family_a_geos_whole_network_leaves_out(
        tmp_path, source, entries, listens, family):
    nginx = (f"http {{\n    geo {source}$gate {{\n        {entries}\n        10.0.0.0/8 1;\n    }}\n"
             + GEO_USE.format(listens=listens) + "}\n")
    [finding] = findings(tmp_path, nginx, "map-without-default")
    assert (finding.line, finding.col) == (2, 5)
    assert finding.message.startswith(f"geo $gate has no default for {family} clients")


def test_a_geos_whole_ipv4_network_leaves_ipv6_clients_empty_on_nginx_as_map_without_default_says(tmp_path):
    body = ("    geo $v4_only {\n        0.0.0.0/0 zero;\n        10.0.0.0/8 ten;\n    }\n"
            "    geo $both {\n        0.0.0.0/0 zero;\n        ::/0 zero;\n        10.0.0.0/8 ten;\n    }\n"
            "    geo $with_default {\n        default zero;\n        10.0.0.0/8 ten;\n    }\n"
            "    server {\n        listen 127.0.0.1:{port};\n        listen [::1]:{port};\n"
            "        location / {\n            if ($v4_only = \"\") { return 403; }\n"
            "            if ($both = \"\") { return 403; }\n"
            "            if ($with_default = \"\") { return 403; }\n            return 204;\n        }\n"
            "        location /both/ {\n            if ($both = \"\") { return 403; }\n"
            "            if ($with_default = \"\") { return 403; }\n            return 204;\n        }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        statuses = {path: (fetch(port, path)[0], fetch6(port, path)) for path in ("/", "/both/")}
        found = only(lint_file(conf), "map-without-default")
    # The geo with 0.0.0.0/0 alone gives ::1 "": the if refuses it; default and both networks do not.
    assert statuses == {"/": (204, 403), "/both/": (204, 204)}
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "geo $v4_only")]
    assert found[0].message.startswith("geo $v4_only has no default for IPv6 clients")


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
# CG647 auth-basic-without-user-file


@pytest.mark.parametrize("server_body, files", [
    # The file beside the realm, or inherited from the server or the http block (each is
    # inherited on its own).
    (f'    location /a/ {{ auth_basic "staff"; {HTPASSWD} }}\n', {}),
    (f'    {HTPASSWD}\n    location /a/ {{ auth_basic "staff"; }}\n', {}),
    (f'    location /a/ {{ limit_except GET {{ auth_basic "staff"; {HTPASSWD} }} }}\n', {}),
    # The server's realm with a file in every location it covers.
    (f'    auth_basic "staff";\n    location /a/ {{ {HTPASSWD} }}\n    location /b/ {{ {HTPASSWD} }}\n', {}),
    # Switched off on purpose; the server's realm switched off where no file is.
    ('    location /a/ { auth_basic off; }\n', {}),
    (f'    auth_basic "staff";\n    location /a/ {{ {HTPASSWD} }}\n    location /b/ {{ auth_basic off; }}\n', {}),
    # A file the deployment provides, in the location or around it, may set the user file.
    ('    location /a/ { auth_basic "staff"; include /etc/nginx/provided-by-the-deployment/auth.conf; }\n', {}),
    ('    include /etc/nginx/provided-by-the-deployment/auth.conf;\n    location /a/ { auth_basic "staff"; }\n', {}),
    # An include in the tree that sets it.
    ('    location /a/ { auth_basic "staff"; include snippets/htpasswd.conf; }\n',
     {"snippets/htpasswd.conf": HTPASSWD + "\n"}),
])
def test_auth_basic_without_user_file_is_silent_where_a_user_file_is_in_force(tmp_path, server_body, files):
    nginx = f"server {{\n    listen 80;\n{server_body}}}\n"
    assert findings(tmp_path, nginx, "auth-basic-without-user-file", files=files) == []


def test_http_level_user_file_counts(tmp_path):
    nginx = (f'http {{\n    {HTPASSWD}\n    server {{\n        listen 80;\n'
             f'        location /a/ {{ auth_basic "staff"; }}\n    }}\n}}\n')
    assert findings(tmp_path, nginx, "auth-basic-without-user-file") == []


@pytest.mark.parametrize("server_body, needle, words", [
    # The realm alone; in a limit_except; in a location whose nested location sets a file (the
    # outer one stays open); in a server without locations.
    ('    location /a/ { auth_basic "staff"; }\n', "auth_basic", ["no auth_basic_user_file in force here"]),
    ('    location /a/ { limit_except GET { auth_basic "staff"; } }\n', "auth_basic",
     ["no auth_basic_user_file in force here"]),
    (f'    location /a/ {{ auth_basic "staff"; location /a/b/ {{ {HTPASSWD} }} }}\n', "auth_basic",
     ["in force here"]),
    ('    auth_basic "staff";\n    root /srv;\n', "auth_basic", ["in force here"]),
    # The server's realm, a file in one location and not the other: the other one is named.
    (f'    auth_basic "staff";\n    location /a/ {{ {HTPASSWD} }}\n    location /b/ {{ root /srv; }}\n', "auth_basic",
     ["in force without an auth_basic_user_file in location /b/ (", "nginx.conf:5)", "checks no password there"]),
])
def test_auth_basic_without_user_file_is_reported_at_the_realm(tmp_path, server_body, needle, words):
    nginx = f"server {{\n    listen 80;\n{server_body}}}\n"
    [finding] = findings(tmp_path, nginx, "auth-basic-without-user-file")
    assert (finding.line, finding.col) == place(nginx, needle)
    assert (finding.code, finding.severity) == ("CG647", "error")
    for part in words:
        assert part in finding.message, (part, finding.message)


def test_a_realm_without_a_user_file_answers_without_credentials_on_nginx(tmp_path):
    """What the rule rests on, on the installed nginx: a realm alone answers 200 without
    credentials; with the file (beside it, or inherited from the server on its own) 401, and 200
    with the password; auth_basic off answers 200 on purpose. Only the realms without a file in
    force are reported, and none once the server sets the file."""
    def location(path: str, guard: str) -> str:
        return f"        location /{path}/ {{\n            alias {{root}}/site/;\n{guard}        }}\n"

    def body(server_file: bool) -> str:
        realm, user_file = '            auth_basic "staff";\n', "            auth_basic_user_file {root}/htpasswd;\n"
        return ("    server {\n        listen 127.0.0.1:{port};\n"
                + '        auth_basic "server";\n' + (user_file[4:] if server_file else "")
                + location("realm-only", realm)
                + location("with-file", realm + user_file)
                + location("off", "            auth_basic off;\n" + user_file)
                + "        location /inherited/ {\n            alias {root}/site/;\n"
                + "            location /inherited/deeper/ { alias {root}/site/; }\n        }\n"
                + location("server-realm", "")
                + "    }\n")

    paths = ("realm-only", "with-file", "off", "inherited", "inherited/deeper", "server-realm")
    password = {"Authorization": "Basic " + base64.b64encode(b"staff:secret").decode()}
    statuses, found, texts = {}, {}, {}
    for server_file in (False, True):
        with nginx_serving(tmp_path / str(server_file), body(server_file)) as (port, prefix, conf):
            (prefix / "site" / "inherited").mkdir(parents=True)
            for page in (prefix / "site" / "index.html", prefix / "site" / "inherited" / "index.html"):
                page.write_text("protected\n")
            (prefix / "htpasswd").write_text("staff:{PLAIN}secret\n")
            statuses[server_file] = {path: (fetch(port, f"/{path}/")[0], fetch(port, f"/{path}/", password)[0])
                                     for path in paths}
            found[server_file] = only(lint_file(conf), "auth-basic-without-user-file")
            texts[server_file] = conf.read_text()
    assert statuses[False] == {"realm-only": (200, 200), "with-file": (401, 200), "off": (200, 200),
                               "inherited": (200, 200), "inherited/deeper": (200, 200), "server-realm": (200, 200)}
    text = texts[False]
    assert [(f.line, f.col) for f in found[False]] == [place(text, 'auth_basic "server"'),
                                                       place(text, 'auth_basic "staff"')]
    server_realm = found[False][0].message
    assert all(f"location /{path}/ (" in server_realm for path in ("inherited", "inherited/deeper", "server-realm"))
    assert "realm-only" not in server_realm and "/off/" not in server_realm
    # The server's file is inherited by every location, whichever realm is in force there.
    assert statuses[True] == {"realm-only": (401, 200), "with-file": (401, 200), "off": (200, 200),
                              "inherited": (401, 200), "inherited/deeper": (401, 200), "server-realm": (401, 200)}
    assert found[True] == []


# ---------------------------------------------------------------------------------------------
# CG651 resolver-external


@pytest.mark.parametrize("args, public", [
    ("8.8.8.8:53", "8.8.8.8:53"),
    ("[2001:4860:4860::8888]", "[2001:4860:4860::8888]"),
    ("2001:4860:4860::8888 valid=30s", "2001:4860:4860::8888"),
    ("172.31.0.2 8.8.4.4 ipv6=off", "8.8.4.4"),          # only the public one is named
])
def test_resolver_external_names_only_the_public_servers(tmp_path, args, public):
    [finding] = findings(tmp_path, f"server {{\n    resolver {args};\n    location / {{ proxy_pass http://$host; }}\n}}\n",
                         "resolver-external")
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
    assert findings(tmp_path, f"server {{\n    resolver {args};\n    location / {{ proxy_pass http://$host; }}\n}}\n",
                    "resolver-external") == []


@pytest.mark.parametrize("uses, reported", [
    ("location / { proxy_pass http://app; }", False),                       # resolved once, at start
    ("location / { proxy_pass http://$host; }", True),
    ("ssl_stapling on;", True), ("ssl_stapling on; ssl_stapling_file /etc/ocsp.der;", False),
    ("location / { content_by_lua_block { ngx.say(1) } }", True),           # cosockets use the resolver
    # server ... resolve is re-resolved with the http block's (or, from 1.27.3, the upstream's own)
    # resolver, never a server's: this one is not asked.
    ("location / { proxy_pass http://live; }", False),
])
def test_resolver_external_only_where_something_asks_it(tmp_path, uses, reported):
    nginx = ("upstream app { server app.internal:8000; }\n"
             "upstream live { zone live 64k; server app.internal:8000 resolve; }\n"
             f"server {{\n    listen 443 ssl;\n    resolver 8.8.8.8;\n    {uses}\n}}\n")
    assert bool(findings(tmp_path, nginx, "resolver-external", nginx_version="1.27.3")) is reported


@pytest.mark.parametrize("server, reported", [
    ("listen 443 ssl; ssl_certificate /etc/ssl/site.pem;", True),
    # set 23's dokeza: stapling and resolver at the http level, the certificate in the server
    ("listen 443 ssl; ssl_certificate /etc/letsencrypt/live/example.org/fullchain.pem;", False),
    ("listen 80;", False),                                  # no TLS: nothing to staple
    ("listen 443 ssl; ssl_certificate /etc/ssl/site.pem; ssl_stapling off;", False),
])
def test_resolver_external_stapling_is_judged_per_server(tmp_path, server, reported):
    nginx = ("http {\n    ssl_stapling on;\n    resolver 8.8.8.8 valid=60s;\n"
             f"    server {{ {server} location / {{ proxy_pass http://app; }} }}\n"
             "    upstream app { server 127.0.0.1:8000; }\n}\n")
    assert bool(findings(tmp_path, nginx, "resolver-external")) is reported


def test_resolver_external_is_reported_where_written_not_where_inherited(tmp_path):
    nginx = ("http {\n    resolver 1.1.1.1;\n    server { listen 80; location / { proxy_pass http://$host; } }\n"
             "    server { listen 81; resolver 10.0.0.2; }\n}\n")
    found = findings(tmp_path, nginx, "resolver-external")
    assert [(f.line, f.col) for f in found] == [(2, 5)]


def test_a_redirect_to_this_site_past_an_allow_deny_list_is_not_a_bypass(tmp_path):
    """A blocklist at http level and a redirect to this site: a denied client gets the redirect and
    meets the deny where it is sent (real nginx: 301, then 403); nothing is exposed. A redirect
    elsewhere, and content answered by `return`, are still reported."""
    body = ("deny 127.0.0.1;\n"
            "server {\n    listen 127.0.0.1:{port};\n    server_name site.test;\n"
            "    location = /old { return 301 http://site.test:{port}/new; }\n"
            "    location = /away { return 302 https://elsewhere.test/x; }\n"
            "    location = /secret { return 200 secret; }\n"
            "    location / { root {root}; }\n}\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        assert fetch(port, "/old")[0] == 301 and fetch(port, "/new")[0] == 403
        assert fetch(port, "/secret")[0] == 200     # what the rule is about: content past the deny
        text = conf.read_text()
    found = only(lint_file(conf), "return-bypasses-allow-deny")
    assert [(f.line, f.col) for f in found] == [place(text, "return 302"), place(text, "return 200")]
