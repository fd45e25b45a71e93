"""`--fix` on configs written the way people write them: several directives on one line, several
proxy_set_header in a block, tabs, comments after directives, map and Lua blocks, files without
a final newline, a gunicorn.conf.py with computed values or a syntax error. Each case checks the
exact text written, that the fixed finding is gone, and that --diff and --fix agree."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import confgen
from confgen.cli import main
from confgen.lint.fixes import apply

POOL = "upstream app { server 127.0.0.1:8000; keepalive 16; }\n"


def tree(tmp_path: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip("\n") if "\n" in text[:1] else text, "utf-8")
    return str(tmp_path / "nginx.conf")


def fixed(path: str, *select: str, unsafe: bool = False, version: str = "1.22.1") -> str:
    run = apply.fix_in_place([path], unsafe=unsafe, select=list(select) or ["ALL"], nginx_version=version)
    assert not [r for _, r in run.unfixable if r.startswith("internal error")]
    return Path(path).read_text("utf-8")


def rules_after(path: str, version: str = "1.22.1") -> set[str]:
    return {f.rule for f in confgen.lint_project([path], select=["ALL"], nginx_version=version).findings}


def test_a_one_line_location_gets_each_directive_beside_the_right_one(tmp_path):
    """The issue's case: the Connection fix landed on `proxy_set_header Host` of the same line."""
    path = tree(tmp_path, {"nginx.conf": POOL + "server { location / { proxy_pass http://app; "
                                                  "proxy_set_header Host $host; } }\n"})
    text = fixed(path, "keepalive-needs-http11", "keepalive-connection-header")
    assert text == POOL + ('server { location / { proxy_pass http://app; proxy_http_version 1.1; '
                           'proxy_set_header Host $host; proxy_set_header Connection ""; } }\n')
    assert not {"keepalive-needs-http11", "keepalive-connection-header"} & rules_after(path)


def test_diff_and_fix_count_and_change_the_same(tmp_path):
    path = tree(tmp_path, {"nginx.conf": POOL + "server { location / { proxy_pass http://app; "
                                                  "proxy_set_header Host $host; } }\n"})
    before = Path(path).read_text()
    preview = CliRunner().invoke(main, ["lint", path, "--diff", "--nginx-version", "1.22.1"])
    assert Path(path).read_text() == before
    done = CliRunner().invoke(main, ["lint", path, "--fix", "--nginx-version", "1.22.1"])
    would = preview.stderr.splitlines()[-1]
    did = done.stderr.splitlines()[0]
    assert would.split("would fix ")[1].split(" finding")[0] == did.split("fixed ")[1].split(" finding")[0], (would, did)
    # And the diff is exactly the change --fix made.
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "nginx.conf").write_text(before)
    patch = subprocess.run(["patch", "-p0", "--batch", "--silent"], input=preview.stdout.replace(f"{tmp_path}/", ""),
                           capture_output=True, text=True, cwd=copy, timeout=60)
    assert patch.returncode == 0, patch.stderr
    assert (copy / "nginx.conf").read_text() == Path(path).read_text()


def test_connection_is_added_once_when_two_rules_ask_for_it(tmp_path):
    path = tree(tmp_path, {"nginx.conf": "upstream app { server 127.0.0.1:8000; }\n"
                                         "server {\n    location / {\n        proxy_pass http://app;\n"
                                         "        proxy_set_header Host $host;\n    }\n}\n",
                           "Procfile": "web: gunicorn app:app --bind 127.0.0.1:8000 --threads 4 --keep-alive 75\n"})
    text = fixed(path, "upstream-no-keepalive", "keepalive-connection-header", "keepalive-needs-http11", unsafe=True)
    assert text.count('proxy_set_header Connection "";') == 1 and text.count("proxy_http_version 1.1;") == 1
    assert re.search(r"upstream app \{ server 127.0.0.1:8000; keepalive \d+; \}", text), text


