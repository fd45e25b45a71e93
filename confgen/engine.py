"""The rule engine: the registry, the context rules read, suppressions, selection, running.

A rule is a small generator function decorated with :func:`rule`; its docstring is its
documentation (summary, why, ``Bad:`` and ``Good:`` examples), read by the registry so docs,
``confgen rules`` and the tests never drift from the code. The engine owns everything rules share:
which rules run (``needs``, ``--select``/``--ignore``), inline suppressions, the snippet focus, and
where a finding points (file, line, column).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import inspect
import os
import re
import sys
import tokenize
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator

from confgen.errors import ConfgenError

SEVERITIES = ("error", "warning", "info")
NEEDS = ("gunicorn", "full", "profile")
GUNICORN_FILE_NAME = "gunicorn.conf.py"
STDIN = "-"
STDIN_LABEL = "<stdin>"

_CODE_RE = re.compile(r"^CG\d{3}$")
_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# "confgen: disable=a,b -- reason" / "confgen: disable-file=a -- reason" inside a comment.
_SUPPRESSION_RE = re.compile(r"^\s*confgen:\s*(disable|disable-file)\s*=\s*(.*?)\s*$")
_DOC_SECTION_RE = re.compile(r"^(Bad|Good|Gunicorn|Good gunicorn|Version):\s*(.*)$")


# ---------------------------------------------------------------------------------------------
# Findings and results


@dataclass(frozen=True)
class Finding:
    code: str
    rule: str
    severity: str
    file: str
    line: int
    col: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "rule": self.rule, "severity": self.severity, "file": self.file,
                "line": self.line, "col": self.col, "message": self.message}


@dataclass
class LintResult:
    findings: list[Finding]
    files: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def has_problems(self) -> bool:
        """Anything at warning or above: what makes ``confgen lint`` exit 1."""
        return any(f.severity in ("error", "warning") for f in self.findings)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


# ---------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class RuleDoc:
    """A rule's docstring, split into the parts docs and ``confgen rule NAME`` show."""

    summary: str
    why: str
    bad: str
    good: str
    gunicorn: str | None = None   # a gunicorn.conf.py both examples are linted with
    good_gunicorn: str | None = None  # ... or, when it differs, the one the Good example uses
    version: str | None = None    # the nginx version both examples target


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    needs: tuple[str, ...]
    check: Callable[["LintContext"], Iterable[Finding]] | None
    # Findings the engine itself produces (parse problems): they cannot be deselected or
    # suppressed, because a file that did not parse was not linted and must never pass.
    always: bool = False

    @cached_property
    def doc(self) -> RuleDoc:
        return parse_rule_doc(self.check.__doc__ if self.check else "", self.name)


_RULES: dict[str, Rule] = {}
_BY_CODE: dict[str, Rule] = {}


def rule(*, code: str, name: str, severity: str, needs: tuple[str, ...] = (), always: bool = False):
    """Register ``fn(ctx) -> Iterator[Finding]`` as a rule; the docstring is its documentation."""
    if not _CODE_RE.match(code) or not _NAME_RE.match(name):
        raise ValueError(f"rule {name!r} ({code!r}): codes look like CG101, names like keepalive-needs-http11")
    if severity not in SEVERITIES or any(n not in NEEDS for n in needs):
        raise ValueError(f"rule {name}: severity must be one of {SEVERITIES}, needs among {NEEDS}")

    def register(fn):
        if (name in _RULES and _RULES[name].code != code) or (code in _BY_CODE and _BY_CODE[code].name != name):
            raise ValueError(f"rule {name} ({code}) clashes with an already registered rule")
        registered = Rule(code=code, name=name, severity=severity, needs=tuple(needs), check=fn, always=always)
        _RULES[name] = _BY_CODE[code] = registered
        fn.rule = registered
        return fn

    return register


def _load_rule_modules() -> None:
    import confgen.rules  # noqa: F401  (importing registers every rule family)


def all_rules() -> list[Rule]:
    """Every registered rule, in code order."""
    _load_rule_modules()
    return sorted(_RULES.values(), key=lambda r: r.code)


