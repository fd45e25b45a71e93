"""What a rule sees while it runs: the models, an index of directives, and where findings point."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator

from confgen.lint.registry import Finding, Rule


class LintContext:
    """What a rule sees: the nginx model, the gunicorn config and profile (or None), the target
    version, an index of directives by name, and :meth:`finding` to report."""

    def __init__(self, nginx, gunicorn=None, profile=None, *, gunicorn_label: str | None = None,
                 options: dict[str, dict[str, Any]] | None = None):
        self.nginx = nginx
        self.gunicorn = gunicorn
        self.profile = profile
        self.version: tuple[int, int, int] = tuple(nginx.nginx_version)
        self.gunicorn_label = gunicorn_label
        # The chain around this tree: another app server than gunicorn (confgen.appserver), the
        # app's hop whichever server it is, and a balancer declared in front (confgen.hops).
        self.app_server = None
        self.app_hop = None
        self.behind = None
        # True for an app linted with no nginx in front: only the chain rules run.
        self.app_only = False
        # The host names the app is reached by (a compose service's name): routes to other hosts
        # are not the app's, even on the same port. Empty: any host.
        self.app_hosts: tuple[str, ...] = ()
        # The host names of the tree's other app sides (other services of its compose file): their
        # routes are judged in their own context, with what is known of that app.
        self.other_app_hosts: tuple[str, ...] = ()
        # The binds of the tree's other app sides reached by address (programs of one supervisor
        # config): routes to them are judged in their own context too.
        self.other_app_binds: tuple[str, ...] = ()
        # For a chain read from Kubernetes manifests: how its pods stop (confgen.manifests.chains.PodShutdown).
        self.manifest_pod = None
        self.rule: Rule | None = None
        self.memo: dict[str, Any] = {}
        # rule name -> {option: value}, validated by the engine against the rules' declarations.
        self.options = options or {}
        self.notes: list[str] = []
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

    def names(self) -> list[str]:
        """Every directive name the config uses, once each (from the same walk)."""
        return list(self._index)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value several rules derive (routes, maps), computed once per lint."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def option(self, name: str) -> Any:
        """The running rule's option ``name``: the project's value, else the rule's default."""
        assert self.rule is not None, "option() is only for rules the engine is running"
        declared = self.rule.option(name)
        return self.options.get(self.rule.name, {}).get(name, declared.default)

    def note(self, text: str) -> None:
        """Tell the user something that is not a finding (what a rule could not decide, and why)."""
        if text not in self.notes:
            self.notes.append(text)

    def unresolved_include(self, at, *, inherited: bool = True) -> Any:
        """The include, in block ``at`` or (``inherited``) a level enclosing it, of a file the
        deployment provides (outside the linted tree and not on this machine), or None. A rule
        that reports a missing or default value must stay silent when there is one: that file
        may set the value. ``inherited=False`` for what does not inherit (an upstream's own
        ``keepalive``)."""
        unresolved = getattr(self.nginx, "unresolved_includes", None)
        if not unresolved:
            return None
        levels = self.cached("unresolved_include_levels",
                             lambda: {id(include.parent): include for include in unresolved})
        if not inherited:
            return levels.get(id(at))
        # What each level inherits, remembered as it is found: asking for every block of a deeply
        # nested config walks each level once, not once per block below it.
        inherited_from = self.cached("unresolved_include_inherited", dict)
        walked, level = [], at
        while level is not None and id(level) not in inherited_from:
            if id(level) in levels:
                inherited_from[id(level)] = levels[id(level)]
                break
            walked.append(level)
            level = level.parent
        found = inherited_from.get(id(level)) if level is not None else None
        for below in walked:
            inherited_from[id(below)] = found
        return found

    def finding(self, anchor, message: str, *, severity: str | None = None, fix=None) -> Finding:
        """A finding of the running rule at a Directive (its exact line and column) or a
        ``(file, line)``, with the rule's ``fix`` (a confgen.lint.fixes.base.Fix) if it has one."""
        assert self.rule is not None, "finding() is only for rules the engine is running"
        if isinstance(anchor, tuple):
            file, line = anchor
            name, column = None, 0
        else:
            file, line, name, column = anchor.file, anchor.line, anchor.name, getattr(anchor, "column", 0)
        line = line or 1
        finding = Finding(code=self.rule.code, rule=self.rule.name, severity=severity or self.rule.severity,
                          file=file, line=line, col=column, message=message, fix=fix)
        if not column:
            # Filled in when the rules have run, one read of each file for all such findings.
            self._column_of[id(finding)] = (finding, name)
        return finding

    def file_text(self, file: str) -> str | None:
        """The whole text of a linted file as it was read (stdin, a dump's part, or the file
        on disk); None when it cannot be read."""
        return self._lines.text(file)

    def source_lines(self, wanted) -> dict[tuple[str, int], str]:
        """The text of each (file, line) asked for, as written (read once per file, only up to
        the last line asked for)."""
        return self._lines.lines(wanted)

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

    def _held(self, file: str) -> str | None:
        """The text of a file not read from disk (stdin, a dump's part, an overlay), or None."""
        from confgen.files import overlaid_text

        text = self._texts.get(file)
        return text if text is not None else overlaid_text(file)

    def text(self, file: str) -> str | None:
        from confgen.errors import ConfgenError
        from confgen.files import read_text_file

        text = self._held(file)
        if text is None:
            try:
                text = read_text_file(file, 64 * 1024 * 1024)
            except (ConfgenError, OSError, ValueError):
                return None
        return text

    def _lines(self, file: str) -> Iterator[str]:
        # Lines end at "\n" only, as nginx and crossplane count them.
        text = self._held(file)
        if text is not None:
            for line in text.split("\n"):
                yield line.rstrip("\r")
            return
        try:
            with open(file, encoding="utf-8", errors="replace", newline="\n") as handle:
                for line in handle:
                    yield line.rstrip("\r\n")
        except (OSError, ValueError):
            return

    def lines(self, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The text of each (file, line) asked for, read in one pass per file."""
        by_file: dict[str, set[int]] = {}
        for file, line in wanted:
            by_file.setdefault(file, set()).add(line)
        found: dict[tuple[str, int], str] = {}
        for file, numbers in by_file.items():
            last = max(numbers)
            for number, text in enumerate(self._lines(file), 1):
                if number in numbers:
                    found[(file, number)] = text
                if number >= last:
                    break
        return found

    def columns(self, wanted: Iterable[tuple[str, int, str | None]]) -> dict[tuple[str, int, str | None], int]:
        """1-based column per (file, line, name): where ``name`` starts on that line, else the
        line's first non-blank character; 1 for a line the file does not have."""
        wanted = list(wanted)
        texts = self.lines((file, line) for file, line, _ in wanted)
        return {(file, line, name): _column(texts[(file, line)], name)
                for file, line, name in wanted if (file, line) in texts}

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
        # A comment ends its line: the last place its text is, not a quoted copy before it.
        index = text.rfind(name) if name.startswith("#") else text.find(name)
        if index >= 0:
            return index + 1
    return len(text) - len(text.lstrip()) + 1
