"""Rule documentation comes from the docstrings: the CLI shows it and docs/rules.md is current."""

from __future__ import annotations

from click.testing import CliRunner

from confgen.cli import main
from confgen.lint.engine import all_rules
from confgen.lint.docs import rules_markdown
from conftest import REPO


def test_docs_rules_md_is_generated_from_the_docstrings():
    current = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == rules_markdown(), "docs/rules.md is stale: run `python scripts/gen_rule_docs.py`"


def test_rules_lists_every_rule():
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == len(all_rules())
    for rule, line in zip(all_rules(), lines):
        assert line.split()[:3] == [rule.code, rule.name, rule.severity]
        assert rule.doc.summary in line


def test_rule_by_name_and_code_prints_what_why_bad_good():
    for key in ("keepalive-needs-http11", "CG101", "cg101"):
        result = CliRunner().invoke(main, ["rule", key])
        assert result.exit_code == 0
        assert result.output.startswith("CG101 keepalive-needs-http11 (error)")
        assert "Bad:" in result.output and "Good:" in result.output and "proxy_http_version 1.1" in result.output


def test_unknown_rule_is_exit_2():
    result = CliRunner().invoke(main, ["rule", "no-such-rule"])
    assert result.exit_code == 2 and "no such rule" in result.output


def test_every_rule_documents_why_and_both_examples():
    for rule in all_rules():
        if rule.always:
            continue
        assert rule.doc.why and rule.doc.bad and rule.doc.good, rule.name