def get_rule(name_or_code: str) -> Rule:
    """A rule by kebab name or code (case-insensitive); ConfgenError when there is none."""
    found = find_rule(name_or_code)
    if found is None:
        raise ConfgenError(f"{name_or_code}: no such rule (rules are named like keepalive-needs-http11 "
                           f"or coded like CG101)")
    return found


def find_rule(name_or_code: str) -> Rule | None:
    _load_rule_modules()
    key = name_or_code.strip()
    return _RULES.get(key.lower()) or _BY_CODE.get(key.upper())


def parse_rule_doc(text: str, name: str) -> RuleDoc:
    """Split a rule docstring into summary, why and the examples (indented blocks after
    ``Bad:``, ``Good:``, optionally ``Gunicorn:`` and ``Good gunicorn:``; ``Version: 1.25.1``)."""
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
    return RuleDoc(summary=lines[0].strip(), why=why, bad=block("bad") or "", good=block("good") or "",
                   gunicorn=block("gunicorn"), good_gunicorn=block("good gunicorn"), version=(block("version") or "").strip() or None)


# ---------------------------------------------------------------------------------------------
# The context rules read


class LintContext:
    """What a rule sees: the nginx model, the gunicorn config and profile (or None), the target
    version, an index of directives by name, and :meth:`finding` to report."""

    def __init__(self, nginx, gunicorn=None, profile=None, *, gunicorn_label: str | None = None):
        self.nginx = nginx
        self.gunicorn = gunicorn
        self.profile = profile
        self.version: tuple[int, int, int] = tuple(nginx.nginx_version)
        self.gunicorn_label = gunicorn_label
        self.rule: Rule | None = None
        self.memo: dict[str, Any] = {}
        self._lines = _FileLines()
        # id -> (the finding, the directive name its column points at): the findings are kept
        # alive here, so an id always means the finding it was recorded for.
        self._column_of: dict[int, tuple[Finding, str | None]] = {}

    @cached_property
    def _index(self) -> dict[str, list]:
        index: dict[str, list] = {}
        for directive in self.nginx.walk():
            index.setdefault(directive.name, []).append(directive)
        return index

    def all(self, name: str) -> list:
        """Every directive named ``name``, in document order (one walk for all rules)."""
        return self._index.get(name, [])

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value several rules derive (routes, maps), computed once per lint."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def finding(self, anchor, message: str, *, severity: str | None = None) -> Finding:
        """A finding of the running rule at a Directive or a ``(file, line)``."""
        assert self.rule is not None, "finding() is only for rules the engine is running"
        if isinstance(anchor, tuple):
            file, line = anchor
            name = None
        else:
            file, line, name = anchor.file, anchor.line, anchor.name
        line = line or 1
        # The column is filled in when the rules have run, one read of each file for all findings.
        finding = Finding(code=self.rule.code, rule=self.rule.name, severity=severity or self.rule.severity,
                          file=file, line=line, col=0, message=message)
        self._column_of[id(finding)] = (finding, name)
        return finding

    def with_columns(self, findings: list[Finding]) -> list[Finding]:
        """``findings`` with their columns; one a rule made itself keeps the column it has."""
        pending = {}
        for finding in findings:
            made, name = self._column_of.get(id(finding), (None, None))
            if made is finding:
                pending[id(finding)] = (finding.file, finding.line, name)
        columns = self._lines.columns(pending.values())
        return [dataclasses.replace(f, col=columns.get(pending[id(f)], 1)) if id(f) in pending else f
                for f in findings]

    def block_anchor(self, block) -> Any:
        """Where a finding about something absent from ``block`` points: the block's own line,
        or for the synthetic root the main file's first directive (never line 0)."""
        if getattr(block, "parent", None) is not None and block.line:
            return block
        children = [d for d in (block.block or []) if d.file == self.nginx.main_file] or list(block.block or [])
        if children:
            return children[0]
        return (self.nginx.main_file, 1)


