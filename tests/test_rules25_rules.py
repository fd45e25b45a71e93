"""The rule changes of issue 25: classes that were wrong or missed on published configs."""

from __future__ import annotations

import pytest

from lint_helpers import full, line_of, lint_config, only


# ---------------------------------------------------------------------------------------------
# filesystem-root-exposure: a root only matters where something serves files from it


ROOTS = """
server {
    listen 80;
    root /;
    location / { proxy_pass http://127.0.0.1:8000; }
}
server {
    listen 81;
    location /a/ { root /; uwsgi_pass 127.0.0.1:8001; }
    location /b/ { root /; proxy_pass http://127.0.0.1:8000; try_files $uri @app; }
    location /c/ { root /; fastcgi_pass 127.0.0.1:9000; error_page 502 /502.html; }
    location @app { proxy_pass http://127.0.0.1:8000; }
}
server {
    listen 82;
    root /;
    location /api/ { proxy_pass http://127.0.0.1:8000; }
}
"""


def test_root_slash_is_reported_only_where_files_are_served_from_it(tmp_path):
    result = lint_config(tmp_path, full(ROOTS))
    conf = tmp_path / "nginx.conf"
    found = only(result, "filesystem-root-exposure")
    assert [f.line for f in found] == [line_of(conf, "location /b/"), line_of(conf, "location /c/"),
                                       line_of(conf, "listen 82") + 1]
    assert all(f.severity == "error" and f.message.startswith("`root /` serves every file on the machine")
               for f in found)


def test_a_location_that_serves_files_under_a_proxying_server_is_still_reported(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            root /;
            location / { proxy_pass http://127.0.0.1:8000; }
            location /static/ { expires 1d; }
        }
    """))
    [finding] = only(result, "filesystem-root-exposure")
    assert finding.line == line_of(tmp_path / "nginx.conf", "root /;")


# ---------------------------------------------------------------------------------------------
# proxy-pass-normalized: the URI part is ignored after rewrite ... break


def test_the_uri_part_after_rewrite_break_is_not_judged(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            location /api {
                rewrite ^/api/(.*)$ /$1 break;
                proxy_pass http://127.0.0.1:8000/v1/;
            }
            location /old {
                if ($arg_x) { rewrite ^ /x break; }
                proxy_pass http://127.0.0.1:8000/v1/;
            }
            location /other {
                rewrite ^/other/(.*)$ /$1 last;
                proxy_pass http://127.0.0.1:8000/v2/;
            }
        }
    """))
    [finding] = only(result, "proxy-pass-normalized")      # `last` re-matches: the URI part counts
    assert finding.line == line_of(tmp_path / "nginx.conf", "8000/v2/")
    assert "location /other and the proxy_pass path /v2/ disagree" in finding.message


# ---------------------------------------------------------------------------------------------
# add_header: one finding per cause


HEADERS = """
server {
    add_header X-Frame-Options DENY always;
    add_header X-Served-By edge;
    location /feed {
        add_header Content-Type application/json;
        proxy_pass http://127.0.0.1:8000;
    }
    location /a/ {
        add_header Cache-Control no-store;
        proxy_pass http://127.0.0.1:8000;
    }
}
"""


def test_one_add_header_line_gets_one_finding(tmp_path):
    result = lint_config(tmp_path, full(HEADERS))
    conf = tmp_path / "nginx.conf"
    header_rules = ("add-header-inheritance", "add-header-redefinition", "add-header-content-type")
    found = [(f.rule, f.line) for f in result.findings if f.rule in header_rules]
    assert found == [("add-header-content-type", line_of(conf, "Content-Type")),
                     ("add-header-redefinition", line_of(conf, "Cache-Control"))]
    content_type = only(result, "add-header-content-type")[0].message
    assert "use default_type" in content_type
    assert "as this location's only add_header, it drops X-Frame-Options, X-Served-By set further out" in content_type
    assert "(nor X-Served-By)" in only(result, "add-header-redefinition")[0].message


