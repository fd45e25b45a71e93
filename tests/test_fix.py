"""`confgen lint --fix`: every fix on its rule's Bad example and on a tree with includes and
comments removes its finding, adds none, changes nothing outside its edits, and is idempotent."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import confgen
from confgen.errors import ConfgenError
from confgen.lint.engine import all_rules, get_rule
from confgen.lint.fixes import apply
from fuzz_support import assert_only_named_directives_changed

FIXABLE = sorted(r.name for r in all_rules() if r.doc.fix)
# Rules whose example pairs nginx with an app command (a Procfile) rather than a gunicorn.conf.py:
# their fix edits that command (tests/test_uvicorn_forwarded.py), not the site's tree.
FIXABLE_WITH_GUNICORN = [name for name in FIXABLE if not get_rule(name).doc.app_command]


def example_tree(doc) -> dict[str, str]:
    """A rule's Bad example as files: nginx.conf and its gunicorn.conf.py or Procfile."""
    files = {"nginx.conf": doc.bad}
    if doc.gunicorn:
        files["gunicorn.conf.py"] = doc.gunicorn
    if doc.app_command:
        files["Procfile"] = f"web: {doc.app_command}\n"
    return files
ALL = ["ALL"]
APP_MODULE = "def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'']\n"


def gunicorn_check(path: Path) -> tuple[bool, str]:
    """The real `gunicorn --check-config` on a gunicorn.conf.py (with a trivial app beside it)."""
    with tempfile.TemporaryDirectory() as app_dir:
        (Path(app_dir) / "confgen_fix_app.py").write_text(APP_MODULE)
        result = subprocess.run([sys.executable, "-m", "gunicorn", "--check-config", "-c", str(path),
                                 "--chdir", app_dir, "confgen_fix_app:app"],
                                capture_output=True, text=True, timeout=60, cwd=app_dir)
    return result.returncode == 0, result.stdout + result.stderr


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def may_be_unsafe(name: str) -> bool:
    return get_rule(name).doc.fix in ("unsafe", "mixed")


def assert_only_edits_changed(old: str, new: str, edits) -> None:
    """Outside the edited ranges the new text is the old text, byte for byte."""
    position, shift = 0, 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        kept = old[position:edit.start]
        assert new[position + shift:position + shift + len(kept)] == kept
        assert new[edit.start + shift:edit.start + shift + len(edit.new)] == edit.new
        shift += len(edit.new) - (edit.end - edit.start)
        position = edit.end
    assert new[position + shift:] == old[position:]


def fix_once(main: Path, rule: str, *, unsafe: bool = False, **options):
    """Lint everything, fix only ``rule`` (written), lint everything again."""
    before = confgen.lint_project([str(main)], select=ALL, **options)
    plan = confgen.fix([str(main)], unsafe=unsafe, select=[rule], **options)
    written = apply.write(plan)
    after = confgen.lint_project([str(main)], select=ALL, **options)
    for step in plan.passes:  # each pass changed only what its edits name, in the text before it
        for file, new in step.new_texts().items():
            assert_only_edits_changed(step.originals[file], new, [e for e in step.edits if e.file == file])
    assert_only_named_directives_changed(plan, plan.originals)
    for file in written:
        assert Path(file).read_text() == plan.texts[file]
        if file.endswith(".py"):  # a fixed gunicorn.conf.py compiles and gunicorn accepts it
            compile(Path(file).read_text(), file, "exec")
            ok, output = gunicorn_check(Path(file))
            assert ok, output
    return before, plan, after


def assert_fixed_without_new_findings(rule: str, before, plan, after) -> None:
    assert plan.edits, (rule, plan.unfixable, plan.unsafe)
    assert rule not in {f.rule for f in after.findings}, [f for f in after.findings if f.rule == rule]
    counts_before = collections.Counter(f.rule for f in before.findings)
    counts_after = collections.Counter(f.rule for f in after.findings)
    new = {name: n for name, n in counts_after.items() if n > counts_before.get(name, 0)}
    assert not new, [f for f in after.findings if f.rule in new]