class _FileLines:
    """Source lines, for finding columns and suppression placement. A file is read line by line
    when asked for a batch of lines, and only the lines asked for are kept: holding every line
    of a 200 000-line config would cost more than its directives."""

    def __init__(self):
        self._texts: dict[str, str] = {}  # files not on disk (stdin)

    def set_text(self, file: str, text: str) -> None:
        self._texts[file] = text

    def _lines(self, file: str) -> Iterator[str]:
        # Lines end at "\n" only, as nginx and crossplane count them.
        if file in self._texts:
            for line in self._texts[file].split("\n"):
                yield line.rstrip("\r")
            return
        try:
            with open(file, encoding="utf-8", errors="replace", newline="\n") as handle:
                for line in handle:
                    yield line.rstrip("\r\n")
        except (OSError, ValueError):
            return

    def columns(self, wanted: Iterable[tuple[str, int, str | None]]) -> dict[tuple[str, int, str | None], int]:
        """1-based column per (file, line, name): where ``name`` starts on that line, else the
        line's first non-blank character; 1 for a line the file does not have."""
        by_file: dict[str, dict[int, set[str | None]]] = {}
        for file, line, name in wanted:
            by_file.setdefault(file, {}).setdefault(line, set()).add(name)
        found: dict[tuple[str, int, str | None], int] = {}
        for file, lines in by_file.items():
            last = max(lines)
            for number, text in enumerate(self._lines(file), 1):
                for name in lines.get(number, ()):
                    found[(file, number, name)] = _column(text, name)
                if number >= last:
                    break
        return found

    def next_statements(self, file: str, comment_lines: Iterable[int]) -> dict[int, int]:
        """For each of ``comment_lines`` that holds only a comment: the next line holding a
        statement, past blank and comment lines (the line after the last at the end of the
        file). A line with a statement before its comment is left out."""
        pending = set(comment_lines)
        found: dict[int, int] = {}
        open_comments: list[int] = []
        number = 0
        for number, text in enumerate(self._lines(file), 1):
            stripped = text.strip()
            is_statement = bool(stripped) and not stripped.startswith("#")
            if is_statement and open_comments:
                found.update(dict.fromkeys(open_comments, number))
                open_comments.clear()
            if number in pending:
                pending.discard(number)
                if stripped.startswith("#"):
                    open_comments.append(number)
            if not pending and not open_comments:
                break
        found.update(dict.fromkeys(open_comments, number + 1))
        return found


def _column(text: str, name: str | None) -> int:
    if name:
        index = text.find(name)
        if index >= 0:
            return index + 1
    return len(text) - len(text.lstrip()) + 1


# ---------------------------------------------------------------------------------------------
# Suppressions


@dataclass
class _Suppressions:
    """Which rule codes are switched off per file and per line, and the findings about the
    suppression comments themselves (no reason, unknown rule)."""

    per_file: dict[str, set[str]] = field(default_factory=dict)
    per_line: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    problems: list[tuple[str, str, int, str]] = field(default_factory=list)  # (rule, file, line, msg)

    def covers(self, finding: Finding) -> bool:
        return (finding.code in self.per_file.get(finding.file, ())
                or finding.code in self.per_line.get((finding.file, finding.line), ()))

    def add_comment(self, file: str, line: int, match: re.Match, next_statement: int | None) -> None:
        """One suppression comment; ``next_statement`` is the line a comment on its own line
        covers (None for a comment after a statement)."""
        kind, rest = match.groups()
        names_part, _, reason = rest.partition("--")
        names = [n.strip() for n in names_part.split(",") if n.strip()]
        codes = set()
        for name in names:
            found = find_rule(name)
            if found is None:
                self.problems.append(("suppression-unknown-rule", file, line,
                                      f"`confgen: {kind}` names {name!r}, which is not a rule; nothing is suppressed by it"))
            else:
                codes.add(found.code)
        if not names:
            self.problems.append(("suppression-unknown-rule", file, line,
                                  f"`confgen: {kind}=` names no rule"))
        if not reason.strip():
            self.problems.append(("suppression-without-reason", file, line,
                                  f"`confgen: {kind}={','.join(names)}` gives no reason; add ` -- why` "
                                  f"so the next reader knows why the rule does not apply"))
        if kind == "disable-file":
            self.per_file.setdefault(file, set()).update(codes)
            return
        self.per_line.setdefault((file, line), set()).update(codes)
        if next_statement is not None:
            # A comment on its own line covers the next statement line (other comments between
            # them allowed), so a reason can run over several comment lines.
            self.per_line.setdefault((file, next_statement), set()).update(codes)


