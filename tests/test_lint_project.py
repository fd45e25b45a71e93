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
    findings = confgen.lint([str(article / "nginx.conf")])
    assert "gzip-obsolete-msie6" not in _rules(findings)
    assert {f.severity for f in findings if f.rule == "worker-processes"} == {"info"}
    # The command line wins over the file.
    only = confgen.lint([str(article / "nginx.conf")], select=["gzip-obsolete-msie6"])
    assert _rules(only) == {"gzip-obsolete-msie6"}


def test_code_prefix_selects_a_family(article):
    findings = confgen.lint([str(article / "nginx.conf")], select=["CG2"])
    assert findings and all(f.code.startswith("CG2") for f in findings)


def test_per_file_ignores(article, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.confgen]\nper-file-ignores = { "deploy/*.conf" = ["CG3", "gzip-obsolete-msie6"] }\n')
    findings = confgen.lint([str(article / "nginx.conf")])
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
        confgen.lint([str(article / "nginx.conf")])


def test_min_severity_filters_by_each_findings_own_severity(article):
    everything = confgen.lint([str(article / "nginx.conf")])
    warnings_up = confgen.lint([str(article / "nginx.conf")], min_severity="warning")
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
