"""A rule's documentation: its docstring split into summary, why, the examples and the fix's safety.

The one reader of rule docstrings (``Rule.doc`` calls it on first use); ``confgen rule NAME``,
``confgen rules``, SARIF help and ``docs/rules.md`` all show what it returns.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

_DOC_SECTION_RE = re.compile(r"^(Bad|Good|Gunicorn|Good gunicorn|App command|Good app command|Version|References|Fix safety):\s*(.*)$")


@dataclass(frozen=True)
class RuleDoc:
    """A rule's docstring, split into the parts docs and ``confgen rule NAME`` show."""

    summary: str
    why: str
    bad: str
    good: str
    gunicorn: str | None = None   # a gunicorn.conf.py both examples are linted with
    good_gunicorn: str | None = None  # ... or, when it differs, the one the Good example uses
    app_command: str | None = None    # the app server's command line beside them (another server than gunicorn)
    good_app_command: str | None = None  # ... or, when it differs, the Good example's
    version: str | None = None    # the nginx version both examples target
    references: tuple[str, ...] = ()  # the nginx / gunicorn documentation the rule rests on
    fix: str | None = None            # "safe" / "unsafe" / "mixed": what `confgen lint --fix` does for it
    fix_safety: str | None = None     # the "Fix safety:" paragraph: why the fix is safe (or not)


def parse_rule_doc(text: str, name: str) -> RuleDoc:
    """Split a rule docstring into summary, why and the examples (indented blocks after
    ``Bad:``, ``Good:``, optionally ``Gunicorn:`` and ``Good gunicorn:``; ``Version: 1.25.1``;
    ``References:`` followed by one documentation URL per line)."""
    lines = inspect.cleandoc(text or "").splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"rule {name}: the docstring needs a summary line")
    sections: dict[str, list[str]] = {"why": []}
    current = "why"
    for line in lines[1:]:
        match = _DOC_SECTION_RE.match(line)
        if match:
            current = match.group(1).lower()
            sections[current] = [match.group(2)] if match.group(2) else []
            continue
        sections[current].append(line)

    def block(key: str) -> str | None:
        if key not in sections:
            return None
        return inspect.cleandoc("\n".join(sections[key])).strip("\n") + "\n"

    why = " ".join(" ".join(sections["why"]).split())
    safety = " ".join(" ".join(sections.get("fix safety", [])).split()) or None
    references = tuple(line.strip() for line in (block("references") or "").splitlines() if line.strip())
    return RuleDoc(summary=lines[0].strip(), why=why, bad=block("bad") or "", good=block("good") or "",
                   gunicorn=block("gunicorn"), good_gunicorn=block("good gunicorn"),
                   app_command=(block("app command") or "").strip() or None,
                   good_app_command=(block("good app command") or "").strip() or None,
                   version=(block("version") or "").strip() or None, references=references,
                   fix=_fix_kind(safety, name), fix_safety=safety)


# The first words of a "Fix safety:" paragraph, and the kind they declare.
_FIX_KINDS = (("Safe or unsafe", "mixed"), ("Unsafe", "unsafe"), ("Safe", "safe"))


def _fix_kind(text: str | None, name: str) -> str | None:
    """``Fix safety: Safe ...`` (applied by --fix), ``Unsafe ...`` (only with --unsafe-fixes)
    or ``Safe or unsafe ...`` (which one depends on what the finding is about)."""
    if not text:
        return None
    for words, kind in _FIX_KINDS:
        if text.startswith(words):
            return kind
    raise ValueError(f"rule {name}: `Fix safety:` must start with Safe, Unsafe or 'Safe or unsafe', not {text[:30]!r}")