def test_several_proxy_set_header_in_a_block_the_fix_goes_after_the_last(tmp_path):
    path = tree(tmp_path, {"nginx.conf": POOL + "server {\n    location / {\n        proxy_pass http://app;\n"
                                                  "        proxy_http_version 1.1;\n"
                                                  "        proxy_set_header Host $host;  # the name asked for\n"
                                                  "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                                                  "    }\n}\n"})
    text = fixed(path, "keepalive-connection-header")
    assert ("        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            '        proxy_set_header Connection "";\n    }') in text
    assert "proxy_set_header Host $host;  # the name asked for\n" in text


def test_tabs_and_comments_after_directives_are_kept(tmp_path):
    path = tree(tmp_path, {"nginx.conf": POOL + "server {\n\tlocation / {\n\t\tproxy_pass http://app;\t# app\n"
                                                  "\t\tproxy_http_version 1.0; # old\n\t}\n}\n"})
    text = fixed(path, "keepalive-needs-http11", "keepalive-connection-header")
    assert "\t\tproxy_http_version 1.1; # old\n" in text
    assert '\t\tproxy_pass http://app;\t# app\n\t\tproxy_set_header Connection "";\n' in text


def test_a_shared_http11_directive_is_not_rewritten_for_a_location_it_was_not_about(tmp_path):
    """proxy_http_version 1.0 at server level also serves a location of another (unpooled)
    service: the fix writes 1.1 in the pooled location, and the other keeps 1.0."""
    path = tree(tmp_path, {"nginx.conf": POOL + "upstream other { server 127.0.0.1:9000; }\n"
                                                  "server {\n    proxy_http_version 1.0;\n"
                                                  "    location / { proxy_pass http://app; proxy_set_header Connection \"\"; }\n"
                                                  "    location /old/ { proxy_pass http://other; }\n}\n"})
    text = fixed(path, "keepalive-needs-http11")
    assert "    proxy_http_version 1.0;\n" in text
    assert 'location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }' in text


def test_the_map_idiom_keeps_its_quotes_and_upgrade_entry(tmp_path):
    path = tree(tmp_path, {"nginx.conf": "map $http_upgrade $connection_upgrade {\n    default upgrade;\n"
                                         "    \"\"      close;  # plain requests\n}\n" + POOL +
                                         "server { location / { proxy_pass http://app; proxy_http_version 1.1;\n"
                                         "    proxy_set_header Upgrade $http_upgrade;\n"
                                         "    proxy_set_header Connection $connection_upgrade; } }\n"})
    text = fixed(path, "keepalive-connection-header")
    assert '    default upgrade;\n    ""      "";  # plain requests\n' in text


def test_a_lua_block_before_the_directive_does_not_shift_the_edit(tmp_path):
    path = tree(tmp_path, {"nginx.conf": POOL + "server {\n    location / {\n"
                                                  "        access_by_lua_block { local t = { a = \"}\" } }\n"
                                                  "        proxy_pass http://app; proxy_http_version 1.1;\n    }\n}\n"})
    text = fixed(path, "keepalive-connection-header")
    assert 'access_by_lua_block { local t = { a = "}" } }\n' in text
    assert 'proxy_pass http://app; proxy_set_header Connection ""; proxy_http_version 1.1;\n' in text


def test_a_file_without_a_final_newline_gets_a_diff_patch_applies(tmp_path):
    path = tree(tmp_path, {"nginx.conf": "events {}\nhttp { server_tokens on; }"})
    result = CliRunner().invoke(main, ["lint", path, "--diff", "--select", "version-disclosure"])
    assert result.exit_code == 1 and "\\ No newline at end of file" in result.stdout
    patch = subprocess.run(["patch", "-p0", "--batch", "--silent"], input=result.stdout.replace(f"{tmp_path}/", ""),
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert patch.returncode == 0, patch.stderr
    assert (tmp_path / "nginx.conf").read_text() == "events {}\nhttp { server_tokens off; }"


def test_crlf_and_a_map_block_keep_their_line_endings(tmp_path):
    text = ("map $http_upgrade $connection_upgrade {\r\n    default upgrade;\r\n    '' close;\r\n}\r\n"
            "upstream app {\r\n    server 127.0.0.1:8000;\r\n    keepalive 8;\r\n}\r\n"
            "server {\r\n    location / {\r\n        proxy_pass http://app;\r\n"
            "        proxy_set_header Connection $connection_upgrade;\r\n    }\r\n}\r\n")
    (tmp_path / "nginx.conf").write_bytes(text.encode())
    fixed(str(tmp_path / "nginx.conf"), "keepalive-connection-header", "keepalive-needs-http11")
    data = (tmp_path / "nginx.conf").read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"    '' '';\r\n" in data and b"        proxy_http_version 1.1;\r\n" in data


# ---------------------------------------------------------------------------------------------
# The gunicorn side


def test_a_gunicorn_conf_that_does_not_parse_silences_the_rules_that_need_it(tmp_path):
    """The issue's case: defaults were assumed (sync worker) and the pool deleted from a working
    config. Now the rules that need the app are silent, and the finding says which."""
    path = tree(tmp_path, {"nginx.conf": POOL + "server { location / { proxy_pass http://app; "
                                                  "proxy_http_version 1.1; proxy_set_header Connection \"\"; } }\n",
                           "gunicorn.conf.py": "worker_class = 'gthread'\nthreads = 4\nlimit_request_line = 8190\n"
                                               "keepalive = (\n"})
    before = Path(path).read_text()
    result = confgen.lint_project([path], select=["ALL"], nginx_version="1.22.1")
    rules = {f.rule for f in result.findings}
    assert "sync-worker-keepalive" not in rules and "header-limits-mismatch" not in rules
    [error] = [f for f in result.findings if f.rule == "gunicorn-config-error"]
    assert "did not run" in error.message and "sync-worker-keepalive" in error.message
    assert fixed(path) == before


def test_a_computed_gunicorn_value_is_never_rewritten(tmp_path):
    path = tree(tmp_path, {"nginx.conf": POOL + "server { location / { proxy_pass http://app; "
                                                  "proxy_http_version 1.1; proxy_set_header Connection \"\"; } }\n",
                           "gunicorn.conf.py": "import os\nworker_class = 'gthread'\nthreads = 4\n"
                                               "keepalive = int(os.environ.get('KEEPALIVE', '2'))\n"})
    gunicorn = (tmp_path / "gunicorn.conf.py").read_text()
    fixed(path, "app-keepalive-race")
    assert (tmp_path / "gunicorn.conf.py").read_text() == gunicorn


def test_the_apps_timeout_is_never_lowered(tmp_path):
    """The issue's case: 120 -> 25 behind a 30 s proxy_read_timeout killed a 26 s request that
    succeeded. The safe fix waits longer in nginx instead."""
    path = tree(tmp_path, {"nginx.conf": "server { location / { proxy_pass http://127.0.0.1:8000; "
                                         "proxy_read_timeout 30s; } }\n",
                           "gunicorn.conf.py": "worker_class = 'sync'\ntimeout = 120\n"})
    text = fixed(path, "app-timeout-exceeds-proxy", unsafe=True)
    assert (tmp_path / "gunicorn.conf.py").read_text() == "worker_class = 'sync'\ntimeout = 120\n"
    assert "proxy_read_timeout 132s;" in text
    assert "app-timeout-exceeds-proxy" not in rules_after(path)


def test_a_shared_proxy_read_timeout_is_raised_only_where_the_app_is_reached(tmp_path):
    path = tree(tmp_path, {"nginx.conf": "server {\n    proxy_read_timeout 30s;\n"
                                         "    location / { proxy_pass http://127.0.0.1:8000; }\n"
                                         "    location /other/ { proxy_pass http://127.0.0.1:9000; }\n}\n",
                           "gunicorn.conf.py": "worker_class = 'sync'\ntimeout = 60\nbind = '127.0.0.1:8000'\n"})
    text = fixed(path, "app-timeout-exceeds-proxy")
    assert "    proxy_read_timeout 30s;\n" in text
    assert "location / { proxy_pass http://127.0.0.1:8000; proxy_read_timeout 66s; }" in text
    assert "location /other/ { proxy_pass http://127.0.0.1:9000; }" in text


@pytest.mark.parametrize("written, expected", [
    ("max_requests = 1000\n", "max_requests = 1000\nmax_requests_jitter = 100\n"),
    ("max_requests = 1000  # restart often\nworkers = 4\n",
     "max_requests = 1000  # restart often\nworkers = 4\nmax_requests_jitter = 100\n"),
    ("max_requests = 1000\nmax_requests_jitter = 0  # none\n", "max_requests = 1000\nmax_requests_jitter = 100  # none\n"),
    ("max_requests: int = 1000\r\nmax_requests_jitter: int = 0\r\n", "max_requests: int = 1000\r\nmax_requests_jitter: int = 100\r\n"),
    ("title = 'caf\u00e9'; max_requests = 1000; max_requests_jitter = 0\n",
     "title = 'caf\u00e9'; max_requests = 1000; max_requests_jitter = 100\n"),
])
def test_a_gunicorn_setting_is_written_at_the_exact_place(tmp_path, written, expected):
    path = tree(tmp_path, {"nginx.conf": "server { location / { proxy_pass http://127.0.0.1:8000; } }\n"})
    (tmp_path / "gunicorn.conf.py").write_bytes(written.encode())
    fixed(path, "max-requests-no-jitter")
    assert (tmp_path / "gunicorn.conf.py").read_bytes().decode() == expected


def test_the_doubled_slash_is_taken_out_of_a_quoted_url_and_nothing_else_changes(tmp_path):
    path = tree(tmp_path, {"nginx.conf": 'server {\n    listen 80;\n    return 301 "https://$host/$request_uri";  # tls\n'
                                         "    location /a/ { rewrite ^(.*)$ https://$host/$1 permanent; }\n}\n"})
    text = fixed(path, "double-slash-in-url")
    assert text == ('server {\n    listen 80;\n    return 301 "https://$host$request_uri";  # tls\n'
                    "    location /a/ { rewrite ^(.*)$ https://$host$1 permanent; }\n}\n")
    assert "double-slash-in-url" not in rules_after(path)
