"""The rule engine: registry, documentation examples, selection, suppressions, pairing, focus,
inputs and the output formats."""

from __future__ import annotations

import io
import json
import re
import sys
import textwrap

import pytest
import yaml

from confgen.errors import ConfgenError
from confgen.lint.engine import all_rules, get_rule, lint
from confgen.lint.registry import Finding, LintResult, rule
from confgen.lint.rule_doc import parse_rule_doc
from confgen.lint.output import format_findings
from lint_helpers import full, line_of, lint_config, only, rules_of, write_tree

# The names issue 4 fixes (tools and suppressions depend on them).
CATALOG = """syntax-error include-not-found keepalive-needs-http11 keepalive-connection-header
proxy-header-inheritance upstream-no-keepalive proxy-pass-no-upstream app-keepalive-race
sync-worker-keepalive app-timeout-exceeds-proxy proxy-buffering-sync-worker worker-connections-nofile
worker-processes forwarded-proto-spoofable uvicorn-unix-forwarded header-limits-mismatch
proxy-connect-timeout-ineffective max-requests-no-jitter gzip-obsolete-msie6 gzip-level-high
deprecated-directive""".split()

MINIMAL_PROFILE = {"cpus": 2, "expected_qps": 100, "clients": 200, "max_body_size": "1m",
                   "avg_response_size": "2k", "app": {"module": "app.main:app", "kind": "asgi"}}


# ---------------------------------------------------------------------------------------------
# Registry


def test_catalog_names_are_all_registered():
    registered = {r.name for r in all_rules()}
    assert not set(CATALOG) - registered


def test_codes_and_names_are_unique_and_well_formed():
    rules = all_rules()
    assert len({r.code for r in rules}) == len({r.name for r in rules}) == len(rules)
    for r in rules:
        assert re.fullmatch(r"CG[0-8]\d\d", r.code), r.code  # CG6xx+ stays free for the security pack
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.name)
        # CG2xx is the app side: the gunicorn pairing rules, and the chain rules for any app server.
        assert bool({"gunicorn", "chain"} & set(r.needs)) is (r.code[2] == "2") \
            or r.name == "upstream-keepalive-pool-small"


@pytest.mark.parametrize("r", all_rules(), ids=lambda r: r.name)
def test_every_rule_documents_summary_why_bad_and_good(r):
    doc = r.doc
    assert doc.summary and doc.summary[-1] in ".:", r.name
    assert len(doc.why) > 60, f"{r.name}: say why it matters"
    assert doc.bad.strip() and doc.good.strip()


def test_get_rule_by_name_or_code_and_unknown():
    assert get_rule("keepalive-needs-http11") is get_rule("cg101") is get_rule("CG101")
    with pytest.raises(ConfgenError, match="no-such-rule: no such rule"):
        get_rule("no-such-rule")


def test_registering_a_clashing_rule_is_refused():
    with pytest.raises(ValueError, match="clashes"):
        rule(code="CG101", name="another-name", severity="error")(lambda ctx: iter(()))
    with pytest.raises(ValueError):
        rule(code="X1", name="Bad Name", severity="fatal")


def test_doc_parser_splits_sections():
    doc = parse_rule_doc('''Summary line.

        Why it matters,
        over two lines.

        Version: 1.25.1

        Bad:
            a 1;

        Good:
            a 2;
    ''', "x")
    assert (doc.summary, doc.why, doc.bad, doc.good, doc.version) == (
        "Summary line.", "Why it matters, over two lines.", "a 1;\n", "a 2;\n", "1.25.1")


# ---------------------------------------------------------------------------------------------
# Every rule's own examples: Bad reports it, Good does not (a failing and a passing test each).


def _lint_example(tmp_path, r, which: str) -> LintResult:
    doc = r.doc
    gunicorn = (doc.good_gunicorn if which == "good" and doc.good_gunicorn else doc.gunicorn)
    command = doc.good_app_command if which == "good" and doc.good_app_command else doc.app_command
    options = {"nginx_version": doc.version or "1.22.1", "app_command": command}
    if "profile" in r.needs:
        profile = tmp_path / "profile.yaml"
        profile.write_text(yaml.safe_dump(MINIMAL_PROFILE))
        options["profile"] = str(profile)
    # A rule about Kubernetes manifests documents itself with a manifest.
    main = "app.yaml" if getattr(doc, which).lstrip().startswith("apiVersion:") else "nginx.conf"
    return lint_config(tmp_path, getattr(doc, which), gunicorn=gunicorn, main=main, **options)


