"""The four rules issue 25's held-out review asked for (heldout/REPORT.md, "Missed" 1-4):
log-format-redefined, cors-origin-reflected-with-credentials, add-header-content-length and
nested-location-serves-files. Each is checked for code, line, column and message, for the
near-misses it must leave alone, and against what the installed nginx really does in the case
its message describes (skipped without nginx unless CONFGEN_REQUIRE_NGINX=1)."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

import confgen
from confgen.lint.fixes import apply
from conftest import REQUIRE_NGINX, free_port, owns_listener, require_binary, scratch_nginx_conf
from lint_helpers import full, line_of, lint_config, only, write_tree
from test_nginx_model import _RecordingBackend

# Run as root, the workers stay root so they can read the test's private directory (as another
# user they get 403 there, not the answer the rule is about).
WORKERS = "root" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
LOG = "log-format-redefined"
CORS = "cors-origin-reflected-with-credentials"
LENGTH = "add-header-content-length"
NESTED = "nested-location-serves-files"


def findings(result, rule: str) -> list[tuple[str, int, int, str]]:
    """(code, line, column, message) of one rule's findings."""
    return [(f.code, f.line, f.col, f.message) for f in only(result, rule)]


def column_of(path: Path, line: int, needle: str) -> int:
    """The 1-based column where ``needle`` starts on ``line`` of ``path``."""
    return path.read_text().splitlines()[line - 1].index(needle) + 1


def nginx_t(nginx: str, root: Path, main: str = "nginx.conf") -> tuple[bool, str]:
    """The installed ``nginx -t`` on ``root/main`` (its includes relative to ``root``)."""
    result = subprocess.run([nginx, "-t", "-q", "-p", f"{root}/", "-c", str(root / main)],
                            capture_output=True, text=True, timeout=60)
    return result.returncode == 0, result.stdout + result.stderr


def head(root: Path) -> str:
    """The main-level lines of a config whose files all stay under ``root``."""
    return f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"


