"""Rule documentation, read from the rules' docstrings: the one source of truth for
``confgen rules``, ``confgen rule NAME``, SARIF help text and ``docs/rules.md``."""

from __future__ import annotations

from confgen.lint.engine import all_rules
from confgen.lint.registry import Rule


GROUP_TEXT = {
    "default": "on by default",
    "hardening": "opt-in: --select hardening, preset = \"strict\" or --select ALL",
}


def rules_table() -> str:
    """One line per rule: code, name, severity, group (default: on by default; hardening:
    opt-in), fix (safe: applied by --fix; unsafe: with --unsafe-fixes; -: none), summary."""
    rules = all_rules()
    width = max(len(r.name) for r in rules)
    return "\n".join(f"{r.code}  {r.name:<{width}}  {r.severity:<7}  {r.group:<9}  {r.doc.fix or '-':<6}  "
                      f"{r.doc.summary}" for r in rules) + "\n"


def rule_text(rule: Rule) -> str:
    """What ``confgen rule NAME`` prints: the whole documentation of one rule."""
    doc = rule.doc
    parts = [f"{rule.code} {rule.name} ({rule.severity})", "", doc.summary, ""]
    if doc.why:
        parts += [doc.why, ""]
    if not rule.always:
        parts += [f"Group: {rule.group} ({GROUP_TEXT[rule.group]}).", ""]
    if rule.needs:
        parts += [f"Runs with: {', '.join(_NEEDS_TEXT[n] for n in rule.needs)}.", ""]
    if rule.doc.fix:
        parts += [f"Fix: {rule.doc.fix} ({_FIX_TEXT[rule.doc.fix]}).", "", "Fix safety:",
                  *_wrapped(rule.doc.fix_safety), ""]
    if rule.options:
        parts += [f"Options ([tool.confgen.rules.{rule.name}]):", *(f"    {o.describe()}" for o in rule.options), ""]
    for title, block, _ in _examples(doc):
        if block:
            parts += [f"{title}:", *("    " + line if line else "" for line in block.rstrip("\n").splitlines()), ""]
    if doc.references:
        parts += ["References:", *(f"    {ref}" for ref in doc.references), ""]
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
        "Rules in the **default** group run unless deselected: they are right essentially every time",
        "they fire on the configs people publish (measured on `tests/corpus/`). Rules in the **hardening**",
        "group are defensible advice that is debatable on many real configs; they run with",
        "`--select hardening`, `preset = \"strict\"` in `[tool.confgen]`, `--select ALL` or by name.",
        "Thresholds are tuned under `[tool.confgen.rules.NAME]` (the options each rule lists).",
        "",
        "| code | name | severity | group | fix | summary |",
        "|---|---|---|---|---|---|",
        *(f"| {r.code} | [{r.name}](#{r.name}) | {r.severity} | {'' if r.always else r.group} | {r.doc.fix or ''} | {r.doc.summary} |"
          for r in rules),
        "",
    ]
    for r in rules:
        doc = r.doc
        out += [f"## {r.name}", "", f"`{r.code}` · severity **{r.severity}**"
                + ("" if r.always else f" · group **{r.group}**")
                + (f" · fix **{r.doc.fix}**" if r.doc.fix else "")
                + (f" · runs with {', '.join(_NEEDS_TEXT[n] for n in r.needs)}" if r.needs else ""), "",
                doc.summary, ""]
        if doc.why:
            out += [doc.why, ""]
        if r.options:
            out += [f"Options (`[tool.confgen.rules.{r.name}]`):", "",
                    *(f"- `{o.name}` ({o.type.__name__}, default `{o.default!r}`): {o.help}" for o in r.options), ""]
        for title, block, lang in _examples(doc):
            if block:
                out += [f"{title}:", "", f"```{lang}", block.rstrip("\n"), "```", ""]
        if doc.fix_safety:
            out += [f"Fix safety: {doc.fix_safety}", ""]
        if doc.references:
            out += ["References:", "", *(f"- <{ref}>" if ref.startswith("http") and " " not in ref else f"- {ref}"
                                         for ref in doc.references), ""]
    return "\n".join(out)


def _examples(doc) -> list[tuple[str, str | None, str]]:
    """(title, text, language) of a rule's examples: the nginx pair, and the gunicorn.conf.py (or
    the app server's command) both use, or the Bad one's and the Good one's when they differ."""
    if doc.app_command:
        command = [("Bad", doc.bad, "nginx"), ("App command (Procfile)", doc.app_command, "sh"), ("Good", doc.good, "nginx")]
        return command + ([("Good app command", doc.good_app_command, "sh")] if doc.good_app_command else [])
    if doc.good_gunicorn:
        return [("Bad", doc.bad, "nginx"), ("Bad gunicorn.conf.py", doc.gunicorn, "python"),
                ("Good", doc.good, "nginx"), ("Good gunicorn.conf.py", doc.good_gunicorn, "python")]
    return [("Bad", doc.bad, "nginx"), ("Good", doc.good, "nginx"),
            ("With gunicorn.conf.py", doc.gunicorn, "python")]


def _wrapped(text: str | None, width: int = 96) -> list[str]:
    import textwrap

    return textwrap.wrap(text or "", width, initial_indent="    ", subsequent_indent="    ")


_FIX_TEXT = {"safe": "confgen lint --fix applies it", "unsafe": "applied with --fix --unsafe-fixes only",
             "mixed": "safe or unsafe by case; see below"}

_NEEDS_TEXT = {
    "gunicorn": "a gunicorn config (paired, --gunicorn or --gunicorn-cmd)",
    "full": "a whole nginx config (not a snippet)",
    "profile": "--profile",
    "chain": "the app side of the chain (any app server), also for an app linted with no nginx in front (--behind)",
}