@pytest.mark.parametrize("r", all_rules(), ids=lambda r: r.name)
def test_bad_example_is_reported(tmp_path, r):
    assert r.name in rules_of(_lint_example(tmp_path, r, "bad"))


@pytest.mark.parametrize("r", all_rules(), ids=lambda r: r.name)
def test_good_example_is_clean_of_that_rule(tmp_path, r):
    result = _lint_example(tmp_path, r, "good")
    assert r.name not in rules_of(result), result.findings


# ---------------------------------------------------------------------------------------------
# Selection


GZIP_9 = "server { listen 80; gzip on; gzip_comp_level 9; gzip_disable msie6; }\n"


@pytest.mark.parametrize("select", [["gzip-level-high"], ["CG404"], ["cg404"]])
def test_select_by_name_or_code(tmp_path, select):
    assert rules_of(lint_config(tmp_path, GZIP_9, select=select)) == ["gzip-level-high"]


def test_ignore_by_name_or_code(tmp_path):
    assert rules_of(lint_config(tmp_path, GZIP_9, ignore=["CG404", "gzip-obsolete-msie6"])) == []


def test_unknown_names_in_select_or_ignore_are_usage_errors_naming_them(tmp_path):
    with pytest.raises(ConfgenError, match=r"--select: no such rule: gzip-lvl, CG999"):
        lint_config(tmp_path, GZIP_9, select=["gzip-lvl", "CG999"])
    with pytest.raises(ConfgenError, match=r"--ignore: no such rule: nope"):
        lint_config(tmp_path, GZIP_9, ignore=["nope"])


def test_parse_failures_survive_select_and_cannot_be_ignored(tmp_path):
    broken = "server { listen 80 }\n"
    assert "syntax-error" in rules_of(lint_config(tmp_path, broken, select=["gzip-level-high"]))
    with pytest.raises(ConfgenError, match="syntax-error cannot be ignored"):
        lint_config(tmp_path, broken, ignore=["syntax-error"])


# ---------------------------------------------------------------------------------------------
# Suppressions


def test_suppression_on_the_line_before_and_at_the_end(tmp_path):
    result = lint_config(tmp_path, """
        server {
            # confgen: disable=gzip-level-high -- static files, compressed once and cached
            gzip_comp_level 9;
            location /a/ { gzip_comp_level 8; }  # confgen: disable=CG404 -- same, by code
            location /b/ { gzip_comp_level 9; }
        }
    """)
    assert [(f.rule, f.line) for f in result.findings] == [("gzip-level-high", 5)]


def test_suppression_before_a_directive_may_run_over_several_comment_lines(tmp_path):
    result = lint_config(tmp_path, """
        # confgen: disable=gzip-level-high -- assets are compressed once at build time and cached,
        # so the CPU cost is paid once
        gzip_comp_level 9;
    """)
    assert rules_of(result) == []


def test_suppression_covers_only_the_named_rules(tmp_path):
    result = lint_config(tmp_path, """
        server {
            gzip_disable msie6;  # confgen: disable=gzip-level-high -- wrong rule named
        }
    """)
    assert rules_of(result) == ["gzip-obsolete-msie6"]


def test_disable_file_anywhere_in_the_file_and_only_that_file(tmp_path):
    result = lint_config(tmp_path, """
        server {
            gzip_comp_level 9;
            include extra.conf;
        }
        # confgen: disable-file=gzip-level-high,gzip-obsolete-msie6 -- legacy box, replaced in Q3
    """, files={"extra.conf": "location / { gzip_comp_level 8; }\n"})
    assert [(f.rule, f.file.rsplit("/", 1)[-1]) for f in result.findings] == [("gzip-level-high", "extra.conf")]


def test_suppression_inside_an_included_file(tmp_path):
    result = lint_config(tmp_path, "server { include extra.conf; }\n", files={
        "extra.conf": "# confgen: disable=gzip-level-high -- precompressed assets only\ngzip_comp_level 9;\n"})
    assert rules_of(result) == []


def test_suppression_without_reason_is_reported_and_still_suppresses(tmp_path):
    result = lint_config(tmp_path, """
        server {
            gzip_comp_level 9;  # confgen: disable=gzip-level-high
        }
    """)
    (finding,) = result.findings
    assert (finding.rule, finding.code, finding.severity, finding.line) == (
        "suppression-without-reason", "CG005", "warning", 2)