def test_content_type_beside_other_headers_leaves_the_drop_to_the_inheritance_rules(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            add_header X-Served-By edge;
            location /feed {
                add_header Content-Type application/json;
                add_header Cache-Control no-store;
            }
        }
    """))
    assert "it drops" not in only(result, "add-header-content-type")[0].message
    [inheritance] = only(result, "add-header-inheritance")
    assert inheritance.line == line_of(tmp_path / "nginx.conf", "Content-Type")
    assert "X-Served-By is dropped" in inheritance.message


# ---------------------------------------------------------------------------------------------
# proxy-connect-timeout-ineffective: what nginx documents and what the kernel does


@pytest.mark.parametrize("value, says", [
    ("300s", "Linux gives up on an unanswered connect after about 127s (default net.ipv4.tcp_syn_retries 6), "
             "so this value is never reached"),
    ("90s", "on Linux it holds only while the host does not answer at all"),
])
def test_connect_timeout_message_states_the_documented_limit_and_the_kernel(tmp_path, value, says):
    result = lint_config(tmp_path, full(f"""
        server {{
            location / {{ proxy_pass http://127.0.0.1:8000; proxy_connect_timeout {value}; }}
        }}
    """))
    [finding] = only(result, "proxy-connect-timeout-ineffective")
    assert finding.line == line_of(tmp_path / "nginx.conf", "proxy_connect_timeout")
    assert f"proxy_connect_timeout {value} is above the 75s nginx documents as the usual limit" in finding.message
    assert says in finding.message and "the system gives up first" not in finding.message


# ---------------------------------------------------------------------------------------------
# real-ip-from-everyone


def test_trusting_every_address_for_the_client_address_is_reported(tmp_path):
    result = lint_config(tmp_path, full("""
        set_real_ip_from 0.0.0.0/0;
        set_real_ip_from ::/0;
        real_ip_header X-Forwarded-For;
        set_real_ip_from 10.0.0.0/8;
        server { listen 80; }
        server {
            listen 127.0.0.1:8080;
            set_real_ip_from 0.0.0.0/0;
        }
        server {
            listen 81;
            set_real_ip_from 0.0.0.0/0;
            real_ip_header proxy_protocol;
        }
    """))
    conf = tmp_path / "nginx.conf"
    found = only(result, "real-ip-from-everyone")
    assert [f.line for f in found] == [line_of(conf, "0.0.0.0/0"), line_of(conf, "::/0")]
    assert found[0].severity == "warning"
    assert found[0].message.startswith("set_real_ip_from 0.0.0.0/0 trusts every peer: any client writes "
                                       "X-Forwarded-For and becomes the address it names")


def test_the_default_real_ip_header_is_named(tmp_path):
    [finding] = only(lint_config(tmp_path, full("server { listen 80; set_real_ip_from 0.0.0.0/0; }")),
                     "real-ip-from-everyone")
    assert "any client writes X-Real-IP" in finding.message


# ---------------------------------------------------------------------------------------------
# ssl-early-data-unmarked


def test_early_data_without_the_variable_reaching_the_app_is_reported(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            listen 443 ssl;
            ssl_early_data on;
            location / { proxy_pass http://127.0.0.1:8000; }
        }
        server {
            listen 444 ssl;
            ssl_early_data on;
            location / { proxy_set_header Early-Data $ssl_early_data; proxy_pass http://127.0.0.1:8000; }
        }
        server {
            listen 445 ssl;
            ssl_early_data on;
            if ($ssl_early_data) { return 425; }
            location / { uwsgi_pass 127.0.0.1:8001; }
        }
        server {
            listen 446 ssl;
            ssl_early_data on;
            location / { root /srv/www; }
        }
    """), nginx_version="1.25.3")
    [finding] = only(result, "ssl-early-data-unmarked")
    assert finding.line == line_of(tmp_path / "nginx.conf", "ssl_early_data on")
    assert "this server never uses $ssl_early_data" in finding.message
    assert "proxy_set_header Early-Data $ssl_early_data" in finding.message


def test_early_data_at_http_level_counts_the_servers_it_reaches(tmp_path):
    result = lint_config(tmp_path, full("""
        ssl_early_data on;
        server { listen 443 ssl; location / { proxy_pass http://127.0.0.1:8000; } }
        server { listen 444 ssl; location / { proxy_pass http://127.0.0.1:8000; } }
        server { listen 445 ssl; ssl_early_data off; location / { proxy_pass http://127.0.0.1:8000; } }
    """), nginx_version="1.25.3")
    [finding] = only(result, "ssl-early-data-unmarked")
    assert "and 2 server(s) never use $ssl_early_data" in finding.message


def test_a_map_over_the_variable_counts_as_passing_it(tmp_path):
    result = lint_config(tmp_path, full("""
        map $ssl_early_data $too_early { "1" 1; default 0; }
        server {
            listen 443 ssl;
            ssl_early_data on;
            location / { proxy_set_header X-Too-Early $too_early; proxy_pass http://127.0.0.1:8000; }
        }
    """), nginx_version="1.25.3")
    assert only(result, "ssl-early-data-unmarked") == []


# ---------------------------------------------------------------------------------------------
# content-handler-conflict


