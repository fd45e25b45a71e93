"""`confgen lint --format sarif` validated against the SARIF 2.1.0 schema, with what GitHub code
scanning needs on top; `--format github` workflow commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from confgen.cli import main
from lint_helpers import write_tree

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())

# Findings of several severities, an absence finding (version-disclosure on the http block), one
# in an included file, and a message with characters the GitHub format must escape.
CONFIG = {
    "nginx.conf": """
        events {}
        http {
            include site.conf;
        }
    """,
    "site.conf": """
        server {
            listen 80;
            location /static {
                alias /srv/static/;
            }
            location ~ \\.php { fastcgi_pass unix:/run/php.sock; }
            location /p { proxy_pass http://$arg_host/; }
        }
    """,
}


@pytest.fixture
def tree(tmp_path, monkeypatch):
    write_tree(tmp_path, CONFIG)
    (tmp_path / ".git").mkdir()       # the repository root SARIF paths are relative to
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lint(*args):
    # Every rule: the tree exercises hardening (opt-in) rules such as CG633 and CG801 too.
    return CliRunner().invoke(main, ["lint", "nginx.conf", "--nginx-version", "1.22.1", "--select", "ALL", *args])


def sarif_log(tree) -> dict:
    result = lint("--format", "sarif")
    assert result.exit_code == 1, result.output
    return json.loads(result.output)


def test_sarif_output_validates_against_the_schema(tree):
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    log = sarif_log(tree)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_a_broken_log_does_fail_the_schema(tree):
    # The schema check is real: a result without its message is rejected.
    log = sarif_log(tree)
    del log["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(log, SCHEMA, cls=jsonschema.Draft4Validator)


def test_github_code_scanning_fields(tree):
    log = sarif_log(tree)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for rule in rules:
        assert rule["id"] and rule["name"] and rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = run["results"]
    assert {r["ruleId"] for r in results} >= {"CG601", "CG611", "CG633", "CG801"}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        location = result["locations"][0]["physicalLocation"]
        uri = location["artifactLocation"]["uri"]
        assert uri in ("nginx.conf", "site.conf") and not uri.startswith(("/", "file:"))
        assert location["region"]["startLine"] >= 1
        assert result["partialFingerprints"] and all(result["partialFingerprints"].values())
    by_rule = {r["ruleId"]: r for r in results}
    assert by_rule["CG601"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "site.conf"
    assert by_rule["CG601"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    assert by_rule["CG633"]["level"] == "note"       # info findings are SARIF notes
    assert by_rule["CG801"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_fingerprints_are_stable_and_distinct(tree):
    first, second = sarif_log(tree), sarif_log(tree)
    prints = [r["partialFingerprints"] for r in first["runs"][0]["results"]]
    assert prints == [r["partialFingerprints"] for r in second["runs"][0]["results"]]
    assert len({json.dumps(p, sort_keys=True) for p in prints}) == len(prints)


GITHUB_RE = re.compile(r"^::(error|warning|notice) file=([^,]+),line=(\d+),col=(\d+),title=(CG\d{3}) ([a-z0-9-]+)::(.+)$")


def test_github_annotations(tree):
    result = lint("--format", "github")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines and all(GITHUB_RE.match(line) for line in lines), lines
    parsed = [GITHUB_RE.match(line).groups() for line in lines]
    alias = next(p for p in parsed if p[4] == "CG601")
    assert alias[0] == "error" and alias[1].endswith("site.conf") and alias[2] == "4"
    assert any(p[0] == "notice" and p[4] == "CG633" for p in parsed)
    # ':' and ',' inside property values are escaped, so the file path cannot break the line apart.
    assert all("%3A" in p[1] or ":" not in p[1] for p in parsed)


def test_min_severity_filters_each_finding_by_its_own_severity(tree):
    # alias-traversal is an error rule, but this finding (a sibling directory) is a warning.
    write_tree(tree, {"site.conf": "server { listen 80; location /files { alias /srv/files; } }\n"})
    everything = lint("--format", "json")
    assert any(f["rule"] == "alias-traversal" and f["severity"] == "warning" for f in json.loads(everything.output))
    errors = lint("--format", "json", "--min-severity", "error")
    assert not any(f["rule"] == "alias-traversal" for f in json.loads(errors.output))
