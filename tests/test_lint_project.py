"""Lint with the project's configuration, severity floors, and the terminal niceties."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import confgen
from confgen.cli import main
from confgen.errors import ConfgenError
from conftest import REPO

ARTICLE = REPO / "tests" / "fixtures" / "lint" / "article"


@pytest.fixture
def article(tmp_path):
    target = tmp_path / "deploy"
    shutil.copytree(ARTICLE, target)
    return target


def _rules(findings):
    return {f.rule for f in findings}


def test_config_ignore_select_and_severity(article, tmp_path):
    (tmp_path / ".confgen.toml").write_text(
        'ignore = ["gzip-obsolete-msie6"]\nseverity = { worker-processes = "info" }\n')
    findings = confgen.lint_files([str(article / "nginx.conf")])
    assert "gzip-obsolete-msie6" not in _rules(findings)
    assert {f.severity for f in findings if f.rule == "worker-processes"} == {"info"}
    # The command line wins over the file.
    only = confgen.lint_files([str(article / "nginx.conf")], select=["gzip-obsolete-msie6"])
    assert _rules(only) == {"gzip-obsolete-msie6"}


def test_code_prefix_selects_a_family(article):
    findings = confgen.lint_files([str(article / "nginx.conf")], select=["CG2"])
    assert findings and all(f.code.startswith("CG2") for f in findings)


def test_per_file_ignores(article, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.confgen]\nper-file-ignores = { "deploy/*.conf" = ["CG3", "gzip-obsolete-msie6"] }\n')
    findings = confgen.lint_files([str(article / "nginx.conf")])
    assert not any(f.code.startswith("CG3") for f in findings if f.file.endswith("nginx.conf"))
    assert "app-keepalive-race" in _rules(findings)


def test_config_pairs_a_gunicorn_command_line(article, tmp_path):
    (article / "gunicorn.conf.py").unlink()
    (tmp_path / ".confgen.toml").write_text(
        '[gunicorn]\n"deploy/nginx.conf" = { cmd = "gunicorn -k uvicorn_worker.UvicornWorker --keep-alive 75 -b unix:/tmp/gunicorn.sock app:app" }\n')
    result = confgen.lint_project([str(article / "nginx.conf")])
    assert any("--gunicorn-cmd" in note or "command line" in note for note in result.notes)
    assert "app-keepalive-race" not in _rules(result.findings)  # 75 s > nginx's 60 s


def test_config_errors_are_one_line_exit_2(article, tmp_path):
    (tmp_path / ".confgen.toml").write_text('ignore = ["no-such-rule"]\n')
    result = CliRunner().invoke(main, ["lint", str(article / "nginx.conf")])
    assert result.exit_code == 2 and "no-such-rule" in result.output
    (tmp_path / ".confgen.toml").write_text('severity = { gzip-level-high = "loud" }\n')
    with pytest.raises(ConfgenError, match="'loud' is not one of"):
        confgen.lint_files([str(article / "nginx.conf")])


def test_min_severity_filters_by_each_findings_own_severity(article):
    everything = confgen.lint_files([str(article / "nginx.conf")], select=["ALL"])
    warnings_up = confgen.lint_files([str(article / "nginx.conf")], select=["ALL"], min_severity="warning")
    assert any(f.severity == "info" for f in everything)
    assert warnings_up == [f for f in everything if f.severity != "info"]
    errors = CliRunner().invoke(main, ["lint", str(article / "nginx.conf"), "--min-severity", "error", "--format", "json"])
    assert {f["severity"] for f in json.loads(errors.output)} == {"error"}


def test_syntax_errors_survive_every_filter(tmp_path):
    bad = tmp_path / "nginx.conf"
    bad.write_text("http {\n  server { listen 80 }\n}\n")
    (tmp_path / ".confgen.toml").write_text('per-file-ignores = { "*.conf" = ["syntax-error"] }\nselect = ["CG5"]\n')
    result = CliRunner().invoke(main, ["lint", str(bad), "--min-severity", "error"])
    assert result.exit_code == 1 and "syntax-error" in result.output and "no problems" not in result.output


def test_quiet_prints_only_findings_and_github_format(article):
    quiet = CliRunner().invoke(main, ["lint", str(article / "nginx.conf"), "-q"])
    assert quiet.exit_code == 1
    assert all(" CG" in line for line in quiet.output.splitlines())
    github = CliRunner().invoke(main, ["lint", str(article / "nginx.conf"), "--format", "github"])
    lines = github.output.splitlines()
    assert lines and all(line.startswith(("::error file=", "::warning file=", "::notice file=")) for line in lines)
    assert any(",title=CG201 app-keepalive-race::" in line for line in lines)


def test_no_colour_unless_a_terminal(article):
    result = CliRunner().invoke(main, ["lint", str(article / "nginx.conf")], color=False)
    assert "\x1b[" not in result.output


# ---------------------------------------------------------------------------------------------
# Groups, presets, ALL, and rule options ([tool.confgen.rules.NAME])

MSIE6 = "server {\n    listen 80;\n    gzip on;\n    gzip_comp_level 9;\n    gzip_disable msie6;\n}\n"


def _project(tmp_path, toml: str | None):
    (tmp_path / "nginx.conf").write_text(MSIE6)
    if toml is not None:
        (tmp_path / ".confgen.toml").write_text(toml)
    return str(tmp_path / "nginx.conf")


@pytest.mark.parametrize("toml, select, reported", [
    (None, (), False),                                  # hardening advice is opt-in
    (None, ("hardening",), True),
    (None, ("ALL",), True),
    (None, ("all",), True),
    ('preset = "strict"\n', (), True),
    ('preset = "default"\n', (), False),
    ('select = ["ALL"]\n', (), True),
    ('select = ["hardening"]\n', (), True),
    ('preset = "strict"\n', ("gzip-level-high",), False),   # the command line wins
])
def test_hardening_group_is_opt_in(tmp_path, toml, select, reported):
    rules = _rules(confgen.lint_files([_project(tmp_path, toml)], select=select, nginx_version="1.22.1"))
    assert ("gzip-obsolete-msie6" in rules) is reported


def test_select_hardening_runs_only_that_group(tmp_path):
    rules = _rules(confgen.lint_files([_project(tmp_path, None)], select=["hardening"], nginx_version="1.22.1"))
    assert rules == {"gzip-obsolete-msie6"}


@pytest.mark.parametrize("option, reported", [("max-level = 9", False), ("max-level = 8", True), ("", True)])
def test_a_rule_threshold_is_a_typed_option(tmp_path, option, reported):
    (tmp_path / "nginx.conf").write_text(MSIE6)   # gzip_comp_level 9
    (tmp_path / "pyproject.toml").write_text(f"[tool.confgen.rules.gzip-level-high]\n{option}\n")
    findings = confgen.lint_files([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert ("gzip-level-high" in _rules(findings)) is reported


@pytest.mark.parametrize("table, message", [
    ('[rules.gzip-level-high]\nmax-level = "high"\n', "rules.gzip-level-high.max-level: expected an integer, got 'high'"),
    ('[rules.gzip-level-high]\nmax-level = true\n', "rules.gzip-level-high.max-level: expected an integer, got True"),
    ('[rules.gzip-level-high]\nmax-level = 12\n', "rules.gzip-level-high.max-level: 12 is above the maximum 9"),
    ('[rules.gzip-level-high]\nmaxlevel = 7\n', "gzip-level-high has no option 'maxlevel' (its options: max-level)"),
    ('[rules.gzip-level-hi]\nmax-level = 7\n', "rules.gzip-level-hi: no such rule"),
    ('[rules]\ngzip-level-high = 7\n', "rules.gzip-level-high: expected a table of options"),
    ('[rules.keepalive-timeout-order]\nbalancer-idle-timeout = "60s"\n', "expected a number, got '60s'"),
    ('preset = "paranoid"\n', "preset: 'paranoid' is not one of default, strict"),
])
def test_bad_rule_options_are_one_line_errors_naming_file_and_key(tmp_path, table, message):
    (tmp_path / "nginx.conf").write_text(MSIE6)
    (tmp_path / ".confgen.toml").write_text(table)
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "nginx.conf")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and str(tmp_path / ".confgen.toml") in lines[0], result.output
    assert "Traceback" not in result.output


def test_options_in_pyproject_name_the_tool_table(tmp_path):
    (tmp_path / "nginx.conf").write_text(MSIE6)
    (tmp_path / "pyproject.toml").write_text('[tool.confgen.rules.gzip-level-high]\nmax-level = "x"\n')
    with pytest.raises(ConfgenError, match=r"pyproject.toml: \[tool.confgen\] rules.gzip-level-high.max-level"):
        confgen.lint_files([str(tmp_path / "nginx.conf")])


def test_rules_and_rule_document_groups_options_and_references():
    table = CliRunner().invoke(main, ["rules"]).output
    line = next(line for line in table.splitlines() if " gzip-obsolete-msie6 " in line)
    assert line.split()[2:4] == ["info", "hardening"]
    text = CliRunner().invoke(main, ["rule", "gzip-level-high"]).output
    assert "Group: default (on by default)." in text
    assert "max-level (int, 1..9, default 7)" in text
    assert "References:\n    https://nginx.org/en/docs/http/ngx_http_gzip_module.html#gzip_comp_level" in text