def _python_comments(path: str) -> dict[int, str]:
    """The ``#`` comments of a Python file (gunicorn.conf.py) by line, via tokenize."""
    comments: dict[int, str] = {}
    try:
        with open(path, "rb") as handle:
            for token in tokenize.tokenize(handle.readline):
                if token.type == tokenize.COMMENT:
                    comments[token.start[0]] = token.string[1:]
    except (OSError, SyntaxError, tokenize.TokenError, UnicodeDecodeError):
        pass
    return comments


# ---------------------------------------------------------------------------------------------
# Selection


def resolve_rule_names(names: Iterable[str], option: str) -> set[str]:
    """Codes of the rules named by kebab names, codes, or code prefixes such as ``CG1``;
    ConfgenError naming ``option`` for anything that matches no rule."""
    codes, unknown = set(), []
    rules = all_rules()
    for name in names:
        found = find_rule(name)
        if found is not None:
            codes.add(found.code)
        elif re.fullmatch(r"CG\d{0,2}", name.strip().upper()) and any(r.code.startswith(name.strip().upper()) for r in rules):
            codes.update(r.code for r in rules if r.code.startswith(name.strip().upper()))
        else:
            unknown.append(name)
    if unknown:
        raise ConfgenError(f"{option}: no such rule: {', '.join(unknown)} "
                           f"(rules are named like keepalive-needs-http11 or coded like CG101)")
    return codes


def _selected_rules(select: Iterable[str], ignore: Iterable[str]) -> list[Rule]:
    rules = all_rules()
    selected = resolve_rule_names(select, "--select")
    ignored = resolve_rule_names(ignore, "--ignore")
    unignorable = sorted(r.name for r in rules if r.always and r.code in ignored)
    if unignorable:
        raise ConfgenError(f"--ignore: {', '.join(unignorable)} cannot be ignored: a file that does not "
                           f"parse is not linted, so it must not pass")
    return [r for r in rules
            if r.always or ((not selected or r.code in selected) and r.code not in ignored)]


# ---------------------------------------------------------------------------------------------
# Running


def lint(paths: list[str], *, gunicorn=None, gunicorn_cmd=None, profile=None, root=None,
         nginx_version=None, select=(), ignore=(), progress: Callable[[int, int, str], None] | None = None) -> LintResult:
    """Lint nginx files (``"-"`` reads stdin) with their gunicorn config and optional profile.

    ConfgenError for what the user must fix before linting can start: missing or unreadable
    files, a directory, an unknown rule name, a bad version or profile.
    """
    if not paths:
        raise ConfgenError("confgen lint: give at least one nginx file (or - for stdin)")
    rules = _selected_rules(select, ignore)
    _check_version(nginx_version)
    _check_readable([p for p in paths if p != STDIN] + ([root] if root else []) + ([gunicorn] if gunicorn else []))

    notes: list[str] = []
    gunicorn_config, gunicorn_label = _pair_gunicorn(paths, gunicorn, gunicorn_cmd, notes)
    profile_obj = _load_profile(profile) if profile else None

    findings: list[Finding] = []
    files: list[str] = []
    gunicorn_path = getattr(gunicorn_config, "path", None)
    with _collector_paused():
        configs = _load_configs(paths, root=root, progress=progress,
                                nginx_version=None if nginx_version is None else str(nginx_version))
        for config, focus, stdin_text in configs:
            ctx = LintContext(config, gunicorn_config, profile_obj, gunicorn_label=gunicorn_label)
            if stdin_text is not None:
                ctx._lines.set_text(config.main_file, stdin_text)
            if focus is not None and gunicorn_path:
                focus = focus | {_normal(gunicorn_path)}
            findings.extend(_run(ctx, rules, focus))
            files.extend(f for f in config.files if f not in files)
            notes.extend(note for note in config.notes if note not in notes)
    if gunicorn_config is not None and gunicorn_config.path and gunicorn_config.path not in files:
        files.append(gunicorn_config.path)

    unique = list(dict.fromkeys(findings))
    order = {f: i for i, f in enumerate(files)}
    unique.sort(key=lambda f: (order.get(f.file, len(order)), f.file, f.line, f.col, f.code, f.message))
    return LintResult(findings=unique, files=files, notes=notes)