def test_suppression_naming_an_unknown_rule_is_reported(tmp_path):
    result = lint_config(tmp_path, """
        server {
            gzip_comp_level 9;  # confgen: disable=gzip-too-high -- typo
        }
    """)
    assert sorted(rules_of(result)) == ["gzip-level-high", "suppression-unknown-rule"]
    assert "gzip-too-high" in only(result, "suppression-unknown-rule")[0].message


def test_parse_errors_cannot_be_suppressed(tmp_path):
    result = lint_config(tmp_path, "# confgen: disable-file=syntax-error -- nope\nserver { listen 80 }\n")
    assert "syntax-error" in rules_of(result)


def test_suppression_in_gunicorn_config(tmp_path):
    nginx = "location / { proxy_pass http://127.0.0.1:8000; }\n"
    noisy = lint_config(tmp_path, nginx, gunicorn="max_requests = 1000\n")
    assert "max-requests-no-jitter" in rules_of(noisy)
    quiet = lint_config(tmp_path, nginx, gunicorn=(
        "max_requests = 1000  # confgen: disable=max-requests-no-jitter -- one worker, restarts are rare\n"))
    assert "max-requests-no-jitter" not in rules_of(quiet)


def test_gunicorn_config_suppressions_are_comments_and_a_file_without_one_is_not_tokenized(tmp_path, monkeypatch):
    nginx = "location / { proxy_pass http://127.0.0.1:8000; }\n"
    in_a_string = lint_config(tmp_path, nginx, gunicorn=(
        'max_requests = 1000\nname = "# confgen: disable=max-requests-no-jitter -- a string, not a comment"\n'))
    assert "max-requests-no-jitter" in rules_of(in_a_string)
    import tokenize

    def refused(*args):
        raise AssertionError("a gunicorn.conf.py without `confgen:` was tokenized")

    monkeypatch.setattr(tokenize, "tokenize", refused)  # nothing to suppress: not tokenized at all
    plain = lint_config(tmp_path, nginx, gunicorn="max_requests = 1000  # restarts are rare\n")
    assert "max-requests-no-jitter" in rules_of(plain)


# ---------------------------------------------------------------------------------------------
# needs: gunicorn, full, profile


UPSTREAM_RACE = """
    upstream app { server 127.0.0.1:8000; keepalive 8; }
    server { location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }
"""


def test_gunicorn_rules_skipped_without_a_gunicorn_config_and_a_note_says_so(tmp_path):
    result = lint_config(tmp_path, UPSTREAM_RACE)
    assert not any(get_rule(n).needs for n in rules_of(result))
    assert any("no gunicorn config" in note for note in result.notes)


def test_gunicorn_conf_beside_the_nginx_file_is_paired_and_noted(tmp_path):
    result = lint_config(tmp_path, UPSTREAM_RACE, gunicorn='worker_class = "gthread"\nthreads = 4\n')
    assert "app-keepalive-race" in rules_of(result)
    assert any(note.startswith("paired gunicorn config:") and "gunicorn.conf.py" in note and "beside" in note
               for note in result.notes)


def test_explicit_gunicorn_wins_over_the_file_beside(tmp_path):
    write_tree(tmp_path, {
        "nginx.conf": UPSTREAM_RACE,
        "gunicorn.conf.py": 'worker_class = "gthread"\nthreads = 4\n',                  # would race
        "elsewhere/app.py": 'worker_class = "gthread"\nthreads = 4\nkeepalive = 75\n',  # does not
    })
    result = lint([str(tmp_path / "nginx.conf")], gunicorn=str(tmp_path / "elsewhere/app.py"), nginx_version="1.22.1")
    assert "app-keepalive-race" not in rules_of(result)
    assert any("elsewhere/app.py" in note and "--gunicorn" in note for note in result.notes)


def test_gunicorn_cmd_is_read_and_noted(tmp_path):
    write_tree(tmp_path, {"nginx.conf": UPSTREAM_RACE})
    result = lint([str(tmp_path / "nginx.conf")], gunicorn_cmd="gunicorn -k gthread --threads 4 --keep-alive 3 app:app",
                  nginx_version="1.22.1")
    assert "app-keepalive-race" in rules_of(result)
    assert any("gunicorn command line" in note for note in result.notes)


def test_full_config_rules_skipped_on_snippets(tmp_path):
    snippet = lint_config(tmp_path, "server { listen 80; }\n")
    assert not {"worker-processes", "worker-connections-nofile"} & set(rules_of(snippet))
    whole = lint_config(tmp_path, "events { worker_connections 4096; }\nhttp { server { listen 80; } }\n")
    assert {"worker-processes", "worker-connections-nofile"} <= set(rules_of(whole))