def assert_idempotent(main: Path, rule: str, *, unsafe: bool = False, **options) -> None:
    again = confgen.fix([str(main)], unsafe=unsafe, select=[rule], **options)
    assert not again.edits, again.diff()


# ---------------------------------------------------------------------------------------------
# Each fix on its rule's Bad example


@pytest.mark.parametrize("name", FIXABLE)
def test_fix_on_the_rules_bad_example(tmp_path, name):
    rule = get_rule(name)
    doc = rule.doc
    write_tree(tmp_path, example_tree(doc))
    options = {"nginx_version": doc.version or "1.22.1"}
    unsafe = may_be_unsafe(name)
    before, plan, after = fix_once(tmp_path / "nginx.conf", name, unsafe=unsafe, **options)
    assert name in {f.rule for f in before.findings}
    assert_fixed_without_new_findings(name, before, plan, after)
    assert_idempotent(tmp_path / "nginx.conf", name, unsafe=unsafe, **options)


# ---------------------------------------------------------------------------------------------
# Each fix on a tree with includes and comments


SITE = {
    "nginx.conf": """
        # the main file
        worker_processes 1;
        events {
            worker_connections 4096;  # a busy site
        }
        http {
            server_names_hash_bucket_size: 64;  # long names
            include conf.d/*.conf;
        }
    """,
    "conf.d/app.conf": """
        # the app and its websocket
        upstream app {
            server 127.0.0.1:8000;  # gunicorn
            keepalive 16;
        }
        upstream legacy {
            server 127.0.0.1:9000;
        }
        map $http_upgrade $connection_upgrade {
            default upgrade;
            ''      close;  # plain requests
        }
        server {
            listen 443 ssl http2;
            server_name example.com;
            ssl_certificate /etc/ssl/site.pem;
            ssl_certificate_key /etc/ssl/site.key;
            ssl_protocols TLSv1 TLSv1.2;  # old clients
            server_tokens on;
            gzip on;
            gzip_disable "msie6";
            gzip_comp_level 9;  # smallest responses
            large_client_header_buffers 4 8k;

            proxy_set_header Host $host;  # keep the host
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            add_header X-Frame-Options DENY;

            location / {
                include snippets/proxy.conf;
            }
            location /ws/ {
                proxy_pass http://app;
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade;
                proxy_buffering off;  # stream events as they come
            }
            location /export/ {
                include snippets/proxy.conf;
                proxy_request_buffering off;  # large uploads go straight through
            }
            location /old/ {
                proxy_pass http://legacy;  # the old service
                proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;  # from the balancer
            }
            location /legacy/ {
                uwsgi_param X-Real-IP $remote_addr;  # the old service's own header
                uwsgi_pass 127.0.0.1:3031;
            }
            location /blog/ {
                rewrite https://blog.example.com permanent;  # moved
            }
            location /assets/ {
                alias /srv/site/assets;  # built files
            }
            location = /favicon.ico {
                root /srv/site/favicon.ico;  # the icon
            }
            location /pages/ {
                root /srv/site;
                try_files /srv/site/maintenance.html $uri =404;  # while we deploy
            }
            location ^/old-docs/ {
                return 301 /docs/;  # moved
            }
            location /shop/ {
                return 302 https://shop.example.com/$request_uri;  # the shop moved
            }
            location = /healthz {
                add_header X-Frame-Options DENY always;
                add_header Content-Length 2;  # what the check expects
                return 200 "ok";
            }
        }
    """,
    "snippets/proxy.conf": """
        # proxy to the app (Host comes from the server)
        proxy_set_header X-Request-Id $request_id;
        proxy_pass http://app;
        proxy_read_timeout 60s;
    """,
}
GTHREAD = """
    # gunicorn for the site
    worker_class = "gthread"
    threads = 4
    workers = 2  # two per core
    max_requests = 1000
"""
SYNC = """
    # a sync app that takes its time
    worker_class = "sync"
    timeout = 120
"""
UVICORN = """
    worker_class = "uvicorn_worker.UvicornWorker"
    bind = "unix:/run/app.sock"  # nginx connects here
"""
APPS = {"app-timeout-exceeds-proxy": SYNC, "uvicorn-unix-forwarded": UVICORN, "sync-worker-keepalive": SYNC,
        "proxy-buffering-sync-worker": SYNC}


