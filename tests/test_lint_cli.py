"""`confgen lint` through click: the article's config, formats, and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from confgen.cli import main
from lint_helpers import write_tree

ARTICLE = Path(__file__).parent / "fixtures" / "lint" / "article"
# " [*]" after the code: `confgen lint --fix` fixes it.
LINE_RE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>CG\d{3})(?: \[\*\])? (?P<rule>[a-z0-9-]+): .+$")


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["lint", *args], input=stdin)


def rules_in(output: str) -> set[str]:
    return {m.group("rule") for line in output.splitlines() if (m := LINE_RE.match(line))}


def test_article_config_with_its_gunicorn_config_beside_it():
    result = run(str(ARTICLE / "nginx.conf"), "--nginx-version", "1.22.1", "--select", "ALL")
    assert result.exit_code == 1, result.output
    assert {"app-keepalive-race", "forwarded-proto-spoofable", "worker-connections-nofile",
            "gzip-obsolete-msie6"} <= rules_in(result.output)
    assert f"note: paired gunicorn config: {ARTICLE / 'gunicorn.conf.py'}" in result.output
    assert re.search(r"^\d+ problems \(\d+ errors?, \d+ warnings?, \d+ info\) in 3 files$", result.output, re.M)


def test_article_config_with_gunicorn_defaults_given_explicitly(tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text('bind = "unix:/tmp/gunicorn.sock"\n')   # sync worker, all defaults
    result = run(str(ARTICLE / "nginx.conf"), "--gunicorn", str(tmp_path / "gunicorn.conf.py"),
                 "--nginx-version", "1.22.1", "--select", "ALL")
    assert result.exit_code == 1
    found = rules_in(result.output)
    # a sync worker closes every connection itself: the pool is wasted instead of racing,
    # and proxy_buffering off lets slow clients pin its workers
    assert {"sync-worker-keepalive", "proxy-buffering-sync-worker", "forwarded-proto-spoofable",
            "worker-connections-nofile", "gzip-obsolete-msie6"} <= found
    assert "app-keepalive-race" not in found
    assert "(--gunicorn)" in result.output


def test_every_text_line_is_a_finding_a_note_or_the_summary():
    result = run(str(ARTICLE / "nginx.conf"), "--nginx-version", "1.22.1")
    lines = [line for line in result.output.splitlines() if not re.match(r"^\d+ fixable with --fix", line)]
    assert all(LINE_RE.match(line) or line.startswith("note: ") for line in lines[:-1])


def test_json_format():
    result = run(str(ARTICLE / "nginx.conf"), "--nginx-version", "1.22.1", "--format", "json")
    assert result.exit_code == 1
    findings = json.loads(result.output)
    assert {"app-keepalive-race", "forwarded-proto-spoofable"} <= {f["rule"] for f in findings}
    for finding in findings:
        assert set(finding) >= {"code", "rule", "severity", "file", "line", "col", "message"}
        assert finding["line"] >= 1 and finding["severity"] in ("error", "warning", "info")


def test_exit_0_when_clean_and_for_info_only(tmp_path):
    write_tree(tmp_path, {"clean.conf": "server { listen 80; location / { return 204; } }\n",
                          "info.conf": "server { gzip on; gzip_disable msie6; }\n"})
    clean = run(str(tmp_path / "clean.conf"))
    assert (clean.exit_code, clean.output.splitlines()[-1]) == (0, "no problems in 1 file")
    info = run(str(tmp_path / "info.conf"), "--select", "hardening")   # an opt-in, info-level rule
    assert info.exit_code == 0 and "gzip-obsolete-msie6" in info.output


def test_exit_1_for_a_syntax_error_and_never_no_problems(tmp_path):
    write_tree(tmp_path, {"broken.conf": "server {\n    listen 80;\n"})
    result = run(str(tmp_path / "broken.conf"))
    assert result.exit_code == 1 and "syntax-error" in rules_in(result.output)
    assert "no problems" not in result.output


def test_select_and_ignore_with_commas_names_and_codes():
    article = str(ARTICLE / "nginx.conf")
    selected = run(article, "--nginx-version", "1.22.1", "--select", "CG403,forwarded-proto-spoofable")
    assert rules_in(selected.output) == {"gzip-obsolete-msie6", "forwarded-proto-spoofable"}
    ignored = run(article, "--nginx-version", "1.22.1", "--ignore", "app-keepalive-race", "--ignore", "CG402")
    assert not {"app-keepalive-race", "forwarded-proto-spoofable"} & rules_in(ignored.output)


def test_exit_2_for_usage_errors(tmp_path):
    missing = run(str(tmp_path / "missing.conf"))
    assert missing.exit_code == 2 and "missing.conf: no such file" in missing.output
    assert "Traceback" not in missing.output
    directory = run(str(tmp_path))
    assert directory.exit_code == 2 and "is a directory" in directory.output
    unknown = run(str(ARTICLE / "nginx.conf"), "--select", "no-such-rule")
    assert unknown.exit_code == 2 and "no-such-rule" in unknown.output
    version = run(str(ARTICLE / "nginx.conf"), "--nginx-version", "latest")
    assert version.exit_code == 2 and "--nginx-version" in version.output


def test_stdin():
    result = run("-", stdin="server {\n    gzip_comp_level 9;\n}\n")
    assert result.exit_code == 1 and "gzip-level-high" in rules_in(result.output)


def test_bundled_profiles_render_to_configs_that_lint_clean(tmp_path):
    import confgen

    for profile in sorted((Path(__file__).parent.parent / "profiles").glob("*.yaml")):
        out = tmp_path / profile.stem
        out.mkdir()
        for name, text in confgen.render_profile(profile).items():
            (out / name).write_text(text)
        (out / "mime.types").write_text((ARTICLE / "mime.types").read_text())   # nginx ships it beside nginx.conf
        target = re.search(r"Target: nginx (\S+)\.", (out / "nginx.conf").read_text()).group(1)
        # One app: gunicorn.conf.py beside nginx.conf; several routes: gunicorn-<route>.conf.py each.
        routes = [["--gunicorn", str(path)] for path in sorted(out.glob("gunicorn-*.conf.py"))] or [[]]
        for gunicorn in routes:
            result = run(str(out / "nginx.conf"), "--nginx-version", target, "--profile", str(profile), *gunicorn)
            assert result.exit_code == 0, f"{profile.name}:\n{result.output}"
            assert "paired gunicorn config" in result.output


def test_a_dump_on_stdin_reports_the_columns_the_files_have(tmp_path):
    """`nginx -T | confgen lint -`: each finding at the line and column of its own file, as
    linting the files themselves gives (the lexer's positions, not a search of the line)."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "nginx.conf").write_text(f"events {{}}\nhttp {{\n    include {tmp_path}/conf.d/*.conf;\n}}\n")
    (tmp_path / "conf.d" / "a.conf").write_text("server {\n    listen 8081;\n    location / {\n"
                                                "        proxy_pass http://127.0.0.1:8000; proxy_buffering off;\n"
                                                "    }\n      server_tokens on; server_tokens on;\n}\n")
    dump = "nginx: the configuration file ok\n" + "".join(
        f"# configuration file {path}:\n{path.read_text()}\n" for path in (tmp_path / "nginx.conf", tmp_path / "conf.d" / "a.conf"))
    from_stdin = CliRunner().invoke(main, ["lint", "-", "--select", "ALL", "--format", "json"], input=dump)
    from_files = CliRunner().invoke(main, ["lint", str(tmp_path / "nginx.conf"), "--select", "ALL", "--format", "json"])
    def places(output):
        return sorted((f["file"], f["line"], f["col"], f["rule"]) for f in json.loads(output) if f["file"] != "-")
    assert places(from_stdin.stdout) == places(from_files.stdout)
    assert (str(tmp_path / "conf.d" / "a.conf"), 6, 25, "version-disclosure") in places(from_files.stdout)


def test_a_dump_of_files_this_machine_does_not_have_is_linted_from_the_dump_itself():
    """pikvm's `nginx -T` read elsewhere: missing-semicolon reads the part of the dump that holds
    the file, not the disk (where it is not), and the run ends with findings, not an error."""
    dump = ("# configuration file /nonexistent-confgen/nginx.conf:\nevents {}\nhttp {\n"
            "    include /nonexistent-confgen/site.conf;\n}\n\n"
            "# configuration file /nonexistent-confgen/site.conf:\nserver {\n    listen 8443;\n"
            "    gzip_types text/css application/json\n    gzip_min_length 1024;\n    return 200;\n}\n\n")
    result = CliRunner().invoke(main, ["lint", "-", "--select", "missing-semicolon", "--format", "json"], input=dump)
    assert result.exit_code == 1, result.output
    assert [(f["file"], f["line"], f["rule"]) for f in json.loads(result.stdout)] == [
        ("/nonexistent-confgen/site.conf", 3, "missing-semicolon")]