def test_profile_rules_run_only_with_a_profile(tmp_path):
    config = "worker_processes 2;\nevents { worker_connections 64; }\nhttp { server { listen 80; } }\n"
    assert "worker-connections-capacity" not in rules_of(lint_config(tmp_path, config))
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(MINIMAL_PROFILE))
    assert "worker-connections-capacity" in rules_of(lint_config(tmp_path, config, profile=str(profile)))


# ---------------------------------------------------------------------------------------------
# Anchors: file, line and column, never line 0


def test_findings_about_an_absence_point_at_the_enclosing_block(tmp_path):
    result = lint_config(tmp_path, full("""
        upstream app {
            server 127.0.0.1:8000;
        }
        server { location / { proxy_pass http://app; } }
    """, top="# nginx for the app\n\nuser nobody;\n"))
    conf = tmp_path / "nginx.conf"
    (no_keepalive,) = only(result, "upstream-no-keepalive")
    assert no_keepalive.line == line_of(conf, "upstream app {")
    text = conf.read_text().splitlines()[no_keepalive.line - 1]
    assert no_keepalive.col == text.index("upstream") + 1
    (processes,) = only(result, "worker-processes")
    assert processes.line == line_of(conf, "user nobody;") and processes.col == 1
    assert all(f.line >= 1 and f.col >= 1 for f in result.findings)


def test_column_points_at_the_directive(tmp_path):
    result = lint_config(tmp_path, "server {\n    listen 80;\n      gzip_comp_level 9;\n}\n")
    (finding,) = result.findings
    assert (finding.line, finding.col) == (3, 7)


def test_columns_and_suppressions_read_lines_as_nginx_counts_them(tmp_path, monkeypatch):
    # CRLF line ends, a form feed inside a comment (str.splitlines would split there, nginx does
    # not), a suppression on its own line before the directive, one at the very end of the file.
    text = ("server {\r\n    # note \x0c page break\r\n"
            "    # confgen: disable=gzip-level-high -- assets, compressed once\r\n\r\n"
            "      gzip_comp_level 9;\r\n   gzip_comp_level 8;\r\n}\r\n# confgen: disable=CG404 -- trailing\r\n")
    conf = tmp_path / "nginx.conf"
    conf.write_bytes(text.encode())
    # (the directive written twice is what this test needs; nginx itself would refuse it)
    result = lint([str(conf)], nginx_version="1.22.1", ignore=["directive-duplicate"])
    assert [(f.rule, f.line, f.col) for f in result.findings] == [("gzip-level-high", 6, 4)]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode()), newline=""))
    from_stdin = lint(["-"], nginx_version="1.22.1", ignore=["directive-duplicate"])
    assert [(f.rule, f.line, f.col) for f in from_stdin.findings] == [("gzip-level-high", 6, 4)]


# ---------------------------------------------------------------------------------------------
# Inputs


def test_missing_file_directory_and_unreadable_are_usage_errors(tmp_path):
    with pytest.raises(ConfgenError, match="nope.conf: no such file"):
        lint([str(tmp_path / "nope.conf")])
    with pytest.raises(ConfgenError, match="is a directory"):
        lint([str(tmp_path)])
    write_tree(tmp_path, {"nginx.conf": "server { listen 80; }\n"})
    with pytest.raises(ConfgenError, match="missing.py: no such file"):
        lint([str(tmp_path / "nginx.conf")], gunicorn=str(tmp_path / "missing.py"))


def test_bad_nginx_version_is_a_usage_error(tmp_path):
    with pytest.raises(ConfgenError, match="--nginx-version"):
        lint_config(tmp_path, "server { listen 80; }\n", nginx_version="one.two")


def test_stdin(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("server {\n    gzip_comp_level 9;\n}\n"))
    result = lint(["-"], nginx_version="1.22.1")
    (finding,) = result.findings
    assert (finding.rule, finding.line) == ("gzip-level-high", 2)