class Running:
    """The installed nginx on ``root/nginx.conf`` (a scratch_nginx_conf: in the foreground, its
    files under ``root``; prefix ``root``, so its compiled-in ``root html`` is ``root/html``),
    stopped on exit."""

    def __init__(self, nginx: str, root: Path, port: int):
        self.root, self.port = root, port
        self.process = subprocess.Popen([nginx, "-p", f"{root}/", "-c", str(root / "nginx.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def __enter__(self) -> "Running":
        if not owns_listener(self.process, self.port, time.monotonic() + 15):
            self.process.kill()
            raise AssertionError(f"nginx did not listen on {self.port}: {self.process.communicate()[1].decode()}")
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def curl(self, path: str, *headers: str) -> tuple[list[str], bytes]:
        """``curl -sv``: the response's header lines as curl shows them (``< Name: value``), and
        what curl kept of the body."""
        curl = require_binary("curl")
        args = [curl, "-sv", "--max-time", "10", f"http://127.0.0.1:{self.port}{path}"]
        for header in headers:
            args += ["-H", header]
        result = subprocess.run(args, capture_output=True, timeout=30)
        lines = [line[2:] for line in result.stderr.decode("latin-1").splitlines() if line.startswith("< ")]
        return [line for line in lines if line], result.stdout


def server_conf(root: Path, port: int, body: str) -> str:
    """A scratch nginx.conf with one server on 127.0.0.1:``port`` holding ``body``."""
    (root / "tmp").mkdir(exist_ok=True)
    server = (f"    server {{\n        listen 127.0.0.1:{port};\n"
              f"{textwrap.indent(textwrap.dedent(body).strip(), ' ' * 8)}\n    }}\n")
    return scratch_nginx_conf(root, server, user=WORKERS)


# ---------------------------------------------------------------------------------------------
# log-format-redefined


COMBINED = """
    events {}
    http {
        log_format combined '$remote_addr "$request" $status rt=$request_time';
        server { listen 80; location / { return 200; } }
    }
"""


def test_log_format_combined_is_reported_and_nginx_refuses_it(tmp_path, nginx_check):
    result = lint_config(tmp_path, COMBINED)
    conf = tmp_path / "nginx.conf"
    line = line_of(conf, "log_format combined")
    assert findings(result, LOG) == [("CG417", line, 5, (
        "log_format combined: nginx predefines the combined format, so this is a second definition and nginx "
        "refuses to start (duplicate \"log_format\" name \"combined\"); give this format another name and use "
        "that in access_log"))]
    ok, output = nginx_check(textwrap.dedent(COMBINED))
    assert not ok and 'duplicate "log_format" name "combined"' in output


def test_a_name_defined_in_two_included_files_is_reported_at_the_second(tmp_path):
    nginx = require_binary("nginx")
    write_tree(tmp_path, {
        "nginx.conf": head(tmp_path) + "http {\n    include conf.d/*.conf;\n}\n",
        "conf.d/a.conf": "log_format main '$remote_addr $status';\naccess_log off;\n",
        "conf.d/b.conf": "# the site's own format\nlog_format main '$remote_addr \"$request\" $status';\n"
                         "server { listen 127.0.0.1:8080; access_log off; location / { return 200; } }\n",
    })
    result = lint_config(tmp_path, (tmp_path / "nginx.conf").read_text())
    assert findings(result, LOG) == [("CG417", 2, 1, (
        f"log_format main is already defined at {tmp_path}/conf.d/a.conf:1: nginx refuses to start (duplicate "
        f"\"log_format\" name \"main\"); keep one, or give this one another name"))]
    assert only(result, LOG)[0].file == str(tmp_path / "conf.d/b.conf")
    ok, output = nginx_t(nginx, tmp_path)
    assert not ok and 'duplicate "log_format" name "main" in ' + str(tmp_path / "conf.d/b.conf") + ":2" in output


@pytest.mark.parametrize("formats", [
    "log_format main '$remote_addr';\n        log_format timed '$remote_addr $request_time';",
    # nginx compares the names as written: Main and main are two formats, Combined is not combined.
    "log_format Main '$remote_addr';\n        log_format main '$status';\n        log_format Combined '$status';",
])
def test_different_names_are_silent_and_nginx_starts(tmp_path, nginx_check, formats):
    config = textwrap.dedent(f"""
        events {{}}
        http {{
            {formats}
            server {{ listen 80; location / {{ return 200; }} }}
        }}
    """)
    assert only(lint_config(tmp_path, config), LOG) == []
    ok, output = nginx_check(config)
    assert ok, output


def _stream_module(nginx: str) -> str | None:
    """How to give the installed nginx the stream module: "" when it is built in, the
    ``load_module`` path of the dynamic one (CONFGEN_NGINX_STREAM_MODULE, else Debian's), or
    None when there is none."""
    built = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    if re.search(r"--with-stream(\s|$)", built):
        return ""
    for candidate in (os.environ.get("CONFGEN_NGINX_STREAM_MODULE"), "/usr/lib/nginx/modules/ngx_stream_module.so"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


STREAM = {
    # the stream module keeps its own table of formats, with nothing predefined
    "same-name-in-http-and-stream": ("http { log_format main '$remote_addr'; }\n"
                                     "stream { log_format main '$remote_addr'; %s }\n", True),
    "combined-in-stream": ("stream { log_format combined '$remote_addr'; %s }\n", True),
    # ... and refuses a name twice in it
    "twice-in-stream": ("stream { log_format a '$remote_addr';\n    log_format a '$status'; %s }\n", False),
}


@pytest.mark.parametrize("case", ["same-name-in-http-and-stream", "combined-in-stream", "twice-in-stream"])
def test_stream_has_its_own_table_of_formats_as_nginx_does(tmp_path, case):
    text, starts = STREAM[case]
    port = free_port()
    body = text % f"server {{ listen 127.0.0.1:{port}; return x; }}"
    result = lint_config(tmp_path, head(tmp_path) + body)
    reported = findings(result, LOG)
    if starts:
        assert reported == []
    else:
        line = line_of(tmp_path / "nginx.conf", "log_format a '$status'")
        assert reported == [("CG417", line, 5, (
            f"log_format a is already defined at {tmp_path}/nginx.conf:{line - 1}: nginx refuses to start "
            f"(duplicate \"log_format\" name \"a\"); keep one, or give this one another name"))]
    nginx = require_binary("nginx")
    module = _stream_module(nginx)
    if module is None:
        message = "the installed nginx has no stream module (Debian: libnginx-mod-stream; or set CONFGEN_NGINX_STREAM_MODULE to its .so)"
        if REQUIRE_NGINX:
            pytest.fail(message)  # .ci/run installs it
        pytest.skip(message)
    (tmp_path / "nginx.conf").write_text((f"load_module {module};\n" if module else "") + head(tmp_path) + body)
    ok, output = nginx_t(nginx, tmp_path)
    assert ok is starts, output
    if not starts:
        assert 'duplicate "log_format" name "a"' in output


# ---------------------------------------------------------------------------------------------
# cors-origin-reflected-with-credentials


def cors_message(how: str, credentials: str) -> str:
    return (f"Access-Control-Allow-Origin sends back the request's Origin, whatever it is ({how}), with "
            f"Access-Control-Allow-Credentials true ({credentials}): any web site the user visits can make "
            f"requests here with the user's cookies and read the answers; send back only the origins you trust "
            f"(a map of $http_origin listing them, default \"\")")


CORS_SITE = """
    map $http_origin $any_origin {
        default $http_origin;
    }
    map $http_origin $trusted_origin {
        default "";
        "https://app.example.com" $http_origin;
        ~^https://[a-z]+\\.example\\.com$ $http_origin;
    }
    server {
        listen 127.0.0.1:{port};
        add_header Access-Control-Allow-Origin $http_origin always;
        add_header Access-Control-Allow-Credentials true always;

        location /echo/ {
            add_header Access-Control-Allow-Origin $http_origin always;
            add_header Access-Control-Allow-Credentials true always;
            return 200 "account data";
        }
        location /mapped/ {
            add_header Access-Control-Allow-Origin $any_origin always;
            add_header Access-Control-Allow-Credentials true always;
            return 200 "account data";
        }
        location /set/ {
            set $origin $http_origin;
            add_header Access-Control-Allow-Origin $origin always;
            add_header Access-Control-Allow-Credentials true always;
            return 200 "account data";
        }
        location /inherited/ {
            return 200 "account data";
        }
        location /trusted/ {
            add_header Access-Control-Allow-Origin $trusted_origin always;
            add_header Access-Control-Allow-Credentials true always;
            return 200 "account data";
        }
        location /checked/ {
            add_header Vary Origin always;
            if ($http_origin ~* ^https://app\\.example\\.com$) {
                add_header Access-Control-Allow-Origin $http_origin always;
                add_header Access-Control-Allow-Credentials true always;
            }
            return 200 "account data";
        }
        location /refused/ {
            if ($http_origin !~* ^https://app\\.example\\.com$) {
                return 403;
            }
            add_header Access-Control-Allow-Origin $http_origin always;
            add_header Access-Control-Allow-Credentials true always;
            return 200 "account data";
        }
        location /no-credentials/ {
            add_header Access-Control-Allow-Origin $http_origin always;
            add_header Access-Control-Allow-Credentials True always;
            return 200 "public data";
        }
        location /star/ {
            add_header Access-Control-Allow-Origin * always;
            add_header Access-Control-Allow-Credentials true always;
            return 200 "public data";
        }
    }
"""


def first_after(path: Path, needle: str, after: str) -> int:
    """The line of the first ``needle`` after the first line holding ``after``."""
    start = line_of(path, after)
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line and n > start)


def echoing_lines(path: Path) -> list[int]:
    """The Access-Control-Allow-Origin lines of CORS_SITE the rule reports: the server's (in
    force in /inherited/), /echo/'s, /mapped/'s and /set/'s."""
    return [first_after(path, "Allow-Origin", after) for after in ("listen 127", "/echo/", "/mapped/", "/set/")]


def test_cors_echo_with_credentials_directly_through_map_set_and_inheritance(tmp_path):
    result = lint_config(tmp_path, full(CORS_SITE.replace("{port}", "8080")))
    conf = tmp_path / "nginx.conf"

    def at(needle: str, after: str) -> int:
        return first_after(conf, needle, after)

    server_origin, server_credentials = at("Allow-Origin", "listen 127"), at("Allow-Credentials", "listen 127")
    echo, mapped, set_ = at("Allow-Origin", "/echo/"), at("Allow-Origin", "/mapped/"), at("Allow-Origin", "/set/")
    map_line, set_line = line_of(conf, "$any_origin {"), line_of(conf, "set $origin")
    assert findings(result, CORS) == [
        ("CG626", server_origin, 5, cors_message("$http_origin", f"{conf}:{server_credentials}")),
        ("CG626", echo, 9, cors_message("$http_origin", f"{conf}:{echo + 1}")),
        ("CG626", mapped, 9, cors_message(f"$any_origin, whose map at {conf}:{map_line} has $http_origin as its "
                                          f"default", f"{conf}:{mapped + 1}")),
        ("CG626", set_, 9, cors_message(f"$origin, set to $http_origin at {conf}:{set_line}", f"{conf}:{set_ + 1}")),
    ]
    assert only(result, CORS)[0].severity == "error"
    # The guarded ones are origins-regex's business: a regex guard that is tight is silent there too.
    assert only(result, "origins-regex") == []


@pytest.mark.parametrize("server", [
    # every location sets its own add_header: the server's pair is dropped wherever a request ends
    """server {
        add_header Access-Control-Allow-Origin $http_origin;
        add_header Access-Control-Allow-Credentials true;
        location / { add_header Cache-Control no-store; proxy_pass http://127.0.0.1:8000; }
    }""",
    # the credentials are set outside, and dropped by the location's own add_header
    """server {
        add_header Access-Control-Allow-Credentials true;
        location / { add_header Access-Control-Allow-Origin $http_origin; proxy_pass http://127.0.0.1:8000; }
    }""",
    # a map keyed by another variable whose entries are fixed origins
    """map $host $site_origin { default "https://example.com"; api.example.com "https://app.example.com"; }
    server {
        location / {
            add_header Access-Control-Allow-Origin $site_origin;
            add_header Access-Control-Allow-Credentials true;
            proxy_pass http://127.0.0.1:8000;
        }
    }""",
    # a set inside the Origin check
    """server {
        location / {
            if ($http_origin ~ ^https://app\\.example\\.com$) { set $cors $http_origin; }
            add_header Access-Control-Allow-Origin $cors;
            add_header Access-Control-Allow-Credentials true;
            proxy_pass http://127.0.0.1:8000;
        }
    }""",
])
def test_cors_near_misses_are_silent(tmp_path, server):
    assert only(lint_config(tmp_path, full(server)), CORS) == []


@pytest.mark.parametrize("guard", [
    "if ($http_origin ~* evil) { return 403; }",           # a blocklist lets every other origin in
    "if ($http_origin = '') { return 403; }",              # ... as does refusing only requests without one
])
def test_a_blocklist_is_no_guard(tmp_path, guard):
    result = lint_config(tmp_path, full(f"""
        server {{
            location /api/ {{
                {guard}
                add_header Access-Control-Allow-Origin $http_origin;
                add_header Access-Control-Allow-Credentials true;
                proxy_pass http://127.0.0.1:8000;
            }}
        }}
    """))
    assert [f.line for f in only(result, CORS)] == [line_of(tmp_path / "nginx.conf", "Allow-Origin")]


def test_the_installed_nginx_echoes_any_origin_with_credentials_where_the_rule_says(tmp_path):
    nginx = require_binary("nginx")
    port = free_port()
    (tmp_path / "tmp").mkdir()
    site = textwrap.indent(textwrap.dedent(CORS_SITE).replace("{port}", str(port)), "    ")
    conf = scratch_nginx_conf(tmp_path, site, user=WORKERS)
    (tmp_path / "nginx.conf").write_text(conf)
    evil = "Origin: https://evil.example"
    with Running(nginx, tmp_path, port) as running:
        for path in ("/echo/", "/mapped/", "/set/", "/inherited/"):
            headers, body = running.curl(path, evil)
            assert "Access-Control-Allow-Origin: https://evil.example" in headers, (path, headers)
            assert "Access-Control-Allow-Credentials: true" in headers and body == b"account data"
        for path in ("/trusted/", "/checked/"):
            headers, _ = running.curl(path, evil)
            assert not [h for h in headers if h.startswith("Access-Control-Allow-Origin: https://evil")], headers
            headers, _ = running.curl(path, "Origin: https://app.example.com")
            assert "Access-Control-Allow-Origin: https://app.example.com" in headers, headers
        headers, body = running.curl("/refused/", evil)
        assert headers[0].startswith("HTTP/1.1 403") and b"account data" not in body
    result = lint_config(tmp_path, conf)
    assert [f.line for f in only(result, CORS)] == echoing_lines(tmp_path / "nginx.conf")


# ---------------------------------------------------------------------------------------------
# add-header-content-length


def length_message(drops: str = "") -> str:
    return ("add_header Content-Length sends a second Content-Length beside the one nginx computes, so the answer "
            f"carries two (conflicting when they differ) and clients may reject it or cut the body; remove it{drops}")


def test_content_length_is_reported_once_per_line_case_insensitively(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            add_header X-Served-By edge;
            location = /health { add_header Cache-Control no-store; add_header content-length 2; return 200 "ok"; }
            location = /empty { add_header Content-Length 0; return 200; }
            location = /preflight { add_header Content-Length 0 always; return 204; }
            location / {
                if ($request_method = OPTIONS) {
                    add_header Content-Length 0;
                    add_header Content-Type text/plain;
                    return 200;
                }
                proxy_pass http://127.0.0.1:8000;
            }
        }
    """))
    conf = tmp_path / "nginx.conf"
    health, empty = line_of(conf, "/health"), line_of(conf, "/empty")
    options = next(n for n, line in enumerate(conf.read_text().splitlines(), 1)
                   if line.strip() == "add_header Content-Length 0;")
    assert findings(result, LENGTH) == [
        ("CG625", health, column_of(conf, health, "add_header content-length"), length_message()),
        ("CG625", empty, column_of(conf, empty, "add_header"),
         length_message("; and, as this location's only add_header, it drops X-Served-By set further out")),
        ("CG625", options, column_of(conf, options, "add_header"),
         length_message("; and, as this if's add_headers are only of headers nginx sends itself, they drop "
                        "X-Served-By set further out")),
    ]
    # One finding per cause: where the level's add_headers are only Content-Length / Content-Type,
    # the drop is named on its first line only; the Content-Type line of the same if is
    # add-header-content-type's, without the drop, and add-header-inheritance leaves those levels
    # alone. It reports the levels whose other add_headers cause the drop (Cache-Control in
    # /health; the Content-Length beside return 204, which is no second one).
    [content_type] = only(result, "add-header-content-type")
    assert content_type.line == options + 1 and "drops" not in content_type.message
    assert [f.line for f in only(result, "add-header-inheritance")] == [health, line_of(conf, "/preflight")]
    assert only(result, "add-header-redefinition") == []


def test_the_fix_removes_the_line_only_where_the_level_keeps_its_own_add_headers(tmp_path):
    write_tree(tmp_path, {"nginx.conf": """
        server {
            add_header X-Served-By edge;
            location = /health {
                add_header Cache-Control no-store;
                add_header Content-Length 2;
                return 200 "ok";
            }
            location = /empty { add_header Content-Length 0; return 200; }
        }
    """})
    conf = tmp_path / "nginx.conf"
    plan = confgen.fix([str(conf)], select=[LENGTH], nginx_version="1.22.1")
    [edit] = plan.edits
    assert "add_header Content-Length 2;" in edit.old and not edit.new.strip()
    [(finding, reason)] = plan.unfixable     # /empty: its only add_header
    assert finding.rule == LENGTH and reason.startswith("it is this level's only add_header: removing it would let "
                                                        "the add_headers set further out apply here")
    apply.write(plan)
    assert "Content-Length 2" not in conf.read_text() and "add_header Cache-Control no-store;" in conf.read_text()
    assert [f.line for f in only(confgen.lint_project([str(conf)], select=["ALL"], nginx_version="1.22.1"),
                                 LENGTH)] == [line_of(conf, "/empty")]


def test_the_installed_nginx_sends_two_content_lengths(tmp_path):
    nginx = require_binary("nginx")
    port = free_port()
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "x.txt").write_text("hello\n")
    body = f"""
        location = /empty {{ add_header Content-Length 0; return 200; }}
        location = /text {{ add_header Content-Length 5; return 200 "hello world"; }}
        location = /x.txt {{ root {tmp_path}/files; add_header Content-Length 3; }}
        location = /preflight {{ add_header Content-Length 0 always; return 204; }}
    """
    (tmp_path / "nginx.conf").write_text(server_conf(tmp_path, port, body))
    with Running(nginx, tmp_path, port) as running:
        headers, _ = running.curl("/empty")
        assert [h for h in headers if h.lower().startswith("content-length")] == ["Content-Length: 0"] * 2
        headers, kept = running.curl("/text")
        assert [h for h in headers if h.startswith("Content-Length")] == ["Content-Length: 11", "Content-Length: 5"]
        # curl 7.88 takes the last one and cuts the body; a stricter client refuses the answer
        assert kept in (b"hello", b"")
        headers, kept = running.curl("/x.txt")
        assert [h for h in headers if h.startswith("Content-Length")] == ["Content-Length: 6", "Content-Length: 3"]
        assert kept in (b"hel", b"")
        headers, _ = running.curl("/preflight")   # no Content-Length of nginx's own with a 204
        assert headers[0].startswith("HTTP/1.1 204") and [h for h in headers if h.startswith("Content-Length")] == \
            ["Content-Length: 0"]
    result = lint_config(tmp_path, (tmp_path / "nginx.conf").read_text())
    lines = (tmp_path / "nginx.conf").read_text().splitlines()
    assert sorted(lines[f.line - 1].split("{")[0].strip() for f in only(result, LENGTH)) == \
        ["location = /empty", "location = /text", "location = /x.txt"]


# ---------------------------------------------------------------------------------------------
# nested-location-serves-files


def nested_message(conf: Path, parent: int, handler: str = "proxy_pass") -> str:
    return (f"this location is nested in the location at {conf}:{parent}, which passes requests to {handler}, "
            f"but has no content handler of its own: handlers are not inherited, so nginx serves these URLs from "
            f"disk, from its compiled-in default root html (no root is set), not from the app; add {handler} "
            f"here too, or move the location out")


def test_a_nested_location_without_a_handler_under_a_proxy_is_reported(tmp_path):
    result = lint_config(tmp_path, full("""
        server {
            location / {
                proxy_pass http://127.0.0.1:8000;
                location ~* \\.(?:js|xml)$ {
                    if ($uri != /sitemap.xml) { expires 30d; }
                }
            }
            location /app/ {
                include uwsgi_params;
                uwsgi_pass unix:/run/app.sock;
                location = /app/favicon.ico { access_log off; }
            }
        }
    """))
    conf = tmp_path / "nginx.conf"
    regex, favicon = line_of(conf, "location ~*"), line_of(conf, "favicon")
    assert findings(result, NESTED) == [
        ("CG418", regex, column_of(conf, regex, "location"), nested_message(conf, line_of(conf, "location / {"))),
        ("CG418", favicon, column_of(conf, favicon, "location"),
         nested_message(conf, line_of(conf, "location /app/"), "uwsgi_pass")),
    ]


@pytest.mark.parametrize("server", [
    # a root is configured: serving files there may be meant
    "server { root /srv/www; location / { proxy_pass http://127.0.0.1:8000; location ~ \\.xml$ { expires 1d; } } }",
    "server { location / { root /srv/www; proxy_pass http://127.0.0.1:8000; location ~ \\.xml$ { expires 1d; } } }",
    "server { location /s/ { alias /srv/s/; location ~ \\.js$ { expires 1d; } } }",
    # the nested location answers by itself
    "server { location / { proxy_pass http://a; location ~ \\.xml$ { expires 1d; proxy_pass http://a; } } }",
    "server { location / { proxy_pass http://a; location ~ \\.xml$ { try_files $uri @app; } } "
    "location @app { proxy_pass http://a; } }",
    "server { location / { proxy_pass http://a; location = /old { return 301 /new; } } }",
    "server { location / { proxy_pass http://a; location ~ /\\.ht { deny all; } } }",
    "server { location / { proxy_pass http://a; location ~ ^/x/ { rewrite ^/x/(.*)$ /$1 last; } } }",
    # what is not on disk goes back to the app
    "server { error_page 404 = @app; location / { proxy_pass http://a; location ~ \\.xml$ { expires 1d; } } "
    "location @app { proxy_pass http://a; } }",
    # the enclosing location does not proxy
    "server { location / { expires 1d; location ~ \\.xml$ { expires 30d; } } }",
])
def test_nested_near_misses_are_silent(tmp_path, server):
    assert only(lint_config(tmp_path, full(server)), NESTED) == []


def test_a_location_snippet_is_silent_the_server_including_it_may_set_root(tmp_path):
    snippet = "location / { proxy_pass http://127.0.0.1:8000; location ~ \\.xml$ { expires 1d; } }\n"
    assert only(lint_config(tmp_path, snippet, main="app-locations.conf"), NESTED) == []
    # a file of servers (conf.d, sites-enabled) is included by an http block that sets no root
    site = "server { " + snippet + "}\n"
    assert [f.line for f in only(lint_config(tmp_path, site, main="site.conf"), NESTED)] == [1]


def test_the_installed_nginx_serves_the_nested_location_from_its_html_directory(tmp_path):
    nginx = require_binary("nginx")
    backend = _RecordingBackend()
    port = free_port()
    body = f"""
        location / {{
            proxy_pass http://127.0.0.1:{backend.port};
            location ~* \\.xml$ {{
                expires 30d;
            }}
        }}
    """
    (tmp_path / "nginx.conf").write_text(server_conf(tmp_path, port, body))
    try:
        with Running(nginx, tmp_path, port) as running:
            headers, page = running.curl("/page")
            assert headers[0].startswith("HTTP/1.1 200") and page == b"ok"
            assert backend.requests[-1].startswith("GET /page ")
            seen = len(backend.requests)
            headers, _ = running.curl("/sitemap.xml")
            assert headers[0].startswith("HTTP/1.1 404")
            assert len(backend.requests) == seen          # never reached the app
        log = (tmp_path / "error.log").read_text()
        assert f'open() "{tmp_path}/html/sitemap.xml" failed (2: No such file or directory)' in log
    finally:
        backend.sock.close()
    result = lint_config(tmp_path, (tmp_path / "nginx.conf").read_text())
    conf = tmp_path / "nginx.conf"
    regex = line_of(conf, "location ~*")
    assert findings(result, NESTED) == [("CG418", regex, column_of(conf, regex, "location"),
                                         nested_message(conf, line_of(conf, "location / {")))]
