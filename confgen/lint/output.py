"""Lint findings for people (text) and for tools (json, SARIF 2.1.0, GitHub annotations).

Text is one ``path:line:col: CODE name: message`` line per finding (the form editors and
pre-commit jump to), then the notes (which gunicorn config was paired), then a summary. The
summary never says "no problems" when a finding exists, and a file that failed to parse always
yields an error finding, so a parse failure can never read as a clean run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from confgen.lint.engine import all_rules
from confgen.lint.registry import LintResult
from confgen.errors import ConfgenError

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
_GITHUB_LEVELS = {"error": "error", "warning": "warning", "info": "notice"}
_COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}


def format_findings(result: LintResult, fmt: str, *, color: bool = False, quiet: bool = False, fixes=None) -> str:
    """``fixes``: a confgen.lint.fixes.apply.FixPlan for ``result``; text output then marks the
    findings ``--fix`` fixes with ``[*]`` and counts them."""
    if fmt == "text":
        return _text(result, color=color, quiet=quiet, fixes=fixes)
    if fmt == "json":
        return json.dumps([f.as_dict() for f in result.findings], indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(sarif(result), indent=2) + "\n"
    if fmt == "github":
        return "".join(_github_line(f) + "\n" for f in result.findings)
    raise ConfgenError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")


def _text(result: LintResult, *, color: bool, quiet: bool, fixes=None) -> str:
    import click

    def paint(text: str, **style) -> str:
        return click.style(text, **style) if color else text

    fixable = fixes.fixable_keys() if fixes is not None else set()

    def mark(finding) -> str:
        return " [*]" if (finding.code, finding.file, finding.line, finding.message) in fixable else ""

    lines = [f"{paint(f'{f.file}:{f.line}:{f.col}:', bold=True)} {paint(f.code, fg=_COLOURS[f.severity], bold=True)}"
             f"{mark(f)} {f.rule}: {f.message}" for f in result.findings]
    if not quiet:
        lines += [paint(f"note: {note}", dim=True) for note in result.notes]
        lines.append(summary(result))
        if fixes is not None and (fixable or fixes.unsafe):
            count = sum(1 for f in result.findings if mark(f))
            unsafe = f" ({len(fixes.unsafe)} more with --unsafe-fixes)" if fixes.unsafe else ""
            lines.append(f"{count} fixable with --fix{unsafe}")
    return "\n".join(lines) + "\n" if lines else ""


def summary(result: LintResult) -> str:
    files = len(result.files)
    in_files = f"in {files} file{'s' if files != 1 else ''}"
    total = len(result.findings)
    if not total:
        return f"no problems {in_files}"
    errors, warnings, infos = (result.count(s) for s in ("error", "warning", "info"))
    return (f"{total} problem{'s' if total != 1 else ''} ({errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}, {infos} info) {in_files}")


# ---------------------------------------------------------------------------------------------
# SARIF 2.1.0, as GitHub code scanning reads it


def sarif(result: LintResult, base: str | os.PathLike | None = None) -> dict:
    import hashlib  # here, not at the top: it loads OpenSSL, which only SARIF's fingerprints need
    from importlib import metadata

    from confgen.lint.docs import rule_text

    base_dir = Path(base) if base else _repository_root(Path.cwd())
    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    try:
        version = metadata.version("confgen")
    except metadata.PackageNotFoundError:
        version = "0"
    driver_rules = [
        {
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.doc.summary},
            "fullDescription": {"text": r.doc.why or r.doc.summary},
            "help": {"text": rule_text(r)},
            "defaultConfiguration": {"level": _SARIF_LEVELS[r.severity]},
            "properties": {"tags": [r.name.split("-")[0]]},
        }
        for r in rules
    ]
    results = []
    for finding in result.findings:
        uri = _relative_uri(finding.file, base_dir)
        fingerprint = hashlib.sha256(f"{finding.code}\0{uri}\0{finding.message}".encode()).hexdigest()
        results.append({
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": _SARIF_LEVELS[finding.severity],
            "message": {"text": f"{finding.rule}: {finding.message}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(1, finding.line), "startColumn": max(1, finding.col)},
            }}],
            "partialFingerprints": {"confgenFinding/v1": fingerprint},
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "confgen", "version": version, "semanticVersion": version,
                                "informationUri": "https://pypi.org/project/confgen/", "rules": driver_rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": base_dir.resolve().as_uri() + "/"}},
            "results": results,
        }],
    }


def _repository_root(start: Path) -> Path:
    """The enclosing git work tree (what GitHub's paths are relative to), else ``start``."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / ".git").exists():
            return folder
    return start


def _relative_uri(file: str, base: Path) -> str:
    if file.startswith("<"):
        return file.strip("<>")
    try:
        return Path(file).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return Path(file).as_posix().lstrip("/")


# ---------------------------------------------------------------------------------------------
# GitHub Actions workflow commands


def _github_line(finding) -> str:
    properties = ",".join(f"{key}={_escape_property(str(value))}" for key, value in (
        ("file", finding.file), ("line", finding.line), ("col", finding.col),
        ("title", f"{finding.code} {finding.rule}")))
    return f"::{_GITHUB_LEVELS[finding.severity]} {properties}::{_escape_data(finding.message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
