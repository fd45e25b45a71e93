"""What a fixer sees, and the table of fixers by rule name.

A fixer is ``fn(fx: FixContext, finding) -> Fix`` registered with :func:`fixer` for one rule; it
raises :class:`~confgen.lint.fixes.edits.Unfixable` with the reason when it will not fix that
finding. ``kind`` is the rule's fix kind (``safe``: applied by ``--fix``; ``unsafe``: only with
``--unsafe-fixes``, because it changes behaviour a user may rely on); a fixer may return an
unsafe Fix for one finding of a safe rule when that finding's fix depends on what confgen
cannot see (the app behind an upstream, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from confgen.lint.fixes.edits import Edit, Unfixable
from confgen.lint.fixes.nginx_source import Source, Statement

MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass
class Fix:
    edits: list[Edit]
    safe: bool = True


@dataclass(frozen=True)
class Fixer:
    rule: str
    kind: str  # "safe" | "unsafe"
    fn: Callable


FIXERS: dict[str, Fixer] = {}


def fixer(rule_name: str, kind: str = "safe"):
    if kind not in ("safe", "unsafe"):
        raise ValueError(f"fixer for {rule_name}: kind must be safe or unsafe")

    def register(fn):
        FIXERS[rule_name] = Fixer(rule_name, kind, fn)
        return fn
    return register


@dataclass
class FixContext:
    lint: object                                   # the LintContext the finding came from
    texts: dict[str, str] = field(default_factory=dict)
    _sources: dict[str, Source] = field(default_factory=dict)

    @property
    def nginx(self):
        return self.lint.nginx

    @property
    def gunicorn(self):
        return self.lint.gunicorn

    def option(self, rule_name: str, name: str):
        """A rule's option as the project sets it (the rule's default otherwise)."""
        from confgen.lint.registry import lookup

        running, self.lint.rule = self.lint.rule, lookup(rule_name)
        try:
            return self.lint.option(name)
        finally:
            self.lint.rule = running

    def text(self, path: str) -> str:
        if path not in self.texts:
            self.texts[path] = read_text(path)
        return self.texts[path]

    def source(self, path: str) -> Source:
        if path not in self._sources:
            self._sources[path] = Source(path, self.text(path))
        return self._sources[path]

    def statement(self, directive) -> tuple[Source, Statement]:
        if directive is None or directive.file.startswith("<"):
            raise Unfixable("the directive is not in a file confgen can edit")
        source = self.source(directive.file)
        return source, source.statement_for(directive)

    def by_place(self) -> dict[tuple[str, int], list]:
        """Directives by (file, line), built once: a finding names a place, not a directive."""
        index = self.lint.memo.get("fixes:by_place")
        if index is None:
            index = {}
            for directive in self.nginx.walk():
                index.setdefault((directive.file, directive.line), []).append(directive)
            self.lint.memo["fixes:by_place"] = index
        return index

    def at(self, finding, *names: str):
        """The model directive a finding points at: named one of ``names`` at its file and line."""
        here = self.by_place().get((finding.file, finding.line), [])
        for name in names:
            for directive in here:
                if directive.name == name:
                    return directive
        raise Unfixable(f"cannot find the {' or '.join(names)} directive the finding points at")

    def instances(self, directive) -> list:
        """Every place the directive's text is used: more than one when its file is included
        from several places (each include is a copy in the model)."""
        return [d for d in self.by_place().get((directive.file, directive.line), [])
                if d.name == directive.name and d.args == directive.args]

    def same_everywhere(self, directive, compute: Callable[[object], list[Edit]]) -> list[Edit]:
        """``compute(instance)`` for every place the directive's file is used; a file included
        from several places is edited only when the fix is the same for all of them."""
        results = [sorted(set(compute(instance))) for instance in self.instances(directive) or [directive]]
        if any(r != results[0] for r in results[1:]):
            raise Unfixable(f"{directive.file} is included from {len(results)} places and the fix is not the "
                            f"same for all of them; fix it by hand")
        return results[0]


def read_text(path: str) -> str:
    from confgen.errors import ConfgenError
    from confgen.files import read_text_file

    try:
        return read_text_file(path, MAX_FILE_BYTES)
    except ConfgenError as error:
        raise Unfixable(str(error)) from None


def enclosing_level(block, allowed: tuple[str, ...] = ("location", "server", "http")):
    """``block`` itself, or the nearest enclosing block where a directive of ``allowed``
    contexts may be written (proxy_set_header is not allowed inside ``if`` or ``limit_except``)."""
    level = block
    while level is not None and level.name not in allowed:
        level = level.parent
    if level is None:
        raise Unfixable("no enclosing location, server or http block to write the directive in")
    return level