@contextlib.contextmanager
def _collector_paused():
    """Python's cycle collector paused while a lint runs. A lint builds a tree of hundreds of
    thousands of directives and frees none of it before it ends, so every full collection would
    walk the whole, growing tree again for nothing: on a 200 000-line config that made the time
    grow faster than the size. Whatever state the collector was in is restored afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def adjust_findings(result: LintResult, *, severity: dict[str, str], ignored_for: Callable[[str], Iterable[str]],
                    min_severity: str = "info", config_label: str = "") -> LintResult:
    """Project-level adjustments: per-rule severity overrides, per-file ignores, and a floor on
    each finding's own severity. Parse problems (``always`` rules) are never dropped or lowered:
    a file that did not parse was not linted and must not pass."""
    if min_severity not in SEVERITIES:
        raise ConfgenError(f"--min-severity: {min_severity!r} is not one of {', '.join(SEVERITIES)}")
    where = f"{config_label}: " if config_label else ""
    overrides: dict[str, str] = {}
    for name, level in severity.items():
        for code in resolve_rule_names([name], f"{where}severity"):
            overrides[code] = level
    floor = SEVERITIES.index(min_severity)
    ignored_cache: dict[str, set[str]] = {}
    kept = []
    for finding in result.findings:
        meta = find_rule(finding.code)
        if not meta.always:
            if finding.file not in ignored_cache:
                ignored_cache[finding.file] = resolve_rule_names(ignored_for(finding.file), f"{where}per-file-ignores")
            if finding.code in ignored_cache[finding.file]:
                continue
            if finding.code in overrides:
                finding = dataclasses.replace(finding, severity=overrides[finding.code])
            if SEVERITIES.index(finding.severity) > floor:
                continue
        kept.append(finding)
    return LintResult(findings=kept, files=result.files, notes=result.notes)


def _run(ctx: LintContext, rules: list[Rule], focus: set[str] | None) -> list[Finding]:
    wanted = {r.code for r in rules}
    suppressions = _collect_suppressions(ctx)
    found: list[Finding] = []

    for problem in ctx.nginx.problems:
        meta = find_rule(problem.kind) or get_rule("syntax-error")
        ctx.rule = meta
        found.append(ctx.finding((problem.file, problem.line), problem.message))
    if ctx.gunicorn is not None:
        ctx.rule = get_rule("gunicorn-config-error")
        for line, message in ctx.gunicorn.problems:
            found.append(ctx.finding((ctx.gunicorn.path or ctx.gunicorn_label or "<gunicorn>", line), message))

    for file_rule, file, line, message in suppressions.problems:
        ctx.rule = get_rule(file_rule)
        found.append(ctx.finding((file, line), message))

    for candidate in rules:
        if candidate.check is None or not _requirements_met(candidate, ctx):
            continue
        ctx.rule = candidate
        found.extend(candidate.check(ctx))
    ctx.rule = None

    kept = []
    for finding in found:
        meta = find_rule(finding.code)
        if meta.always:
            kept.append(finding)
            continue
        if finding.code not in wanted or suppressions.covers(finding):
            continue
        if focus is not None and _normal(finding.file) not in focus:
            continue
        kept.append(finding)
    return ctx.with_columns(kept)


def _requirements_met(candidate: Rule, ctx: LintContext) -> bool:
    if "gunicorn" in candidate.needs and ctx.gunicorn is None:
        return False
    if "profile" in candidate.needs and ctx.profile is None:
        return False
    if "full" in candidate.needs and not ctx.nginx.is_full:
        return False
    return True


def _collect_suppressions(ctx: LintContext) -> _Suppressions:
    by_file = dict(ctx.nginx.comments or {})
    path = getattr(ctx.gunicorn, "path", None)
    if path and os.path.isfile(path):
        by_file[path] = _python_comments(path)
    suppressions = _Suppressions()
    for file, comments in by_file.items():
        matches = {line: match for line, text in comments.items() if (match := _SUPPRESSION_RE.match(text))}
        if not matches:
            continue
        next_statements = ctx._lines.next_statements(file, matches)
        for line, match in matches.items():
            suppressions.add_comment(file, line, match, next_statements.get(line))
    return suppressions


# ---------------------------------------------------------------------------------------------
# Inputs


def _normal(path: str) -> str:
    return path if path.startswith("<") else os.path.normcase(os.path.realpath(path))


def _check_version(nginx_version) -> tuple[int, int, int] | None:
    if nginx_version is None:
        return None
    from confgen.versions import parse_version

    try:
        return parse_version(str(nginx_version))
    except ValueError as error:
        raise ConfgenError(f"--nginx-version: {error}") from None


def _check_readable(paths: list[str]) -> None:
    problems = []
    for path in paths:
        if os.path.isdir(path):
            problems.append(f"{path}: is a directory; give the nginx files themselves (e.g. {path}/*.conf)")
        elif not os.path.exists(path):
            problems.append(f"{path}: no such file")
        elif not os.access(path, os.R_OK):
            problems.append(f"{path}: not readable (permission denied)")
    if problems:
        raise ConfgenError(*problems)


def _pair_gunicorn(paths: list[str], gunicorn, gunicorn_cmd, notes: list[str]):
    """The gunicorn config the app rules check: --gunicorn and/or --gunicorn-cmd, else a
    gunicorn.conf.py beside the first nginx file. Returns (config or None, label)."""
    from confgen import gunicorn_reader

    base = None
    if gunicorn:
        base = gunicorn_reader.read_gunicorn_file(gunicorn)
        notes.append(f"paired gunicorn config: {gunicorn} (--gunicorn)")
    if gunicorn_cmd:
        config = gunicorn_reader.read_gunicorn_cmd(gunicorn_cmd, base=base)
        notes.append(f"paired gunicorn command line: {gunicorn_cmd}" + (f" over {gunicorn}" if gunicorn else ""))
        return config, gunicorn or "--gunicorn-cmd"
    if base is not None:
        return base, gunicorn
    first = next((p for p in paths if p != STDIN), None)
    if first is not None:
        beside = os.path.join(os.path.dirname(first), GUNICORN_FILE_NAME)
        if os.path.isfile(beside):
            notes.append(f"paired gunicorn config: {beside} (found beside {first})")
            return gunicorn_reader.read_gunicorn_file(beside), beside
    notes.append("no gunicorn config: app rules skipped (pass --gunicorn or --gunicorn-cmd, "
                 f"or put {GUNICORN_FILE_NAME} beside the nginx file)")
    return None, None


def _load_profile(path: str):
    from confgen.profile import load_profile

    _check_readable([path])
    return load_profile(path)


def _load_configs(paths: list[str], *, root, nginx_version,
                  progress: Callable[[int, int, str], None] | None = None) -> list[tuple[Any, set[str] | None, str | None]]:
    """One nginx model per input that is not already part of another input's config, with the
    files to report on (None: all files of that config) and, for stdin, the text read."""
    from confgen.nginx_parse import load_nginx

    loaded: list[tuple[Any, set[str] | None, str]] = []
    stdin_text = None
    unique_paths = list(dict.fromkeys(paths))
    for number, path in enumerate(unique_paths, 1):
        if progress is not None:
            progress(number, len(unique_paths), path)
        if path == STDIN:
            stdin_text = sys.stdin.read()
            config = load_nginx(stdin_text, nginx_version=nginx_version, root=root)
        else:
            config = load_nginx(path, nginx_version=nginx_version, root=root)
        focus = getattr(config, "focus_files", None)
        if root is not None or focus:
            focus_set = {_normal(f) for f in (focus or [])} | {_normal(config.main_file if path == STDIN else path)}
        else:
            focus_set = None
        loaded.append((config, focus_set, path))

    # `confgen lint nginx.conf conf.d/*.conf`: the snippets were already linted in place inside
    # nginx.conf; linting them again on their own would repeat findings without their context.
    # Files that include each other (a cycle) are both kept; equal findings are merged later.
    file_sets = [{_normal(f) for f in config.files} for config, _, _ in loaded]
    kept = []
    for index, (config, focus, path) in enumerate(loaded):
        own = _normal(path) if path != STDIN else None
        included_elsewhere = own is not None and focus is None and any(
            other != index and own in file_sets[other] and _normal(loaded[other][2]) not in file_sets[index]
            for other in range(len(loaded)) if loaded[other][2] != STDIN)
        if not included_elsewhere:
            kept.append((config, focus, stdin_text if path == STDIN else None))
    return kept
