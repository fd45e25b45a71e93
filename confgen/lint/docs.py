"""Rule documentation, read from the rules' docstrings: the one source of truth for
``confgen rules``, ``confgen rule NAME``, SARIF help text and ``docs/rules.md``."""

from __future__ import annotations

from confgen.lint.engine import all_rules
from confgen.lint.registry import Rule


def rules_table() -> str:
    """One line per rule: code, name, severity, summary."""
    rules = all_rules()
    width = max(len(r.name) for r in rules)
    return "\n".join(f"{r.code}  {r.name:<{width}}  {r.severity:<7}  {r.doc.summary}" for r in rules) + "\n"


def rule_text(rule: Rule) -> str:
    """What ``confgen rule NAME`` prints: the whole documentation of one rule."""
    doc = rule.doc
    parts = [f"{rule.code} {rule.name} ({rule.severity})", "", doc.summary, ""]
    if doc.why:
        parts += [doc.why, ""]
    if rule.needs:
        parts += [f"Runs with: {', '.join(_NEEDS_TEXT[n] for n in rule.needs)}.", ""]
    for title, block in (("Bad", doc.bad), ("Good", doc.good), ("gunicorn.conf.py", doc.gunicorn)):
        if block:
            parts += [f"{title}:", *("    " + line if line else "" for line in block.rstrip("\n").splitlines()), ""]
    parts.append(f"Suppress: # confgen: disable={rule.name} -- <reason>")
    return "\n".join(parts) + "\n"


def rules_markdown() -> str:
    """docs/rules.md: generated, never edited by hand (a test fails when it is stale)."""
    rules = all_rules()
    out = [
        "# confgen rules",
        "",
        "<!-- Generated from the rules' docstrings by `python scripts/gen_rule_docs.py`; do not edit. -->",
        "",
        "| code | name | severity | summary |",
        "|---|---|---|---|",
        *(f"| {r.code} | [{r.name}](#{r.name}) | {r.severity} | {r.doc.summary} |" for r in rules),
        "",
    ]
    for r in rules:
        doc = r.doc
        out += [f"## {r.name}", "", f"`{r.code}` · severity **{r.severity}**"
                + (f" · runs with {', '.join(_NEEDS_TEXT[n] for n in r.needs)}" if r.needs else ""), "",
                doc.summary, ""]
        if doc.why:
            out += [doc.why, ""]
        for title, block, lang in (("Bad", doc.bad, "nginx"), ("Good", doc.good, "nginx"),
                                   ("With gunicorn.conf.py", doc.gunicorn, "python")):
            if block:
                out += [f"{title}:", "", f"```{lang}", block.rstrip("\n"), "```", ""]
    return "\n".join(out)


_NEEDS_TEXT = {
    "gunicorn": "a gunicorn config (paired, --gunicorn or --gunicorn-cmd)",
    "full": "a whole nginx config (not a snippet)",
    "profile": "--profile",
}