def test_two_content_handlers_report_the_dead_one(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            location / {
                include uwsgi_params;
                uwsgi_pass 127.0.0.1:8001;
                uwsgi_read_timeout 300s;
                proxy_pass http://127.0.0.1:8000;
            }
            location /ok/ {
                proxy_pass http://127.0.0.1:8000;
                proxy_read_timeout 300s;
            }
            location /status { stub_status; allow 127.0.0.1; deny all; }
        }
    """))
    conf = tmp_path / "nginx.conf"
    [finding] = only(result, "content-handler-conflict")
    assert (finding.line, finding.severity) == (line_of(conf, "uwsgi_pass"), "warning")
    assert finding.message.startswith("this location has 2 content handlers: nginx hands every request to the "
                                      f"last one, proxy_pass ({conf}:{line_of(conf, 'proxy_pass http://127.0.0.1:8000;')})")
    assert f"so uwsgi_pass ({conf}:{line_of(conf, 'uwsgi_pass')})" in finding.message


@pytest.mark.parametrize("order, dead", [("uwsgi_pass django; proxy_pass http://django;", "uwsgi_pass"),
                                          ("proxy_pass http://django; uwsgi_pass django;", "proxy_pass")])
def test_the_handler_nginx_never_runs_gets_no_rule_of_its_own(tmp_path, order, dead):
    """fabrik: `uwsgi_pass` then `proxy_pass` in one location: the dead uwsgi_pass is
    content-handler-conflict's alone (no uwsgi-params-missing at error, no connect timeout of its
    module); the handler that runs is still judged."""
    result = lint_config(tmp_path, full(f"""
        upstream django {{ server 10.0.0.5:8000; }}
        server {{
            location / {{
                {order}
                uwsgi_connect_timeout 600s;
                proxy_connect_timeout 600s;
            }}
        }}
    """))
    [conflict] = only(result, "content-handler-conflict")
    assert conflict.message.split(": nginx hands")[0].endswith("2 content handlers")
    assert bool(only(result, "uwsgi-params-missing")) is (dead == "proxy_pass")
    timeouts = only(result, "proxy-connect-timeout-ineffective")
    live = "uwsgi" if dead == "proxy_pass" else "proxy"
    assert [f.message.split()[0] for f in timeouts] == [f"{live}_connect_timeout"]


def test_nginx_accepts_two_content_handlers(nginx_check):
    ok, output = nginx_check("events {}\nhttp {\n server {\n  listen 127.0.0.1:9;\n  location / {\n"
                             "   uwsgi_pass 127.0.0.1:8001;\n   proxy_pass http://127.0.0.1:8000;\n  }\n }\n}\n")
    assert ok, output


# ---------------------------------------------------------------------------------------------
# host-spoofing: forwarded host headers


def test_one_forwarded_host_map_in_many_locations_of_a_catch_all_server_is_one_finding(tmp_path):
    """The cause is the server answering any Host (one server-level change fixes every place), so the
    places that send the same value are one finding at the first of them; another server with the
    same map is its own cause, and a different header is another finding."""
    result = lint_config(tmp_path, full("""
        map $http_x_forwarded_host $forwarded_host { default $http_x_forwarded_host; "" $host; }
        server {
            listen 80 default_server;
            location /a/ { proxy_set_header X-Forwarded-Host $forwarded_host; proxy_pass http://127.0.0.1:8000; }
            location /b/ { proxy_set_header X-Forwarded-Host $forwarded_host; proxy_pass http://127.0.0.1:8000; }
            location /   { proxy_set_header X-Forwarded-Host $forwarded_host; proxy_pass http://127.0.0.1:8000; }
            location /c/ { proxy_set_header X-Forwarded-Server $forwarded_host; proxy_pass http://127.0.0.1:8000; }
        }
        server {
            listen 8080 default_server;
            location / { proxy_set_header X-Forwarded-Host $forwarded_host; proxy_pass http://127.0.0.1:8000; }
        }
    """))
    conf = tmp_path / "nginx.conf"
    found = only(result, "host-spoofing")
    assert [(f.line, f.message.split(" is sent")[0]) for f in found] == [
        (line_of(conf, "location /a/"), "X-Forwarded-Host"), (line_of(conf, "location /c/"), "X-Forwarded-Server"),
        (line_of(conf, "listen 8080") + 1, "X-Forwarded-Host")]
    assert "(and 2 more places in this server)" in found[0].message
    assert "more place" not in found[1].message and "more place" not in found[2].message


def test_host_http_host_is_not_reported_where_the_server_is_a_default_server(tmp_path):
    """`use $host` changes nothing where requests for any Host reach the server: the only server
    of a whole nginx.conf (no listen: *:80), or the default of one of its sockets (443 here, though
    not of 80). A server that is the default of none is reported; a server without listen in a
    snippet is not judged default (other files may hold servers on *:80)."""
    only_server = lint_config(tmp_path / "a", full("""
        server {
            server_name "";
            location /api { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:5000; }
        }
    """))
    assert only(only_server, "host-spoofing") == []
    shared = lint_config(tmp_path / "b", full("""
        server { listen 80 default_server; return 444; }
        server {
            listen 80;
            listen 443 ssl default_server;
            server_name b.example;
            ssl_certificate /c; ssl_certificate_key /k;
            location / { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:5000; }
        }
        server {
            listen 443 ssl;
            server_name c.example;
            ssl_certificate /c; ssl_certificate_key /k;
            location / { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:5000; }
        }
    """))
    found = only(shared, "host-spoofing")
    assert [f.line for f in found] == [line_of(tmp_path / "b" / "nginx.conf", "server_name c.example") + 2]
    assert found[0].message.endswith("use $host")
    snippet = lint_config(tmp_path / "c", "server {\n    server_name app.example;\n"
                          "    location / { proxy_set_header Host $http_host; proxy_pass http://127.0.0.1:5000; }\n}\n",
                          main="app.conf")
    assert [f.line for f in only(snippet, "host-spoofing")] == [3]


def test_forwarded_host_from_request_data_is_reported_also_in_the_default_server(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            listen 80;
            location / {
                proxy_set_header Host $http_host;
                proxy_set_header X-Forwarded-Host $http_host;
                proxy_pass http://127.0.0.1:8000;
            }
        }
        server {
            listen 80;
            server_name example.com;
            location / {
                proxy_set_header X-Forwarded-Host $host;
                proxy_set_header X-Forwarded-Server $http_host;
                proxy_set_header x-forwarded-host $arg_h;
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """))
    conf = tmp_path / "nginx.conf"
    found = only(result, "host-spoofing")
    assert [f.line for f in found] == [line_of(conf, "X-Forwarded-Host $http_host"),
                                       line_of(conf, "X-Forwarded-Server"), line_of(conf, "$arg_h")]
    assert "in a server that answers any Host: the client chooses it" in found[0].message
    assert "name the real hosts in server_name and refuse the others in a default server" in found[0].message
    assert found[1].message.startswith("X-Forwarded-Server is sent as $http_host (request data), a value the "
                                       "client chose") and found[1].message.endswith("use $host")



def test_headers_of_one_location_that_pass_one_client_value_are_one_finding(tmp_path):
    """Host and X-Forwarded-Host both sent as $http_host in one location are one cause (the client
    picks the host of the app's links): one finding at the first, naming the other header, in
    either order; another value in the same location is another cause. In a server that answers
    any Host, one location's forwarded headers with one value are one finding too, and the
    locations sending the first header count as more places."""
    result = lint_config(tmp_path, full("""
        server { listen 80 default_server; return 444; }
        server {
            listen 80;
            server_name a.example;
            location / {
                proxy_set_header Host $http_host;
                proxy_set_header X-Forwarded-Host $http_host;
                proxy_pass http://127.0.0.1:8000;
            }
            location /rev/ {
                proxy_set_header X-Forwarded-Host $http_host;
                proxy_set_header Host $http_host;
                proxy_pass http://127.0.0.1:8000;
            }
            location /two/ {
                proxy_set_header Host $http_host;
                proxy_set_header X-Forwarded-Host $arg_h;
                proxy_pass http://127.0.0.1:8000;
            }
        }
        server {
            listen 8080 default_server;
            location / {
                proxy_set_header X-Forwarded-Host $http_host;
                proxy_set_header X-Forwarded-Server $http_host;
                proxy_pass http://127.0.0.1:8000;
            }
            location /b/ { proxy_set_header X-Forwarded-Host $http_host; proxy_pass http://127.0.0.1:8000; }
        }
    """))
    conf = tmp_path / "nginx.conf"
    lines = conf.read_text().splitlines()
    first = line_of(conf, "Host $http_host;")
    rev = line_of(conf, "location /rev/") + 1
    two = line_of(conf, "location /two/") + 1
    any_host = line_of(conf, "listen 8080") + 2
    found = only(result, "host-spoofing")
    assert [f.line for f in found] == [first, rev, two, two + 1, any_host], [(f.line, f.message) for f in found]
    assert "proxy_set_header Host $http_host" in lines[first - 1]
    colon = ("(nginx matches only the name before a colon: `Host: a.example:@evil.example` reaches the app whole, "
             "and a link built from it leads to evil.example)")
    assert found[0].message == ("Host is sent as $http_host (request data) (and X-Forwarded-Host), a value the client "
                                f"chose: the app builds links on any domain an attacker names {colon}; use $host")
    assert found[1].message == ("X-Forwarded-Host is sent as $http_host (request data) (and Host), a value the "
                                f"client chose: the app builds links on any domain an attacker names {colon}; use $host")
    assert "(and" not in found[2].message and "(and" not in found[3].message    # two values: two causes
    assert found[3].message.startswith("X-Forwarded-Host is sent as $arg_h")
    assert found[4].message.startswith("X-Forwarded-Host is sent as $http_host (request data) (and X-Forwarded-Server) "
                                       "(and 1 more place in this server) in a server that answers any Host")


# ---------------------------------------------------------------------------------------------
# gixy's suite classes: negated Referer checks, scheme SSRF, set chains, bare CR upstream


def test_a_negated_referer_check_guarding_x_frame_options_is_judged(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            if ($http_referer !~ "^https://example\\.com") { add_header X-Frame-Options SAMEORIGIN; }
            if ($http_referer !~ "^https?://[^/]+metrika.*yandex\\.ru/") { add_header X-Frame-Options DENY; }
            if ($http_referer !~ "^https://example\\.com/") { add_header X-Frame-Options SAMEORIGIN; }
            if ($http_referer !~ "^https?://(www\\.)?example\\.com(/.*)?$") { add_header X-Frame-Options DENY; }
        }
    """))
    conf = tmp_path / "nginx.conf"
    found = only(result, "origins-regex")
    assert [f.line for f in found] == [line_of(conf, 'example\\.com") {'), line_of(conf, "metrika")]
    assert "the host is not closed by $ or /: trusted.com.evil.net matches" in found[0].message
    assert "a wildcard in the host also takes /: the trusted name can follow evil.net/ in the path" in found[1].message


def test_https_only_reports_a_check_that_accepts_plain_http(tmp_path):
    text = full("server { if ($http_origin !~ '^https?://example\\.com/') { return 403; } }")
    assert only(lint_config(tmp_path, text), "origins-regex") == []
    [finding] = only(lint_config(tmp_path, text, rule_options={"origins-regex": {"https-only": True}}), "origins-regex")
    assert finding.line == line_of(tmp_path / "nginx.conf", "$http_origin")
    assert "it accepts http://, which anyone on the network can serve" in finding.message


def test_a_scheme_from_a_request_header_is_an_ssrf_warning(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            location ~ /proxy/$ { proxy_pass $http_proxy_scheme://backend/file.conf; }
            location /fixed/ { proxy_pass $scheme://backend; }
        }
    """))
    [finding] = only(result, "ssrf")
    assert (finding.line, finding.severity) == (line_of(tmp_path / "nginx.conf", "$http_proxy_scheme"), "warning")
    assert finding.message.startswith("proxy_pass takes its scheme from request data ($http_proxy_scheme")


def test_crlf_through_a_set_url_and_bare_cr_upstream(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            location ~ /proxy/(a|b)/(?<p>\\W*)$ {
                set $upstream "http://$1/$p?";
                proxy_pass $upstream;
            }
            location ~* ^/cr/(.*) { proxy_pass http://10.10.10.10/$1; }
            location ~* ^/lf/([^/]+)/ { proxy_pass http://10.10.10.10/$1; }
            location ~* ^/hdr/(.*) { add_header X-Path $1; }
        }
    """))
    conf = tmp_path / "nginx.conf"
    found = only(result, "http-splitting")
    # (.*) takes a CR but no LF: harmless upstream, still a split for a browser reading a header.
    assert [f.line for f in found] == [line_of(conf, "proxy_pass $upstream"), line_of(conf, "/lf/"),
                                       line_of(conf, "/hdr/")]
    assert found[0].message.startswith("$p (captured by ") and "reaches proxy_pass here" in found[0].message


def test_alias_slash_beside_a_proxy_pass_serves_nothing_but_beside_try_files_it_does(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            location /a/ { alias /; proxy_pass http://127.0.0.1:8000; }
            location /b/ { alias /; try_files $uri =404; }
        }
    """))
    [finding] = only(result, "filesystem-root-exposure")
    assert finding.line == line_of(tmp_path / "nginx.conf", "location /b/")
    assert finding.message.startswith("`alias /` serves every file on the machine")


def test_a_level_that_recaches_on_purpose_keeps_no_cache_headers_out(tmp_path):
    """dfir-iris: /static sets its own caching and re-adds the security header; the server's
    no-cache headers are left out on purpose. A level dropping another header still is reported."""
    config = """events {}
http {
    server {
        listen 80;
        add_header X-Served-By edge;
        add_header Cache-Control "no-store" always;
        add_header Pragma "no-cache" always;
        location /static {
            expires 1y;
            add_header Cache-Control "public, max-age=31536000";
            add_header X-Served-By edge;
        }
    }
}
"""
    assert only(lint_config(tmp_path, config, nginx_version="1.22.1"), "add-header-inheritance") == []
    dropping = config.replace("            add_header X-Served-By edge;\n", "")
    [found] = only(lint_config(tmp_path, dropping, nginx_version="1.22.1"), "add-header-inheritance")
    assert "X-Served-By" in found.message


def test_host_from_the_client_at_http_level_over_only_catch_all_servers_is_not_host_spoofing(tmp_path):
    """dfir-iris: `proxy_set_header Host $http_host` in http, one server on :443: that server is the
    default of its socket, so $host is the client's value too and `use $host` changes nothing."""
    one = ("events {}\nhttp {\n    proxy_set_header Host $http_host;\n"
           "    server { listen 443 ssl; server_name app.example; ssl_certificate /c; ssl_certificate_key /k;\n"
           "             location / { proxy_pass http://127.0.0.1:8000; } }\n}\n")
    assert only(lint_config(tmp_path, one, nginx_version="1.22.1"), "host-spoofing") == []
    two = one.replace("}\n}\n", "}\n    server { listen 443 ssl default_server; server_name _; ssl_certificate /c; "
                                 "ssl_certificate_key /k; return 444; }\n}\n")
    assert [f.line for f in only(lint_config(tmp_path, two, nginx_version="1.22.1"), "host-spoofing")] == [3]


@pytest.mark.parametrize("value, problem", [
    ("max-age=31536000", None), ("max-age=31536000; includeSubDomains; preload", None),
    ('max-age="63072000"; includeSubDomains', None),
    ("max-age=31536000: includeSubDomains", "not a number"),          # dfir-iris
    ("max-age=31536000, includeSubDomains", "not a number"),
    ("includeSubDomains", "no max-age"),
    ("max-age=1; max-age=2", "given twice"),
])
def test_hsts_values_are_parsed_as_rfc_6797_writes_them(tmp_path, value, problem):
    from confgen.lint.rules.security_tls import hsts_problem

    found = hsts_problem(value)
    assert (found is None) if problem is None else (problem in found)
    quote = "'" if '"' in value else '"'
    config = f'server {{ listen 443 ssl; add_header Strict-Transport-Security {quote}{value}{quote} always; }}\n'
    assert bool(only(lint_config(tmp_path, config, nginx_version="1.22.1"), "hsts-malformed")) is (problem is not None)


def test_one_malformed_hsts_value_in_several_places_is_one_finding(tmp_path):
    value = '"max-age=31536000: includeSubDomains"'
    config = (f"server {{ listen 443 ssl; add_header Strict-Transport-Security {value} always;\n"
              f"  location /static/ {{ add_header Strict-Transport-Security {value} always; }}\n"
              f"  location /media/ {{ add_header Strict-Transport-Security {value} always; }} }}\n"
              f"server {{ listen 8443 ssl; add_header Strict-Transport-Security \"max-age=1, preload\" always; }}\n")
    found = only(lint_config(tmp_path, config, nginx_version="1.22.1"), "hsts-malformed")
    assert [(f.line, "(and 2 more places)" in f.message) for f in found] == [(1, True), (4, False)]


@pytest.mark.parametrize("directive, reported", [
    ("return 301 https://$host/$request_uri;", True),
    ("return https://$host/$uri;", True),
    ('return 302 "https://example.org/$document_uri";', True),
    ("rewrite ^(.*)$ https://$host/$1 permanent;", True),          # $1 is the whole URI
    ("rewrite (.+) /app/$1 last;", True),
    ("rewrite ^(?<rest>/.*)$ https://$host/$rest redirect;", True),
    ("proxy_pass http://127.0.0.1:8000/$request_uri;", True),
    ("return 301 https://$host$request_uri;", False),
    ("rewrite ^/old/(.*)$ https://$host/$1 permanent;", False),    # the capture has no leading /
    ("rewrite ^(.*)/index$ /$1 last;", False),                      # $1 may be empty
    ("rewrite ^(.*?) /x/$1 last;", False),                          # a lazy group that ends at once
    ("return 301 https://$request_uri;", False),                   # another mistake, not this one
    ("return 200 /$request_uri;", False),                          # a body, not a URL
    ("return 301 https://$host/$arg_next;", False),                # not known to start with /
])
def test_a_slash_written_before_a_value_that_starts_with_one(tmp_path, directive, reported):
    found = only(lint_config(tmp_path, f"server {{\n    location / {{\n        {directive}\n    }}\n}}\n"),
                 "double-slash-in-url")
    assert bool(found) is reported, found
    if reported:
        assert (found[0].line, found[0].col) == (3, 9)


def test_a_set_value_with_a_leading_slash_counts_and_a_host_header_capture_does_not(tmp_path):
    config = ("server {\n    set $path /landing;\n    location /a { return 301 https://$host/$path; }\n"
              "    location /b { if ($host ~ ^(.*)$) { return 301 https://example.org/$1; } }\n}\n")
    found = only(lint_config(tmp_path, config), "double-slash-in-url")
    assert [f.line for f in found] == [3]


def test_a_variable_scheme_still_names_the_upstream(tmp_path):
    """`proxy_pass $scheme://backend;` goes to upstream backend: its pool rules apply there too."""
    from confgen.nginx.model import split_proxy_url

    assert split_proxy_url("$scheme://backend/api").address == "backend"
    assert split_proxy_url("${scheme}://unix:/run/app.sock:/x").address == "unix:/run/app.sock"
    config = ("upstream backend { server 127.0.0.1:8000; keepalive 8; }\n"
              "server {\n    location / { proxy_pass $scheme://backend; }\n}\n")
    found = only(lint_config(tmp_path, config), "keepalive-needs-http11")
    assert [f.line for f in found] == [3]


@pytest.mark.parametrize("lines, reported", [
    ("proxy_next_upstream error timeout;\n        proxy_next_upstream http_502;", True),
    ("proxy_cache_use_stale updating;\n        proxy_cache_use_stale error timeout;", True),
    ("gzip_proxied expired;\n        gzip_proxied expired no-cache;", False),    # the later line holds it all
    ("gzip_proxied any;\n        gzip_proxied off;", False),                     # off means something else
    ("proxy_next_upstream error;", False),
])
def test_directive_values_add_up_only_where_an_earlier_line_brings_more(tmp_path, lines, reported):
    config = f"server {{\n    location / {{\n        proxy_pass http://127.0.0.1:8000;\n        {lines}\n    }}\n}}\n"
    found = only(lint_config(tmp_path, config), "directive-values-add-up")
    assert [f.line for f in found] == ([5] if reported else [])


def test_values_in_an_outer_block_are_replaced_not_added_up(tmp_path):
    config = ("proxy_next_upstream error timeout http_500;\nserver {\n    proxy_next_upstream error;\n"
              "    location / { proxy_pass http://127.0.0.1:8000; proxy_next_upstream off; }\n}\n")
    assert only(lint_config(tmp_path, config), "directive-values-add-up") == []


def test_two_ssl_protocols_lines_add_up_for_ssl_weak_protocols_and_its_fix_edits_the_weak_one(tmp_path):
    from confgen.lint.fixes import apply

    config = ("server {\n    listen 443 ssl;\n    ssl_certificate /c.pem;\n    ssl_certificate_key /k.pem;\n"
              "    ssl_protocols TLSv1 TLSv1.2;\n    ssl_protocols TLSv1.3;\n}\n")
    result = lint_config(tmp_path, config)
    [weak] = only(result, "ssl-weak-protocols")
    assert weak.line == 5 and "TLSv1" in weak.message
    # TLSv1 is ssl-weak-protocols' to report; TLSv1.2 coming back is this rule's.
    [adds] = only(result, "directive-values-add-up")
    assert adds.line == 6 and "(TLSv1 TLSv1.2 from the earlier line too)" in adds.message
    apply.fix_in_place([str(tmp_path / "nginx.conf")], unsafe=True, select=["ssl-weak-protocols"],
                       nginx_version="1.22.1")
    assert "    ssl_protocols TLSv1.2;\n    ssl_protocols TLSv1.3;\n" in (tmp_path / "nginx.conf").read_text()


@pytest.mark.parametrize("listens, other, reported", [
    ("listen 443 ssl;\n    listen [::]:443;", "", True),
    ("listen 443 ssl;\n    listen [::]:443 ssl;", "", False),
    ("listen 443 ssl;\n    listen 443 quic reuseport;", "", False),
    ("listen 443 ssl;\n    listen 80;\n    listen [::]:80;", "", False),             # another port: the plain side
    ("listen 443 ssl;\n    listen [::]:443;", "server { listen [::]:443 ssl; server_name b; }\n", False),
])
def test_a_listen_without_ssl_on_the_port_the_server_speaks_tls_on(tmp_path, listens, other, reported):
    config = (f"server {{\n    {listens}\n    server_name a;\n    ssl_certificate /c.pem;\n"
              f"    ssl_certificate_key /k.pem;\n}}\n{other}")
    found = only(lint_config(tmp_path, config), "ssl-listen-missing")
    assert [f.line for f in found] == ([3] if reported else [])


FORWARD_PROXY = """
server {
    listen 1210;
    proxy_cache WEB;
    proxy_ignore_headers Set-Cookie Vary;
    rewrite ^ $request_uri;
    location ~* ^/(https?://)([^/]+)(/(.*)) {
        proxy_set_header Host $2;
        proxy_pass $1$2$3$is_args$args;
    }
}
proxy_cache_path /tmp/c keys_zone=WEB:1m;
resolver 10.0.0.2;
"""


def test_a_forward_proxy_is_named_as_one_and_its_host_header_and_raw_uri_are_no_findings(tmp_path):
    """perma's memento proxy: the server rewrites to the raw $request_uri first, so captures of
    $uri hold no decoded CR/LF; Host $2 is the host proxy_pass connects to; the proxy itself
    is reported as an open forward proxy."""
    result = lint_config(tmp_path, FORWARD_PROXY)
    rules = {f.rule for f in result.findings}
    assert not {"http-splitting", "host-spoofing", "cache-replays-set-cookie"} & rules, result.findings
    [ssrf] = only(result, "ssrf")
    assert "open forward proxy" in ssrf.message and "($2 " in ssrf.message
    assert any("forward proxy" in note and "Set-Cookie" in note for note in result.notes)


def test_a_forward_proxy_in_a_container_no_published_port_reaches_is_a_note(tmp_path):
    result = lint_config(tmp_path, FORWARD_PROXY, main="docker/nginx/nginx.conf",
                         files={"docker/nginx/Dockerfile": "FROM nginx:1.25\nCOPY nginx.conf /etc/nginx/\n"})
    assert only(result, "ssrf") == []
    assert any("a forward proxy, in a container" in note for note in result.notes)


def test_a_location_capture_after_a_server_level_raw_uri_rewrite_is_raw(tmp_path):
    """A server's `rewrite ^ $request_uri;` runs before a location is chosen: the location's
    captures of $uri are raw (no decoded CR/LF); without the rewrite they are decoded."""
    config = ("server {\n    listen 80;\n    location ~ ^/r/(.*)$ { return 302 \"http://127.0.0.1/$1\"; }\n"
              "    rewrite ^ $request_uri;\n    location ~ ^/p/(.*)$ { proxy_set_header X-Path $1; "
              "proxy_pass http://127.0.0.1:8000; }\n}\n")
    assert only(lint_config(tmp_path, config), "http-splitting") == []
    decoded = config.replace("    rewrite ^ $request_uri;\n", "")
    assert [f.line for f in only(lint_config(tmp_path, decoded), "http-splitting")]


def test_a_redirecting_server_rewrite_does_not_hide_a_locations_raw_uri_rewrite(tmp_path):
    """swh-environment: `rewrite ^/([^/]+)$ /$1/ permanent;` in the server ends the requests it
    matches; the others reach the location's `rewrite ^ $request_uri;`."""
    config = ("server {\n    listen 80;\n    rewrite ^/([^/]+)$ /$1/ permanent;\n    location /rabbitmq/ {\n"
              "        set $upstream \"http://amqp:15672\";\n        rewrite ^ $request_uri;\n"
              "        rewrite ^/rabbitmq(/.*)$ $1 break;\n        proxy_pass $upstream$uri;\n    }\n}\n")
    assert only(lint_config(tmp_path, config), "http-splitting") == []


@pytest.mark.parametrize("gunicorn, read, reported", [
    ("worker_class = 'sync'\n", "proxy_read_timeout 600s;", True),             # 30 s by default
    ("worker_class = 'gthread'\nthreads = 4\n", "proxy_read_timeout 600s;", False),   # a heartbeat, no limit
    ("worker_class = 'sync'\ntimeout = 120\n", "proxy_read_timeout 130s;", False),    # the margin CG203 asks for
    ("worker_class = 'sync'\n", "", False),                                   # nginx's default 60 s
    ("worker_class = 'sync'\ntimeout = 0\n", "proxy_read_timeout 600s;", False),      # no timeout at all
])
def test_proxy_waits_past_app_timeout(tmp_path, gunicorn, read, reported):
    config = ("server {\n    listen 80;\n"
              f"    location /a/ {{ proxy_pass http://127.0.0.1:8000; {read} }}\n"
              f"    location /b/ {{ proxy_pass http://127.0.0.1:8000; {read} }}\n}}\n")
    found = only(lint_config(tmp_path, config, gunicorn="bind = '127.0.0.1:8000'\n" + gunicorn),
                 "proxy-waits-past-app-timeout")
    assert [f.line for f in found] == ([3] if reported else [])
    if reported:
        assert "(and 1 more location of this server)" in found[0].message


@pytest.mark.parametrize("server, reported", [
    ("root /srv/app;\n    location / { try_files $uri @app; }", True),
    ("root /srv;\n    location / { try_files $uri @app; }", True),                       # the app is below it
    ("root /srv/app;\n    location /static/ { }\n    location / { proxy_pass http://127.0.0.1:8000; }", False),
    ("root /srv/app;\n    location / { try_files /$host/public/$uri @app; }", False),      # frappe's public folders
    ("root /srv/app/static;\n    location / { try_files $uri @app; }", False),
    ("root /srv/app;\n    location / { proxy_pass http://127.0.0.1:8000; }", False),
])
def test_root_serves_app_code_where_the_uri_names_the_apps_files(tmp_path, server, reported):
    config = (f"server {{\n    listen 80;\n    {server}\n"
              "    location @app { proxy_pass http://127.0.0.1:8000; }\n}\n")
    unit = ("[Service]\nWorkingDirectory=/srv/app\n"
            "ExecStart=/srv/app/env/bin/gunicorn app:app --bind 127.0.0.1:8000\n")
    found = only(lint_config(tmp_path, config, files={"app.service": unit}), "root-serves-app-code")
    assert bool(found) is reported, found


def test_a_uri_variable_right_after_the_host_begins_the_uri_part(tmp_path):
    """nutripatrol: `proxy_pass http://api:8000$request_uri;` goes to api:8000, so the paired
    uvicorn's forwarded-allow-ips is checked against it; the name is resolved per request (a
    variable in the URL), which no upstream block would do, so no pool is advised."""
    from confgen.nginx.model import split_proxy_url

    assert split_proxy_url("http://api:8000$request_uri") == ("http", "api:8000", "$request_uri")
    assert split_proxy_url("http://backend$uri$is_args$args").address == "backend"
    assert split_proxy_url("http://$upstream$urix").address == "$upstream$urix"     # another variable
    config = ("server {\n    listen 80;\n    resolver 127.0.0.11;\n    location /api/ {\n"
              "        proxy_pass http://api:8000$request_uri;\n"
              "        proxy_set_header X-Forwarded-Proto $scheme;\n    }\n}\n")
    result = lint_config(tmp_path, config, files={
        "Dockerfile": 'FROM python:3.12\nCMD ["uvicorn", "app.api:app", "--proxy-headers", "--host", "0.0.0.0", '
                      '"--port", "8000"]\n'})
    assert [f.line for f in only(result, "uvicorn-forwarded-untrusted")] == [6]
    assert only(result, "proxy-pass-no-upstream") == []


@pytest.mark.parametrize("target, command, sent", [
    ("http://127.0.0.1:8000", "gunicorn -b 127.0.0.1:8000 shop.wsgi", "127.0.0.1:8000"),          # Django
    ("http://unix:/run/app.sock", "uvicorn main:app --uds /run/app.sock", "localhost"),             # ASGI, a socket
    ("http://127.0.0.1:8000", "gunicorn -k uvicorn.workers.UvicornWorker -b 127.0.0.1:8000 main:app",
     "127.0.0.1:8000"),
    ("http://127.0.0.1:8000", "gunicorn -b 127.0.0.1:8000 app:app", None),                          # a Flask app: a note
])
def test_the_app_sees_the_upstream_host_where_what_it_does_with_it_is_known(tmp_path, target, command, sent):
    result = lint_config(tmp_path, f"server {{ listen 80; location / {{ proxy_pass {target}; }} }}\n",
                         app_command=command)
    found = only(result, "app-sees-upstream-host")
    assert bool(found) is (sent is not None)
    if sent is not None:
        assert f"`Host: {sent}`" in found[0].message
    else:
        assert any("sets no Host header" in note and "not reported" in note for note in result.notes)


def test_a_websocket_only_location_is_not_told_about_its_host(tmp_path):
    """fabrik's /ws/ to daphne: an upgraded connection builds no URL from Host."""
    config = ("server { listen 80; location /ws/ { proxy_pass http://channels_server; proxy_http_version 1.1;"
              " proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; } }\n"
              "upstream channels_server { server 127.0.0.1:8001; }\n")
    result = lint_config(tmp_path, config, app_command="daphne -b 127.0.0.1 -p 8001 fabrik.asgi:application")
    assert only(result, "app-sees-upstream-host") == []
    plain = config.replace(' proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";', "")
    assert only(lint_config(tmp_path / "plain", plain, app_command="daphne -b 127.0.0.1 -p 8001 fabrik.asgi:application"),
                "app-sees-upstream-host")


@pytest.mark.parametrize("name, meant", [
    ("Referrer-Options", "Referrer-Policy"),                 # byro
    ("Referer-Policy", "Referrer-Policy"),
    ("X-Frame-Option", "X-Frame-Options"),
    ("Strict-Transport-Policy", "Strict-Transport-Security"),
    ("X-XSS-Protections", "X-XSS-Protection"),
    ("Referrer-Policy", None), ("X-Robots-Tag", None), ("Cache-Control", None), ("X-Request-Id", None),
    ("Permissions-Policy-Report-Only", None), ("X-Content-Security-Policy", None), ("Feature-Policy", None),
])
def test_a_misspelled_security_header_is_reported_with_its_spelling(tmp_path, name, meant):
    result = lint_config(tmp_path, f'server {{ listen 80; add_header {name} "x" always; }}\n', select=["ALL"])
    found = only(result, "security-header-misspelled")
    assert bool(found) is (meant is not None)
    if meant:
        assert found[0].message.endswith(f"spelled {meant}")
