"""Edges of the suppression and directive rules (CG005 suppression-without-reason, CG006
suppression-unknown-rule, CG412 variable-defined-twice, CG413 proxy-setting-without-proxy-pass,
CG415 value-out-of-range): each rule's documented examples at their exact place, the near misses
on both sides of the boundary its code draws, and what its message says nginx does, checked on
the real nginx. Also the small helpers the other test_rules_edges_* files share (a documented
example linted, a place found by its text, a scratch nginx serving a config)."""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import socket
import subprocess
import time
from pathlib import Path

import pytest

import confgen
from confgen.lint.engine import get_rule
from conftest import free_port, owns_listener, require_binary, scratch_nginx_conf
from lint_helpers import lint_config, only, write_tree


# ---------------------------------------------------------------------------------------------
# Shared helpers


def parsed(result):
    """``result``, after checking nginx could read every file: a silent rule on a file that did
    not parse would prove nothing."""
    assert only(result, "syntax-error") == [], only(result, "syntax-error")
    return result


def linted(tmp_path: Path, nginx: str, **options):
    """lint_helpers.lint_config (every rule, nginx 1.22.1) on text that must parse."""
    return parsed(lint_config(tmp_path, nginx, **options))


def place(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """(line, column), both 1-based, where the ``nth`` occurrence of ``needle`` starts in ``text``:
    the expected place of a finding, read off the example itself rather than off confgen."""
    start = -1
    for _ in range(nth):
        start = text.index(needle, start + 1)
    return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1


def example_files(name: str, kind: str) -> dict[str, str]:
    """A rule's documented ``bad`` or ``good`` example as files: nginx.conf, and the app server's
    command (a Procfile) or gunicorn.conf.py the docstring pairs it with."""
    doc = get_rule(name).doc
    files = {"nginx.conf": doc.bad if kind == "bad" else doc.good}
    command = doc.app_command if kind == "bad" else (doc.good_app_command or doc.app_command)
    if command:
        files["Procfile"] = f"web: {command}\n"
    gunicorn = doc.gunicorn if kind == "bad" else (doc.good_gunicorn or doc.gunicorn)
    if gunicorn:
        files["gunicorn.conf.py"] = gunicorn
    return files


def check_documented_examples(root: Path, name: str, expected: list[tuple[str, int, list[str]]]) -> None:
    """The Bad example reports ``name`` exactly at the places ``expected`` names (a needle in the
    example, its occurrence, words its message must hold), with the rule's code and severity and
    no fix; the Good example does not report it; and ``confgen.fix`` plans no edit for it (the
    rule documents no fix, so --fix must leave the file alone)."""
    rule = get_rule(name)
    version = rule.doc.version or "1.22.1"
    found = []
    for kind in ("bad", "good"):
        write_tree(root / kind, example_files(name, kind))
        result = parsed(confgen.lint_project([str(root / kind / "nginx.conf")], select=["ALL"], nginx_version=version))
        found.append(only(result, name))
    bad, good = found
    places = [place(rule.doc.bad, needle, nth) for needle, nth, _ in expected]
    assert [(f.line, f.col) for f in bad] == places, bad
    for finding, (_, _, words) in zip(bad, expected):
        assert (finding.code, finding.rule, finding.severity) == (rule.code, name, rule.severity)
        assert finding.file == str(root / "bad" / "nginx.conf")
        assert finding.fix is None and rule.doc.fix is None
        for words_part in words:
            assert words_part in finding.message, (words_part, finding.message)
    assert good == [], good
    plan = confgen.fix([str(root / "bad" / "nginx.conf")], unsafe=True, select=[name], nginx_version=version)
    assert plan.edits == [] and plan.diff() == ""


@contextlib.contextmanager
def nginx_serving(root: Path, http_body: str):
    """The real nginx in the foreground with ``http_body`` (``{port}`` and ``{root}`` filled in)
    inside a scratch config under ``root``; yields (port, the prefix directory, the config's path).
    A port another test took between probing and binding is tried again on another one."""
    nginx = require_binary("nginx")
    user = pwd.getpwuid(os.getuid()).pw_name   # workers that can read the test's own directories
    for attempt in range(3):
        port, prefix = free_port(), root / f"nginx{attempt}"
        (prefix / "tmp").mkdir(parents=True)
        conf = prefix / "nginx.conf"
        body = http_body.replace("{port}", str(port)).replace("{root}", str(prefix))
        conf.write_text(scratch_nginx_conf(prefix, body, user=user))
        process = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(conf)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if owns_listener(process, port, time.monotonic() + 15):
                yield port, prefix, conf
                return
        finally:
            process.terminate()
            process.wait(timeout=10)
    raise AssertionError("nginx could not take a port in three tries")


def lint_file(path: Path, **options):
    """Every rule on a config written where it is run from (the real-nginx tests lint what they run)."""
    return parsed(confgen.lint_project([str(path)], select=["ALL"], nginx_version="1.22.1", **options))


def fetch(port: int, path: str, headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of one GET on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# ---------------------------------------------------------------------------------------------
# The documented examples


@pytest.mark.parametrize("name, expected", [
    ("suppression-without-reason", [("# confgen: disable=gzip-level-high", 1, ["disable=gzip-level-high", "no reason",
                                                                            "-- why"])]),
    ("suppression-unknown-rule", [("# confgen: disable=gzip-too-high", 1, ["'gzip-too-high'", "not a rule",
                                                                         "nothing is suppressed"])]),
    ("variable-defined-twice", [("map $http_upgrade $connection_upgrade", 2, ["$connection_upgrade",
                                                                              "map at", "nginx.conf:1",
                                                                              "uses only this later one"])]),
    ("proxy-setting-without-proxy-pass", [("proxy_set_header", 1, ["proxy_set_header only configures proxy_pass",
                                                                   "uwsgi_pass", "nginx.conf:4", "no effect",
                                                                   "uwsgi_param"])]),
    ("value-out-of-range", [("listen 80800", 1, ["port 80800", "outside 1-65535", "invalid port"]),
                            ("client_max_body_size 999999999999g", 1,
                             ["999999999999g", "more bytes than nginx can hold", "refuses to start"])]),
])
def test_documented_bad_example_fires_at_its_directive_and_good_example_is_silent(tmp_path, name, expected):
    check_documented_examples(tmp_path, name, expected)


# ---------------------------------------------------------------------------------------------
# CG005 suppression-without-reason


@pytest.mark.parametrize("comment", [
    "# confgen: disable=gzip-level-high --",        # the separator, then nothing
    "# confgen: disable=gzip-level-high --   ",
    "# confgen:disable=gzip-level-high",            # no space after the colon: still a suppression
])
def test_suppression_without_reason_when_the_reason_after_the_dashes_is_empty(tmp_path, comment):
    result = linted(tmp_path, f"server {{\n    {comment}\n    gzip_comp_level 9;\n}}\n")
    [finding] = only(result, "suppression-without-reason")
    assert (finding.code, finding.line, finding.col) == ("CG005", 2, 5)
    assert "disable=gzip-level-high" in finding.message and "gives no reason" in finding.message
    # It is still a suppression: the rule it names stays silent on the next statement.
    assert only(result, "gzip-level-high") == []


@pytest.mark.parametrize("text, reported_line", [
    # A reason given, on its own line, after the statement, or for the whole file: nothing to say.
    ("server {\n    # confgen: disable=gzip-level-high -- precompressed\n    gzip_comp_level 9;\n}\n", None),
    ("server {\n    gzip_comp_level 9;  # confgen: disable=gzip-level-high -- precompressed\n}\n", None),
    ("# confgen: disable-file=gzip-level-high -- precompressed\nserver { gzip_comp_level 9; }\n", None),
    # disable-file needs a reason as much as disable does.
    ("# confgen: disable-file=gzip-level-high\nserver { gzip_comp_level 9; }\n", 1),
    # Words that merely mention confgen are not a suppression at all.
    ("# confgen: see docs/rules.md\nserver { gzip_comp_level 9; }\n", None),
])
def test_a_reason_after_the_dashes_is_what_silences_suppression_without_reason(tmp_path, text, reported_line):
    found = only(linted(tmp_path, text), "suppression-without-reason")
    assert [f.line for f in found] == ([] if reported_line is None else [reported_line])


@pytest.mark.parametrize("line, column", [
    ("    gzip_comp_level 9;  # confgen: disable=gzip-level-high", 25),       # after a statement: the comment's
    ("    # confgen: disable=gzip-level-high", 5),
    # A quoted copy of the words before the real comment is not where the comment starts.
    ('    add_header X-Note "# confgen: disable=gzip-level-high";  # confgen: disable=gzip-level-high', 62),
])
def test_suppression_findings_point_at_the_comment_itself(tmp_path, line, column):
    nginx = f"server {{\n{line}\n    gzip_comp_level 9;\n}}\n"
    assert line.rindex("# confgen") + 1 == column
    result = linted(tmp_path / "reason", nginx)
    [finding] = only(result, "suppression-without-reason")
    assert (finding.line, finding.col) == (2, column)
    # suppression-unknown-rule points at the comment the same way.
    line = line.replace("disable=gzip-level-high", "disable=gzip-too-high -- why")
    unknown = linted(tmp_path / "unknown", f"server {{\n{line}\n}}\n")
    assert [(f.line, f.col) for f in only(unknown, "suppression-unknown-rule")] == [(2, line.rindex("# confgen") + 1)]


def test_suppression_without_reason_after_a_statement_in_gunicorn_conf_py_points_at_the_comment(tmp_path):
    gunicorn = 'bind = "127.0.0.1:8000"\nmax_requests = 1000  # confgen: disable=max-requests-no-jitter\n'
    result = linted(tmp_path, "location / { proxy_pass http://127.0.0.1:8000; }\n", gunicorn=gunicorn)
    [finding] = only(result, "suppression-without-reason")
    assert (finding.file, finding.line, finding.col) == (str(tmp_path / "gunicorn.conf.py"), 2, 22)


def test_suppression_text_inside_a_quoted_argument_is_not_a_comment(tmp_path):
    # nginx reads "#" inside quotes as part of the value: no comment, so no suppression to judge,
    # and gzip-level-high is not silenced by it.
    result = linted(tmp_path, 'server {\n    add_header X-Note "# confgen: disable=gzip-level-high";\n'
                              '    gzip_comp_level 9;\n}\n')
    assert only(result, "suppression-without-reason") == []
    assert [f.line for f in only(result, "gzip-level-high")] == [3]


def test_suppression_without_reason_in_gunicorn_conf_py_is_reported_in_that_file(tmp_path):
    nginx = "location / { proxy_pass http://127.0.0.1:8000; }\n"
    gunicorn = ('bind = "127.0.0.1:8000"\n'
                'note = "# confgen: disable=max-requests-no-jitter"   # a string, not a comment\n'
                "max_requests = 1000  # confgen: disable=max-requests-no-jitter\n")
    result = linted(tmp_path, nginx, gunicorn=gunicorn)
    [finding] = only(result, "suppression-without-reason")
    assert (finding.file, finding.line) == (str(tmp_path / "gunicorn.conf.py"), 3)
    assert only(result, "max-requests-no-jitter") == []   # still suppressed


# ---------------------------------------------------------------------------------------------
# CG006 suppression-unknown-rule


@pytest.mark.parametrize("names", ["gzip-level-high", "GZIP-LEVEL-HIGH", "CG404", "cg404", " gzip-level-high , CG404 "])
def test_a_rule_named_by_code_or_by_name_in_any_case_is_known(tmp_path, names):
    result = linted(tmp_path, f"server {{\n    gzip_comp_level 9;  # confgen: disable={names} -- precompressed\n}}\n")
    assert only(result, "suppression-unknown-rule") == []
    assert only(result, "gzip-level-high") == []       # and it suppresses


def test_an_unknown_name_beside_a_known_one_is_reported_and_the_known_one_still_suppresses(tmp_path):
    result = linted(tmp_path, "server {\n    # confgen: disable=gzip-level-high,gzip-too-high -- precompressed\n"
                              "    gzip_comp_level 9;\n}\n")
    [finding] = only(result, "suppression-unknown-rule")
    assert (finding.code, finding.line, finding.col) == ("CG006", 2, 5)
    assert "'gzip-too-high'" in finding.message and "gzip-level-high" not in finding.message
    assert only(result, "gzip-level-high") == [] and only(result, "suppression-without-reason") == []


def test_a_suppression_naming_no_rule_is_reported(tmp_path):
    result = linted(tmp_path, "server {\n    gzip_comp_level 9;  # confgen: disable= -- precompressed\n}\n")
    [finding] = only(result, "suppression-unknown-rule")
    assert finding.line == 2 and "names no rule" in finding.message
    assert [f.line for f in only(result, "gzip-level-high")] == [2]   # nothing was suppressed


def test_the_finding_a_misspelled_suppression_meant_to_silence_is_still_reported(tmp_path):
    # The rule's claim: a misspelled name suppresses nothing. The Bad example's gzip_comp_level 9
    # is reported as if the comment were not there.
    bad = get_rule("suppression-unknown-rule").doc.bad
    result = linted(tmp_path, bad)
    assert [(f.line, f.col) for f in only(result, "gzip-level-high")] == [place(bad, "gzip_comp_level 9")]
    assert only(result, "suppression-unknown-rule")[0].line == 1


# ---------------------------------------------------------------------------------------------
# CG412 variable-defined-twice


@pytest.mark.parametrize("later, kind", [
    ("geo $x { default 0; }", "geo"),
    ("split_clients $remote_addr $x { 50% a; * b; }", "split_clients"),
    ("map $b $X { default 0; }", "map"),                   # variable names are case-insensitive
])
def test_any_table_defining_the_variable_again_is_reported_at_the_later_one(tmp_path, later, kind):
    result = linted(tmp_path, f"http {{\n    map $a $x {{ default 1; }}\n    {later}\n}}\n")
    [finding] = only(result, "variable-defined-twice")
    assert (finding.line, finding.col) == (3, 5)
    assert f"already defined by the map at {tmp_path / 'nginx.conf'}:2" in finding.message
    assert finding.message.startswith("$x ")


def test_a_definition_in_an_included_file_counts_and_every_later_one_is_reported(tmp_path):
    result = linted(tmp_path, "http {\n    include maps/*.conf;\n    map $a $x { default 1; }\n"
                              "    map $c $x { default 3; }\n}\n",
                    files={"maps/first.conf": "map $b $x {\n    default 2;\n}\n"})
    found = only(result, "variable-defined-twice")
    assert [(f.file, f.line) for f in found] == [(str(tmp_path / "nginx.conf"), 3), (str(tmp_path / "nginx.conf"), 4)]
    assert all(f"{tmp_path / 'maps/first.conf'}:1" in f.message for f in found)


@pytest.mark.parametrize("nginx", [
    "http {\n    map $a $x { default 1; }\n    map $a $y { default 1; }\n}\n",            # two variables
    "http {\n    map $a $x { default 1; }\n    server { set $x 2; }\n}\n",                # set is no table
    "http {\n    map $a $x { default 1; }\n    map $x $y { default 2; }\n}\n",            # read, not defined
])
def test_other_variables_and_other_ways_of_touching_one_are_not_reported(tmp_path, nginx):
    assert only(linted(tmp_path, nginx), "variable-defined-twice") == []


def test_nginx_uses_only_the_later_of_two_maps(tmp_path):
    # The message's claim, on the real nginx: the first map's entry never applies.
    body = ("    map $uri $which {\n        default first;\n    }\n    map $uri $which {\n        default second;\n"
            "    }\n    server {\n        listen 127.0.0.1:{port};\n        location / { return 200 \"$which\"; }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        status, _, answer = fetch(port, "/")
        [finding] = only(lint_file(conf), "variable-defined-twice")
    assert (status, answer) == (200, b"second")
    maps = [number for number, line in enumerate(conf.read_text().splitlines(), 1) if line == "    map $uri $which {"]
    assert finding.line == maps[1] and f"{conf}:{maps[0]}" in finding.message


@pytest.mark.parametrize("nginx, reported", [
    # stream and http keep their own variables: one map in each defines two variables.
    ("stream {\n    map $remote_addr $x { default a; }\n}\nhttp {\n    map $uri $x { default b; }\n}\n", []),
    ("http {\n    map $uri $x { default b; }\n}\nstream {\n    geo $x { default a; }\n}\n", []),
    # Twice within one of them is still reported, each world on its own.
    ("stream {\n    map $remote_addr $x { default a; }\n    map $server_port $x { default c; }\n}\n"
     "http {\n    map $uri $x { default b; }\n}\n", [(3, 5)]),
    ("stream {\n    map $remote_addr $x { default a; }\n}\nhttp {\n    map $uri $x { default b; }\n"
     "    map $host $x { default c; }\n}\n", [(6, 5)]),
])
def test_variable_defined_twice_only_within_http_or_within_stream(tmp_path, nginx, reported):
    found = only(linted(tmp_path, nginx), "variable-defined-twice")
    assert [(f.line, f.col) for f in found] == reported
    if reported:
        assert f"{tmp_path / 'nginx.conf'}:" in found[0].message and "uses only this later one" in found[0].message


STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")


def test_a_stream_map_and_an_http_map_of_one_name_are_two_variables_on_nginx(tmp_path):
    nginx = require_binary("nginx")
    if not STREAM_MODULE.exists():
        pytest.skip("this nginx has no stream module to load")
    http_port, stream_port = free_port(), free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"load_module {STREAM_MODULE};\ndaemon off;\npid {tmp_path}/nginx.pid;\n"
                    f"error_log {tmp_path}/error.log;\n"
                    f"events {{}}\nstream {{\n    map $remote_addr $which {{ default stream; }}\n"
                    f"    server {{ listen 127.0.0.1:{stream_port}; return \"$which\"; }}\n}}\n"
                    f"http {{\n    access_log off;\n    client_body_temp_path {tmp_path};\n"
                    f"    map $uri $which {{ default http; }}\n"
                    f"    server {{ listen 127.0.0.1:{http_port}; location / {{ return 200 \"$which\"; }} }}\n}}\n")
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not owns_listener(process, http_port, time.monotonic() + 15):
            pytest.skip("another process took the port")
        answer = fetch(http_port, "/")[2]
        with socket.create_connection(("127.0.0.1", stream_port), timeout=10) as stream:
            streamed = stream.recv(100)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (answer, streamed) == (b"http", b"stream")
    assert only(lint_file(conf), "variable-defined-twice") == []


# ---------------------------------------------------------------------------------------------
# CG413 proxy-setting-without-proxy-pass


@pytest.mark.parametrize("handler", ["uwsgi_pass unix:/run/app.sock", "fastcgi_pass unix:/run/php.sock",
                                     "scgi_pass 127.0.0.1:4000", "grpc_pass grpc://127.0.0.1:9000"])
def test_every_other_pass_module_makes_proxy_settings_dead(tmp_path, handler):
    nginx = (f"server {{\n    location / {{\n        {handler};\n        proxy_read_timeout 30s;\n"
             f"        proxy_set_header X-A 1;\n    }}\n}}\n")
    [finding] = only(linted(tmp_path, nginx), "proxy-setting-without-proxy-pass")
    name = handler.split()[0]
    # One finding for the location, at its first proxy_* line, naming every setting once.
    assert (finding.line, finding.col) == (4, 9)
    assert finding.message.startswith("proxy_read_timeout, proxy_set_header only configure proxy_pass")
    assert f"hands requests to {name} ({tmp_path / 'nginx.conf'}:3)" in finding.message and "no effect" in finding.message


@pytest.mark.parametrize("nginx", [
    # A nested location that proxies inherits the outer settings: they do take effect there.
    "server {\n    location / {\n        proxy_set_header X-A 1;\n        uwsgi_pass unix:/run/app.sock;\n"
    "        location /api/ { proxy_pass http://127.0.0.1:8000; }\n    }\n}\n",
    # Set at the server level for the locations that proxy; this one uses uwsgi_pass.
    "server {\n    proxy_set_header X-A 1;\n    location / { uwsgi_pass unix:/run/app.sock; }\n"
    "    location /api/ { proxy_pass http://127.0.0.1:8000; }\n}\n",
    # An if in the same location that proxies.
    "server {\n    location / {\n        if ($arg_x) { proxy_pass http://127.0.0.1:8000; }\n"
    "        uwsgi_pass unix:/run/app.sock;\n        proxy_set_header X-A 1;\n    }\n}\n",
    # The module's own directives are the right ones.
    "server {\n    location / {\n        uwsgi_pass unix:/run/app.sock;\n        uwsgi_param HTTP_X_A 1;\n"
    "        uwsgi_read_timeout 30s;\n    }\n}\n",
])
def test_proxy_settings_that_reach_a_proxy_pass_are_not_reported(tmp_path, nginx):
    assert only(linted(tmp_path, nginx), "proxy-setting-without-proxy-pass") == []


def test_proxy_settings_from_an_included_file_are_reported_where_they_are_written(tmp_path):
    result = linted(tmp_path, "server {\n    location / {\n        uwsgi_pass unix:/run/app.sock;\n"
                              "        include forwarded.conf;\n    }\n}\n",
                    files={"forwarded.conf": "# headers for the app\nproxy_set_header X-Forwarded-Proto $scheme;\n"})
    [finding] = only(result, "proxy-setting-without-proxy-pass")
    assert (finding.file, finding.line, finding.col) == (str(tmp_path / "forwarded.conf"), 2, 1)
    assert f"uwsgi_pass ({tmp_path / 'nginx.conf'}:3)" in finding.message


@pytest.mark.parametrize("handler, advice", [
    ("uwsgi_pass unix:/run/app.sock", "use uwsgi_param / uwsgi_* instead"),
    ("fastcgi_pass unix:/run/php.sock", "use fastcgi_param / fastcgi_* instead"),
    ("scgi_pass 127.0.0.1:4000", "use scgi_param / scgi_* instead"),
    # There is no grpc_param: grpc passes headers with grpc_set_header (nginx -t below).
    ("grpc_pass grpc://127.0.0.1:9000", "use grpc_set_header / grpc_* instead"),
])
def test_proxy_setting_without_proxy_pass_names_each_modules_own_directive(tmp_path, handler, advice):
    # Several proxy_set_header lines are one name: "configures", as for one line.
    nginx = (f"server {{\n    location / {{\n        {handler};\n        proxy_set_header X-A 1;\n"
             f"        proxy_set_header X-B 2;\n    }}\n}}\n")
    [finding] = only(linted(tmp_path, nginx), "proxy-setting-without-proxy-pass")
    assert (finding.line, finding.col) == (4, 9)
    assert finding.message.startswith("proxy_set_header only configures proxy_pass, but this location")
    assert finding.message.endswith(advice) and "grpc_param" not in finding.message


def test_nginx_has_grpc_set_header_and_no_grpc_param(nginx_check):
    def config(line: str) -> str:
        return (f"{NGINX_T_TOP}events {{}}\nhttp {{\n    server {{\n        listen 127.0.0.1:8080;\n"
                f"        location / {{\n            grpc_pass grpc://127.0.0.1:9000;\n            {line}\n"
                f"        }}\n    }}\n}}\n")
    ok, output = nginx_check(config("grpc_param X-A 1;"))
    assert not ok and 'unknown directive "grpc_param"' in output, output
    ok, output = nginx_check(config("grpc_set_header X-A 1;"))
    assert ok, output


def test_proxy_settings_from_a_file_outside_the_tree_are_reported_at_the_include_in_the_users_file(tmp_path):
    # As nginx's own /etc/nginx/proxy_params, read from this machine: the fix is in the user's
    # file (drop the include), not in the system file, so the finding points at the include.
    system = tmp_path / "system"
    system.mkdir()
    (system / "proxy_params").write_text("# stock\nproxy_set_header Host $host;\n"
                                         "proxy_set_header X-Real-IP $remote_addr;\n")
    nginx = (f"server {{\n    location / {{\n        include {system / 'proxy_params'};\n"
             f"        uwsgi_pass 127.0.0.1:3031;\n    }}\n}}\n")
    result = linted(tmp_path / "site", nginx)
    [finding] = only(result, "proxy-setting-without-proxy-pass")
    assert (finding.file, finding.line, finding.col) == (str(tmp_path / "site" / "nginx.conf"), 3, 9)
    assert finding.message.startswith(f"proxy_set_header only configures proxy_pass (from {system / 'proxy_params'}:2, "
                                      f"included here)")
    # Through an include of an include, too: the one in the user's file.
    (system / "outer.conf").write_text(f"include {system / 'proxy_params'};\n")
    nested = nginx.replace(str(system / "proxy_params"), str(system / "outer.conf"))
    [finding] = only(linted(tmp_path / "nested", nested), "proxy-setting-without-proxy-pass")
    assert (finding.file, finding.line, finding.col) == (str(tmp_path / "nested" / "nginx.conf"), 3, 9)
    # A file in the tree is still reported where it is written (the test above).


# ---------------------------------------------------------------------------------------------
# CG415 value-out-of-range


# (line, reported): the boundaries of each kind of number, in modules the existing cases leave out.
RANGE_CASES = [
    ("listen *:70000;", True), ("listen 0.0.0.0:0;", True), ("listen [::]:65536;", True),
    ("listen 127.0.0.1:65535;", False), ("listen 1;", False),
    ("uwsgi_read_timeout 9223372036854776s;", True), ("uwsgi_read_timeout 9223372036854775s;", False),
    ("grpc_buffer_size 99999999999999999999k;", True), ("grpc_buffer_size 16k;", False),
    ("large_client_header_buffers 4 99999999999999999999k;", True), ("large_client_header_buffers 4 16k;", False),
    ("client_body_buffer_size 8796093022208m;", True), ("client_body_buffer_size 8796093022207m;", False),
    ("sendfile_max_chunk 99999999999999999999;", True),
    ("limit_rate $rate_from_a_map;", False),          # a variable (nginx 1.17+): nothing to check
]


@pytest.mark.parametrize("line, reported", RANGE_CASES)
def test_value_out_of_range_at_both_sides_of_each_limit(tmp_path, line, reported):
    nginx = (f"events {{}}\nhttp {{\n    map $arg_r $rate_from_a_map {{ default 1k; }}\n    server {{\n"
             f"        {line}\n        location / {{ return 204; }}\n    }}\n}}\n")
    found = only(linted(tmp_path, nginx), "value-out-of-range")
    assert bool(found) is reported, found
    if reported:
        [finding] = found
        assert (finding.code, finding.severity, finding.line, finding.col) == ("CG415", "error", 5, 9)
        assert finding.message.startswith(line.split()[0]) and "nginx refuses to start" in finding.message
        assert ("invalid port" if line.startswith("listen") else "invalid value") in finding.message


# Logs and pid under nginx_check's prefix, so `nginx -t` runs unprivileged too.
NGINX_T_TOP = "error_log stderr;\npid nginx.pid;\n"


@pytest.mark.parametrize("line, reported", RANGE_CASES)
def test_nginx_refuses_exactly_the_values_reported_out_of_range(nginx_check, tmp_path, line, reported):
    config = (f"{NGINX_T_TOP}events {{}}\nhttp {{\n    map $arg_r $rate_from_a_map {{ default 1k; }}\n"
              f"    server {{\n        {line}\n        location / {{ return 204; }}\n    }}\n}}\n")
    ok, output = nginx_check(config)
    # A port nginx may not bind here is not the question, only a value it rejects when reading.
    refused = not ok and ("invalid" in output)
    assert refused is reported, output
    # ... and value-out-of-range reports exactly what nginx refuses, on the same text.
    assert bool(only(linted(tmp_path / "lint", config), "value-out-of-range")) is refused


def test_nginx_refuses_the_documented_bad_example_and_starts_with_the_good_one(nginx_check):
    doc = get_rule("value-out-of-range").doc
    ok, output = nginx_check(f"{NGINX_T_TOP}events {{}}\nhttp {{\n{doc.bad}}}\n")
    assert not ok and 'invalid port in "80800"' in output, output
    # Without the port, the size is refused too, as the second finding says.
    ok, output = nginx_check(f"{NGINX_T_TOP}events {{}}\nhttp {{\n{doc.bad.replace('listen 80800;', 'listen 8080;')}}}\n")
    assert not ok and '"client_max_body_size" directive invalid value' in output, output
    ok, output = nginx_check(f"{NGINX_T_TOP}events {{}}\nhttp {{\n{doc.good}}}\n")
    assert ok, output