def test_snippet_and_its_includer_given_together_are_linted_once_in_place(tmp_path):
    write_tree(tmp_path, {
        "nginx.conf": full("include conf.d/*.conf;"),
        "conf.d/site.conf": "server { listen 80; gzip_comp_level 9; }\n",
    })
    result = lint([str(tmp_path / "conf.d/site.conf"), str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert rules_of(result).count("gzip-level-high") == 1


def test_root_lints_a_snippet_in_place_and_reports_only_its_findings(tmp_path):
    write_tree(tmp_path, {
        "nginx.conf": full("""
            gzip_comp_level 9;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            include sites/*.conf;
        """),
        "sites/app.conf": """
            server {
                location / {
                    proxy_set_header X-Request-Id $request_id;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
    })
    snippet = str(tmp_path / "sites/app.conf")
    in_place = lint([snippet], root=str(tmp_path / "nginx.conf"), nginx_version="1.22.1")
    assert "proxy-header-inheritance" in rules_of(in_place)
    assert {f.file.rsplit("/", 1)[-1] for f in in_place.findings} == {"app.conf"}   # not nginx.conf's gzip
    # Without --root, the snippet finds the file in its tree that includes it, and says so.
    found = lint([snippet], nginx_version="1.22.1")
    assert found.findings == in_place.findings
    assert any(f"included by {tmp_path / 'nginx.conf'}" in note for note in found.notes), found.notes


def test_a_snippet_nothing_in_its_tree_includes_is_linted_alone_and_the_note_names_root(tmp_path):
    write_tree(tmp_path, {
        "other/nginx.conf": full("include other-snippets/*.conf;"),
        "sites/app.conf": """
            server {
                location / {
                    proxy_set_header X-Request-Id $request_id;
                    proxy_pass http://127.0.0.1:8000;
                }
            }
        """,
    })
    alone = lint([str(tmp_path / "sites/app.conf")], nginx_version="1.22.1")
    assert "proxy-header-inheritance" not in rules_of(alone)   # nothing outside to lose on its own
    assert any("pass --root" in note for note in alone.notes)


def test_a_snippet_prefers_the_whole_config_that_includes_it_through_a_chain(tmp_path):
    write_tree(tmp_path, {
        "nginx.conf": full("proxy_set_header Host $host;\ninclude sites-enabled/*;"),
        "sites-enabled/app": "server { listen 80; include snippets/proxy.conf; }\n",
        "snippets/proxy.conf": "location / { proxy_set_header X-Id $request_id; proxy_pass http://127.0.0.1:8000; }\n",
    })
    result = lint([str(tmp_path / "snippets/proxy.conf")], nginx_version="1.22.1")
    assert any(f"included by {tmp_path / 'nginx.conf'}" in note for note in result.notes), result.notes
    (lost,) = only(result, "proxy-header-inheritance")
    assert "Host" in lost.message and lost.file.endswith("proxy.conf")


# ---------------------------------------------------------------------------------------------
# Output


def _result(*findings: Finding, files=("nginx.conf",), notes=()) -> LintResult:
    return LintResult(findings=list(findings), files=list(files), notes=list(notes))


def test_text_output_lines_notes_and_summary():
    result = _result(
        Finding("CG101", "keepalive-needs-http11", "error", "nginx.conf", 3, 5, "m1"),
        Finding("CG403", "gzip-obsolete-msie6", "info", "nginx.conf", 9, 1, "m2"),
        notes=["paired gunicorn config: gunicorn.conf.py (found beside nginx.conf)"])
    assert format_findings(result, "text").splitlines() == [
        "nginx.conf:3:5: CG101 keepalive-needs-http11: m1",
        "nginx.conf:9:1: CG403 gzip-obsolete-msie6: m2",
        "note: paired gunicorn config: gunicorn.conf.py (found beside nginx.conf)",
        "2 problems (1 error, 0 warnings, 1 info) in 1 file",
    ]
    assert result.has_problems


def test_text_output_without_findings_and_info_only():
    assert format_findings(_result(files=("a", "b")), "text").splitlines()[-1] == "no problems in 2 files"
    info = _result(Finding("CG403", "gzip-obsolete-msie6", "info", "a", 1, 1, "m"))
    assert not info.has_problems


def test_json_output():
    finding = Finding("CG101", "keepalive-needs-http11", "error", "nginx.conf", 3, 5, "m1")
    assert json.loads(format_findings(_result(finding), "json")) == [
        {"code": "CG101", "rule": "keepalive-needs-http11", "severity": "error", "file": "nginx.conf",
         "line": 3, "col": 5, "message": "m1"}]


def test_unknown_format_is_a_usage_error():
    with pytest.raises(ConfgenError, match="--format"):
        format_findings(_result(), "xml")


def test_parse_failure_never_reads_as_no_problems(tmp_path):
    result = lint_config(tmp_path, "server {\n    listen 80;\n")
    assert result.has_problems and "syntax-error" in rules_of(result)
    assert "no problems" not in format_findings(result, "text")
    (error,) = only(result, "syntax-error")
    assert error.file.endswith("nginx.conf") and error.line >= 1


def test_findings_are_sorted_by_file_then_line(tmp_path):
    result = lint_config(tmp_path, """
        server {
            include b.conf;
            gzip_comp_level 9;
            gzip_disable msie6;
        }
    """, files={"b.conf": "location / { gzip_comp_level 8; }\n"})
    positions = [(f.file.rsplit("/", 1)[-1], f.line) for f in result.findings]
    assert positions == [("nginx.conf", 3), ("nginx.conf", 4), ("b.conf", 1)]


# ---------------------------------------------------------------------------------------------
# Bare snippets: a file of locations, or of directives that belong in a location, is linted in
# the blocks it would be included in, so every rule for that context runs on it.

# Rules whose Bad example is about a value nothing in a snippet sets (a resolver, an allow/deny
# list, a login, a loopback-only listen, a root, uwsgi params): the block that includes the snippet may set it,
# so they stay silent on it alone.
ABSENCE_RULES = {"forwarded-proto-spoofable", "missing-resolver", "ssl-stapling-no-resolver", "ssl-weak-protocols",
                 "hsts-missing", "nested-location-serves-files", "status-page-exposed", "autoindex-enabled",
                 "auth-basic-without-user-file", "uwsgi-params-missing"}


def _unwrapped(text: str, block: str) -> str | None:
    """The body of ``text`` when it is one ``block { ... }`` and nothing else."""
    match = re.fullmatch(rf"{block}\b[^{{]*\{{(.*)\}}", text.strip(), re.S)
    if not match:
        return None
    depth = 0
    for char in match.group(1):
        depth += (char == "{") - (char == "}")
        if depth < 0:
            return None
    return textwrap.dedent(match.group(1)).strip() + "\n"


def _bare_cases():
    for r in all_rules():
        if r.always or "full" in r.needs or "profile" in r.needs or r.name in ABSENCE_RULES:
            continue
        for block in ("server", "location"):
            bad, good = _unwrapped(r.doc.bad, block), _unwrapped(r.doc.good, block)
            if bad is not None and good is not None:
                yield pytest.param(r, bad, good, id=f"{r.name}-in-{block}")


@pytest.mark.parametrize("r, bad, good", list(_bare_cases()))
def test_bare_snippets_are_linted_in_their_context_bad_and_good(tmp_path, r, bad, good):
    options = {"nginx_version": r.doc.version or "1.22.1", "select": ["ALL"]}
    assert r.name in rules_of(lint_config(tmp_path, bad, gunicorn=r.doc.gunicorn, main="snippet.conf",
                                          app_command=r.doc.app_command, **options))
    good_app = r.doc.good_gunicorn or r.doc.gunicorn
    good_command = r.doc.good_app_command or r.doc.app_command
    assert r.name not in rules_of(lint_config(tmp_path, good, gunicorn=good_app, main="snippet.conf",
                                              app_command=good_command, **options))


def test_server_level_snippet_gets_the_server_rules(tmp_path):
    snippet = "listen 443 ssl;\nssl_certificate /c.pem;\nssl_certificate_key /k.pem;\nssl_protocols TLSv1 TLSv1.2;\n"
    result = lint_config(tmp_path, snippet, main="tls.conf", select=["ALL"])
    assert "ssl-weak-protocols" in rules_of(result)
    assert "ssl-weak-protocols" not in rules_of(lint_config(
        tmp_path, snippet.replace("TLSv1 TLSv1.2", "TLSv1.2 TLSv1.3"), main="tls.conf", select=["ALL"]))


def test_a_bare_location_snippet_reports_no_missing_values_the_includer_may_set(tmp_path):
    snippet = "proxy_pass http://127.0.0.1:8000;\n"
    result = lint_config(tmp_path, snippet, main="proxy.conf", gunicorn="timeout = 90\n", select=["ALL"])
    assert "app-timeout-exceeds-proxy" not in rules_of(result)       # the server may set proxy_read_timeout
    explicit = lint_config(tmp_path, snippet + "proxy_read_timeout 60s;\n", main="proxy.conf",
                           gunicorn="timeout = 90\n", select=["ALL"])
    assert "app-timeout-exceeds-proxy" in rules_of(explicit)
