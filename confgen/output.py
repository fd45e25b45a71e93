"""Lint findings for people (text) and for tools (json).

Text is one ``path:line:col: CODE name: message`` line per finding (the form editors and
pre-commit jump to), then the notes (which gunicorn config was paired), then a summary. The
summary never says "no problems" when a finding exists, and a file that failed to parse always
yields an error finding, so a parse failure can never read as a clean run.
"""

from __future__ import annotations

import json

from confgen.errors import ConfgenError
from confgen.lint import LintResult

FORMATS = ("text", "json")


def format_findings(result: LintResult, fmt: str) -> str:
    if fmt == "text":
        return _text(result)
    if fmt == "json":
        return json.dumps([f.as_dict() for f in result.findings], indent=2) + "\n"
    raise ConfgenError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")


def _text(result: LintResult) -> str:
    lines = [f"{f.file}:{f.line}:{f.col}: {f.code} {f.rule}: {f.message}" for f in result.findings]
    lines += [f"note: {note}" for note in result.notes]
    lines.append(summary(result))
    return "\n".join(lines) + "\n"


def summary(result: LintResult) -> str:
    files = len(result.files)
    in_files = f"in {files} file{'s' if files != 1 else ''}"
    total = len(result.findings)
    if not total:
        return f"no problems {in_files}"
    errors, warnings, infos = (result.count(s) for s in ("error", "warning", "info"))
    return (f"{total} problem{'s' if total != 1 else ''} ({errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}, {infos} info) {in_files}")