# A race needs a pool some location fills: the websocket location's map keeps plain requests' connections.
POOLED = {"conf.d/app.conf": SITE["conf.d/app.conf"].replace("''      close;  # plain requests",
                                                             "''      '';  # plain requests")}
SITES = {"app-keepalive-race": {**SITE, **POOLED}}


@pytest.mark.parametrize("name", FIXABLE_WITH_GUNICORN)
def test_fix_on_a_tree_with_includes_and_comments(tmp_path, name):
    write_tree(tmp_path, {**SITES.get(name, SITE), "gunicorn.conf.py": APPS.get(name, GTHREAD)})
    unsafe = may_be_unsafe(name)
    options = {"nginx_version": "1.25.3"}
    untouched = snapshot(tmp_path)
    before, plan, after = fix_once(tmp_path / "nginx.conf", name, unsafe=unsafe, **options)
    assert name in {f.rule for f in before.findings}
    assert_fixed_without_new_findings(name, before, plan, after)
    assert_idempotent(tmp_path / "nginx.conf", name, unsafe=unsafe, **options)
    # The file where the directive lives is edited, never the one including it (unless it is there).
    changed = {file for file, data in snapshot(tmp_path).items() if untouched[file] != data}
    assert changed == {e.file for e in plan.edits}
    for file in changed:  # every comment stays, but the one ending a removed directive's line
        def comments(text: str) -> list[str]:
            return [line[line.index("#"):] for line in text.splitlines() if "#" in line]
        removed = [c for e in plan.edits if e.file == file for c in comments(e.old)]
        assert sorted(comments(Path(file).read_text()) + removed) == sorted(comments(untouched[file].decode()))


def test_the_map_idiom_is_fixed_at_its_empty_entry(tmp_path):
    # On a path that also carries ordinary requests (on /ws/ the idiom is right as it is).
    live = SITE["conf.d/app.conf"].replace("location /ws/", "location /live/")
    write_tree(tmp_path, {**SITE, "conf.d/app.conf": live, "gunicorn.conf.py": GTHREAD})
    plan = confgen.fix([str(tmp_path / "nginx.conf")], select=["keepalive-connection-header"], nginx_version="1.25.3")
    assert ("close", "''") in [(e.old, e.new) for e in plan.edits]
    assert not [e for e in plan.edits if e.file.endswith("app.conf") and e.old != "close"]


