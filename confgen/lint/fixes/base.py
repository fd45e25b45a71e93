"""A fix as a rule attaches it to its finding, and what building its edits sees.

A rule that can repair what it reports passes ``fix=Fix(build, safe=...)`` to
``ctx.finding(...)``, where it already knows the cause (the directive, the route, the values
it compared), as ruff's rules attach fixes to their diagnostics. ``build(fx)`` returns the edits
(or raises :class:`~confgen.lint.fixes.edits.Unfixable` with the reason); it runs only when
someone asks for the edits (``--fix``, ``--diff``, the ``[*]`` mark), never during a plain lint.

Safety is declared once, on the Fix, by the rule that builds it. A fix is safe when it never
makes a request that succeeded before fail and never changes a value it was not about;
everything else is unsafe (applied only with ``--unsafe-fixes``) or not offered. Each rule's
docstring explains its fix under ``Fix safety:``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from confgen.lint.fixes.edits import Edit, Unfixable

MAX_FILE_BYTES = 16 * 1024 * 1024


class Fix:
    """How to repair one finding: safe or not, and the edits (built on demand, once)."""

    __slots__ = ("safe", "build", "_result")

    def __init__(self, build: Callable[["FixContext"], list[Edit]], *, safe: bool = True):
        self.safe = safe
        self.build = build
        self._result: list[Edit] | Unfixable | None = None

    def edits(self, fx: "FixContext") -> list[Edit]:
        if self._result is None:
            try:
                self._result = list(self.build(fx))
            except Unfixable as why:
                self._result = why
        if isinstance(self._result, Unfixable):
            raise self._result
        return self._result


@dataclass
class FixContext:
    """What a fix's ``build`` sees: the lint's context (models, options) and the texts of the
    files it edits, read once per pass."""

    lint: object                                   # the LintContext the finding came from
    texts: dict[str, object] = field(default_factory=dict)  # path -> FileText, shared by a pass

    @property
    def nginx(self):
        return self.lint.nginx

    @property
    def gunicorn(self):
        return self.lint.gunicorn

    def file(self, path: str):
        """The FileText of ``path`` as this pass reads it."""
        from confgen.nginx.positions import FileText

        if path not in self.texts:
            self.texts[path] = FileText(path, read_text(path))
        return self.texts[path]

    def text(self, path: str) -> str:
        return self.file(path).text

    def span(self, directive):
        """(FileText, Span) of a model directive; Unfixable when it is not in a file confgen
        can edit or the file no longer holds it."""
        from confgen.nginx.positions import PositionError

        if directive is None or directive.column < 1 or directive.file.startswith("<"):
            raise Unfixable("the directive is not in a file confgen can edit")
        text = self.file(directive.file)
        try:
            return text, text.span(directive)
        except PositionError as error:
            raise Unfixable(str(error)) from None

    def instances(self, directive) -> list:
        """Every place the directive's text is used: more than one when its file is included
        from several places (each include is a copy in the model)."""
        index = self.lint.cached("fixes:by_place", lambda: _by_place(self.nginx))
        return [d for d in index.get((directive.file, directive.line, directive.column), [])
                if d.name == directive.name and d.args == directive.args]

    def same_everywhere(self, directive, compute: Callable[[object], list[Edit]]) -> list[Edit]:
        """``compute(instance)`` for every place the directive's file is used; a file included
        from several places is edited only when the fix is the same for all of them."""
        results = [sorted(set(compute(instance))) for instance in self.instances(directive) or [directive]]
        if any(r != results[0] for r in results[1:]):
            raise Unfixable(f"{directive.file} is included from {len(results)} places and the fix is not the "
                            f"same for all of them; fix it by hand")
        return results[0]


def _by_place(nginx) -> dict[tuple[str, int, int], list]:
    index: dict[tuple[str, int, int], list] = {}
    for directive in nginx.walk():
        index.setdefault((directive.file, directive.line, directive.column), []).append(directive)
    return index


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