def test_lost_headers_are_repeated_as_written_before_the_levels_own(tmp_path):
    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    confgen_plan = confgen.fix([str(tmp_path / "nginx.conf")], select=["proxy-header-inheritance"],
                               nginx_version="1.25.3")
    apply.write(confgen_plan)
    snippet = (tmp_path / "snippets/proxy.conf").read_text()
    assert snippet.startswith("# proxy to the app (Host comes from the server)\n"
                              "proxy_set_header Host $host;\n"
                              "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                              "proxy_set_header X-Request-Id $request_id;\n")


def test_every_fix_together_then_nothing_left_to_fix(tmp_path):
    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    run = apply.fix_in_place([str(tmp_path / "nginx.conf")], unsafe=True, select=ALL, nginx_version="1.25.3")
    assert run.applied >= 10
    left = apply.fix([str(tmp_path / "nginx.conf")], unsafe=True, select=ALL, nginx_version="1.25.3")
    assert not left.edits
    assert not {f.rule for f in run.result.findings} & (set(FIXABLE) - {f.rule for f, _ in left.unfixable})


# ---------------------------------------------------------------------------------------------
# What is not fixed, and why


def test_an_include_shared_by_places_that_need_different_fixes_is_not_fixed(tmp_path):
    write_tree(tmp_path, {
        "nginx.conf": """
            events {}
            http {
                server {
                    proxy_set_header Host $host;
                    location /a/ { include proxy.conf; }
                }
                server {
                    proxy_set_header X-Real-IP $remote_addr;
                    location /b/ { include proxy.conf; }
                }
            }
        """,
        "proxy.conf": "proxy_set_header X-Request-Id $request_id;\nproxy_pass http://127.0.0.1:8000;\n",
    })
    plan = confgen.fix([str(tmp_path / "nginx.conf")], select=["proxy-header-inheritance"])
    assert not plan.edits
    assert any("included from 2 places" in reason for _, reason in plan.unfixable), plan.unfixable


def test_a_computed_gunicorn_value_is_left_alone_and_reported(tmp_path):
    write_tree(tmp_path, {
        "nginx.conf": "upstream app { server 127.0.0.1:8000; keepalive 16; }\n"
                      "server { location / { proxy_pass http://app; proxy_http_version 1.1; "
                      "proxy_set_header Connection \"\"; } }\n",
        "gunicorn.conf.py": "import os\nworker_class = 'gthread'\nthreads = 2\n"
                            "keepalive = int(os.environ.get('KEEPALIVE', '1'))\n",  # too short to shorten nginx's below
    })
    plan = confgen.fix([str(tmp_path / "nginx.conf")], select=["app-keepalive-race"], nginx_version="1.22.1")
    assert not plan.edits and not plan.unsafe
    [(finding, reason)] = plan.unfixable
    assert "computed" in reason and "keepalive" in reason


def test_a_sync_worker_gets_no_pool(tmp_path):
    write_tree(tmp_path, {"nginx.conf": "upstream app { server 127.0.0.1:8000; }\n"
                                        "server { location / { proxy_pass http://app; } }\n",
                          "gunicorn.conf.py": "worker_class = 'sync'\n"})
    plan = confgen.fix([str(tmp_path / "nginx.conf")], select=["upstream-no-keepalive"], unsafe=True,
                       nginx_version="1.22.1")
    # The rule says it as a note; were it a finding, the fixer would still refuse the pool.
    assert not plan.edits
    assert all("sync worker" in reason for _, reason in plan.unfixable)


def test_unsafe_fixes_wait_for_the_flag(tmp_path):
    write_tree(tmp_path, {"nginx.conf": get_rule("ssl-weak-protocols").doc.bad})
    safe = confgen.fix([str(tmp_path / "nginx.conf")], select=["ssl-weak-protocols"])
    assert not safe.edits and [f.rule for f in safe.unsafe] == ["ssl-weak-protocols"]
    assert confgen.fix([str(tmp_path / "nginx.conf")], select=["ssl-weak-protocols"], unsafe=True).edits


def test_the_api_returns_edits_and_writes_nothing(tmp_path):
    write_tree(tmp_path, {"nginx.conf": get_rule("add-header-not-always").doc.bad})
    untouched = snapshot(tmp_path)
    plan = confgen.fix(str(tmp_path / "nginx.conf"), select=["add-header-not-always"])
    assert snapshot(tmp_path) == untouched
    [edit] = plan.edits
    assert (edit.file, edit.old, edit.new, edit.rule, edit.line) == (
        str(tmp_path / "nginx.conf"), "", " always", "add-header-not-always", 2)
    assert "+    add_header X-Frame-Options DENY always;" in plan.diff()


def test_crlf_files_keep_their_line_endings(tmp_path):
    text = "worker_processes auto;\r\nevents {\r\n    worker_connections 4096;\r\n}\r\nhttp {\r\n    server_tokens off;\r\n}\r\n"
    (tmp_path / "nginx.conf").write_bytes(text.encode())
    run = apply.fix_in_place([str(tmp_path / "nginx.conf")], select=["worker-connections-nofile"])
    data = (tmp_path / "nginx.conf").read_bytes()
    assert run.applied == 1 and b"worker_rlimit_nofile 8192;\r\nevents" in data and b"\n" not in data.replace(b"\r\n", b"")


# ---------------------------------------------------------------------------------------------
# Bad input: a clear one-line error, nothing half-written


def _two_file_fix(tmp_path):
    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    return confgen.fix([str(tmp_path / "nginx.conf")], select=ALL, nginx_version="1.25.3")


def test_a_read_only_file_is_refused_and_nothing_written(tmp_path):
    plan = _two_file_fix(tmp_path)
    (tmp_path / "snippets/proxy.conf").chmod(0o444)
    untouched = snapshot(tmp_path)
    with pytest.raises(ConfgenError) as error:
        apply.write(plan)
    assert "read-only" in str(error.value) and len(error.value.lines) == 1
    assert snapshot(tmp_path) == untouched


def test_a_read_only_directory_is_refused_and_nothing_written(tmp_path):
    """A real read-only directory, for a process that respects file modes (root's override
    dropped): nothing is written anywhere, one line says why."""
    from lint_helpers import run_without_read_override

    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    (tmp_path / "snippets").chmod(0o555)
    untouched = snapshot(tmp_path)
    try:
        result = run_without_read_override([sys.executable, "-m", "confgen", "lint", str(tmp_path / "nginx.conf"),
                                            "--fix", "--select", "ALL", "--nginx-version", "1.25.3"],
                                           env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    finally:
        (tmp_path / "snippets").chmod(0o755)
    assert result.returncode == 2 and "read-only" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert snapshot(tmp_path) == untouched


def test_a_file_changed_between_lint_and_write_is_refused_and_nothing_written(tmp_path):
    plan = _two_file_fix(tmp_path)
    assert len({e.file for e in plan.edits}) >= 3
    changed = tmp_path / "snippets/proxy.conf"
    changed.write_text(changed.read_text() + "# edited meanwhile\n")
    untouched = snapshot(tmp_path)
    with pytest.raises(ConfgenError) as error:
        apply.write(plan)
    assert "changed since it was read" in str(error.value) and len(error.value.lines) == 1
    assert snapshot(tmp_path) == untouched
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temp file left


def test_a_symlinked_include_is_refused_and_nothing_written(tmp_path):
    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    real = tmp_path / "shared-proxy.conf"
    (tmp_path / "snippets/proxy.conf").rename(real)
    (tmp_path / "snippets/proxy.conf").symlink_to(real)
    plan = confgen.fix([str(tmp_path / "nginx.conf")], select=ALL, nginx_version="1.25.3")
    untouched = snapshot(tmp_path)
    with pytest.raises(ConfgenError) as error:
        apply.write(plan)
    assert "symbolic link" in str(error.value)
    assert snapshot(tmp_path) == untouched and (tmp_path / "snippets/proxy.conf").is_symlink()


# ---------------------------------------------------------------------------------------------
# The command line and the pre-commit hook


def _cli(*args: str):
    from click.testing import CliRunner

    from confgen.cli import main

    return CliRunner().invoke(main, list(args))


def test_lint_marks_fixable_findings_and_counts_them(tmp_path):
    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    result = _cli("lint", str(tmp_path / "nginx.conf"), "--select", "ALL", "--nginx-version", "1.25.3")
    lines = result.stdout.splitlines()
    marked = [line for line in lines if " [*] " in line]
    assert any("add-header-not-always" in line for line in marked)
    assert not any("ssl-weak-protocols" in line for line in marked)  # unsafe: not applied by --fix
    assert f"{len(marked)} fixable with --fix (" in lines[-1] and "more with --unsafe-fixes" in lines[-1]


def test_diff_prints_the_fixes_changes_nothing_and_exits_1(tmp_path):
    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    untouched = snapshot(tmp_path)
    result = _cli("lint", str(tmp_path / "nginx.conf"), "--diff", "--select", "ALL", "--nginx-version", "1.25.3")
    assert result.exit_code == 1
    assert "+    add_header X-Frame-Options DENY always;" in result.stdout
    assert result.stdout.startswith("--- ") and snapshot(tmp_path) == untouched
    assert "would fix" in result.stderr


def test_diff_with_nothing_to_fix_exits_0(tmp_path):
    write_tree(tmp_path, {"nginx.conf": "worker_processes auto;\nevents {}\nhttp { server_tokens off; server { listen 80; } }\n"})
    result = _cli("lint", str(tmp_path / "nginx.conf"), "--diff")
    assert (result.exit_code, result.stdout) == (0, "")


def test_fix_writes_reports_what_is_left_and_is_idempotent(tmp_path):
    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    first = _cli("lint", str(tmp_path / "nginx.conf"), "--fix", "--nginx-version", "1.25.3")
    assert "fixed " in first.stderr and "snippets/proxy.conf" in first.stderr
    after_first = snapshot(tmp_path)
    second = _cli("lint", str(tmp_path / "nginx.conf"), "--fix", "--nginx-version", "1.25.3")
    assert "fixed 0 finding(s) in 0 file(s)" in second.stderr and snapshot(tmp_path) == after_first
    assert " [*] " not in second.stdout and second.stdout == first.stdout


def test_unsafe_fixes_flag_applies_the_unsafe_ones(tmp_path):
    write_tree(tmp_path, {"nginx.conf": get_rule("ssl-weak-protocols").doc.bad})
    _cli("lint", str(tmp_path / "nginx.conf"), "--fix", "--unsafe-fixes")
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in (tmp_path / "nginx.conf").read_text()


def test_fix_of_stdin_is_a_one_line_error(tmp_path):
    result = _cli("lint", "-", "--fix")
    assert result.exit_code != 0 and result.stderr.count("\n") == 1 and "stdin" in result.stderr


def test_fix_through_a_symlink_is_a_one_line_error_on_the_command_line(tmp_path):
    write_tree(tmp_path, {**SITE, "gunicorn.conf.py": GTHREAD})
    real = tmp_path / "shared-proxy.conf"
    (tmp_path / "snippets/proxy.conf").rename(real)
    (tmp_path / "snippets/proxy.conf").symlink_to(real)
    untouched = snapshot(tmp_path)
    result = _cli("lint", str(tmp_path / "nginx.conf"), "--fix", "--nginx-version", "1.25.3")
    assert result.exit_code != 0 and "symbolic link" in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and snapshot(tmp_path) == untouched


def test_the_pre_commit_hook_takes_fix_as_its_args(tmp_path):
    """pre-commit runs `entry + args + files` and fails the hook when a file changed."""
    import shlex
    import subprocess
    import sys

    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text())}
    entry = shlex.split(hooks["confgen-lint"]["entry"])
    assert entry[:2] == ["confgen", "lint"]
    write_tree(tmp_path, {"nginx.conf": get_rule("add-header-not-always").doc.bad})
    before = (tmp_path / "nginx.conf").read_text()
    run = subprocess.run([sys.executable, "-m", "confgen", *entry[1:], "--fix", "--select", "ALL",
                          str(tmp_path / "nginx.conf")],
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" not in run.stderr
    assert (tmp_path / "nginx.conf").read_text() == before.replace("DENY;", "DENY always;")


# ---------------------------------------------------------------------------------------------
# gunicorn.conf.py through libcst


POOLED = ("upstream app { server 127.0.0.1:8000; keepalive 16; }\n"
          "server { location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }\n")


def _fix_app(tmp_path, gunicorn: str, rule: str = "app-keepalive-race"):
    write_tree(tmp_path, {"nginx.conf": POOLED, "gunicorn.conf.py": gunicorn})
    return confgen.fix([str(tmp_path / "nginx.conf")], select=[rule], nginx_version="1.22.1")


def test_an_assignment_is_changed_in_place_with_its_comment(tmp_path):
    plan = _fix_app(tmp_path, '"""gunicorn for the app"""\nworker_class = "gthread"  # threads\n'
                              'threads = 4\nkeepalive = 2  # seconds, gunicorn\'s default\nworkers = 3\n')
    new = plan.new_texts()[str(tmp_path / "gunicorn.conf.py")]
    assert "keepalive = 65  # seconds, gunicorn's default\nworkers = 3\n" in new


def test_a_missing_setting_goes_after_the_last_top_level_setting(tmp_path):
    plan = _fix_app(tmp_path, 'import multiprocessing\n\nworker_class = "gthread"\nthreads = 4\n'
                              'workers = multiprocessing.cpu_count() * 2 + 1  # computed\n\n\n'
                              'def on_starting(server):\n    server.log.info("up")\n')
    new = plan.new_texts()[str(tmp_path / "gunicorn.conf.py")]
    assert "workers = multiprocessing.cpu_count() * 2 + 1  # computed\nkeepalive = 65\n\n\ndef on_starting" in new


def test_an_annotated_assignment_is_changed_too(tmp_path):
    plan = _fix_app(tmp_path, 'worker_class: str = "gthread"\nthreads = 4\nkeepalive: int = 5\n')
    assert plan.new_texts()[str(tmp_path / "gunicorn.conf.py")].endswith("keepalive: int = 65\n")


def test_a_setting_assigned_under_an_if_is_not_fixed(tmp_path):
    plan = _fix_app(tmp_path, 'import os\nworker_class = "gthread"\nthreads = 4\nif True:\n    keepalive = 1\n')
    assert not plan.edits and plan.unfixable, plan.diff()


def test_forwarded_allow_ips_is_written_as_a_python_string(tmp_path):
    write_tree(tmp_path, {"nginx.conf": "location / { proxy_pass http://unix:/run/app.sock; }\n",
                          "gunicorn.conf.py": UVICORN})
    plan = confgen.fix([str(tmp_path / "nginx.conf")], select=["uvicorn-unix-forwarded"])
    assert plan.new_texts()[str(tmp_path / "gunicorn.conf.py")].endswith(
        'bind = "unix:/run/app.sock"  # nginx connects here\nforwarded_allow_ips = "*"\n')


def test_an_app_timeout_above_nginxs_raises_proxy_read_timeout_never_lowers_the_apps(tmp_path):
    write_tree(tmp_path, {"nginx.conf": "server { location / { proxy_pass http://127.0.0.1:8000; "
                                        "proxy_read_timeout 60s; } }\n",
                          "gunicorn.conf.py": "worker_class = 'sync'\ntimeout = 120\n"})
    main = str(tmp_path / "nginx.conf")
    plan = confgen.fix(main, select=["app-timeout-exceeds-proxy"])
    # Safe: a request that took 119 s and succeeded still does; gunicorn.conf.py is untouched.
    assert [(e.file, e.old, e.new) for e in plan.edits] == [(main, "60s", "132s")] and not plan.unsafe
    apply.write(plan)
    assert "app-timeout-exceeds-proxy" not in {f.rule for f in confgen.lint_project([main], select=ALL).findings}


def test_a_fix_follows_the_rules_option_from_the_project_config(tmp_path):
    write_tree(tmp_path, {"nginx.conf": "server { gzip on; gzip_comp_level 9; }\n",
                          ".confgen.toml": '[rules.gzip-level-high]\nmax-level = 4\n'})
    plan = confgen.fix(str(tmp_path / "nginx.conf"), select=["gzip-level-high"])
    assert [(e.old, e.new) for e in plan.edits] == [("9", "4")]


def test_a_computed_app_keepalive_leaves_a_shorter_upstream_idle_time_as_the_unsafe_fix(tmp_path):
    plan = _fix_app(tmp_path, "import os\nworker_class = 'gthread'\nthreads = 2\n"
                              "keepalive = int(os.environ.get('KEEPALIVE', '5'))\n")
    assert not plan.edits and [f.rule for f in plan.unsafe] == ["app-keepalive-race"]
    main = str(tmp_path / "nginx.conf")
    unsafe = confgen.fix(main, select=["app-keepalive-race"], unsafe=True, nginx_version="1.22.1")
    assert [e.new for e in unsafe.edits] == [" keepalive_timeout 4s;"]
    apply.write(unsafe)
    after = confgen.lint_project([main], select=ALL, nginx_version="1.22.1")
    assert "app-keepalive-race" not in {f.rule for f in after.findings}


# ---------------------------------------------------------------------------------------------
# The edit primitives: the layout of the neighbours


@pytest.mark.parametrize("text, operation, expected", [
    ("location / {\n\tproxy_pass http://app;  # the app\n}\n", "after",
     "location / {\n\tproxy_pass http://app;  # the app\n\tX 1;\n}\n"),
    ("location / { proxy_pass http://app; }\n", "after", "location / { proxy_pass http://app; X 1; }\n"),
    ("location / {\r\n    proxy_pass http://app;\r\n}\r\n", "after", "location / {\r\n    proxy_pass http://app;\r\n    X 1;\r\n}\r\n"),
    ("location / {\n    proxy_pass http://app;\n}\n", "before", "location / {\n    X 1;\n    proxy_pass http://app;\n}\n"),
    ("upstream app { server a:1; }\n", "last-upstream", "upstream app { server a:1; X 1; }\n"),
    ("upstream app {\n  server a:1;\n}\n", "last-upstream", "upstream app {\n  server a:1;\n  X 1;\n}\n"),
    ("server {\n    location / {\n    }\n}\n", "last-location", "server {\n    location / {\n        X 1;\n    }\n}\n"),
    ("gzip on; gzip_disable msie6;\n", "remove-gzip", "gzip on;\n"),
    ("gzip on;\n    gzip_disable msie6; # old\nx 1;\n", "remove-gzip", "gzip on;\nx 1;\n"),
])
def test_edits_take_the_layout_of_their_neighbours(text, operation, expected):
    from confgen.lint.context import LintContext
    from confgen.lint.fixes import nginx_edits as ne
    from confgen.lint.fixes.base import FixContext
    from confgen.lint.fixes.edits import apply_edits
    from confgen.nginx.parse import load_nginx

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.conf")
        with open(path, "w", newline="") as handle:
            handle.write(text)
        config = load_nginx(path)
        fx = FixContext(LintContext(config))
        found = {d.name: d for d in config.root.walk() if d.column}
        edit = {
            "after": lambda: ne.insert_after(fx, found["proxy_pass"], "X 1;"),
            "before": lambda: ne.insert_before(fx, found["proxy_pass"], "X 1;"),
            "last-upstream": lambda: ne.insert_last(fx, found["upstream"], "X 1;"),
            "last-location": lambda: ne.insert_last(fx, found["location"], "X 1;"),
            "remove-gzip": lambda: ne.remove(fx, found["gzip_disable"]),
        }[operation]()
    assert apply_edits(text, [edit]) == expected


def test_every_fix_is_as_safe_as_its_rule_says(tmp_path):
    """The docstring's `Fix safety: Safe|Unsafe|Safe or unsafe` (shown by `confgen rules`) is what
    the fixes attached to the findings are, on every Bad example and the tree with includes; a
    rule that declares no fix attaches none."""
    seen: dict[str, set[bool]] = collections.defaultdict(set)
    cases = [(example_tree(r.doc), r.doc.version or "1.22.1") for r in all_rules() if r.doc.bad]
    cases += [({**SITE, "gunicorn.conf.py": app}, "1.25.3") for app in (GTHREAD, SYNC, UVICORN)]
    for number, (files, version) in enumerate(cases):
        folder = tmp_path / str(number)
        write_tree(folder, files)
        for finding in confgen.lint_project([str(folder / "nginx.conf")], select=ALL, nginx_version=version).findings:
            if finding.fix is not None:
                seen[finding.rule].add(finding.fix.safe)
    declared = {r.name: r.doc.fix for r in all_rules() if r.doc.fix}
    assert set(seen) == set(declared)
    for name, kinds in seen.items():
        expected = {"safe": {True}, "unsafe": {False}, "mixed": {True, False}}[declared[name]]
        assert kinds <= expected, (name, kinds)


def test_rules_shows_the_fix_column():
    result = _cli("rules")
    line = next(line for line in result.stdout.splitlines() if " add-header-not-always " in line)
    assert " safe " in line
    line = next(line for line in result.stdout.splitlines() if " ssl-weak-protocols " in line)
    assert " unsafe " in line
