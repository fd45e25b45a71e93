"""Edits of nginx directives in their file's text, each keeping the layout around it
(indentation, one-line blocks, comments, CRLF) and saying what it changes in directives.

Every function takes a :class:`~confgen.lint.fixes.base.FixContext` and model Directives; where a
directive is written comes from its span (:mod:`confgen.nginx.positions`), so an edit lands on the
exact statement the rule looked at, even among several on one line.
"""

from __future__ import annotations

from confgen.lint.fixes.base import FixContext
from confgen.lint.fixes.edits import Edit, Unfixable, make_edit


def file_path(directive) -> tuple:
    """The blocks enclosing ``directive`` in its own file, outermost first, as (name, args)."""
    levels = []
    level = directive.parent
    while level is not None and level.file == directive.file and level.column > 0:
        levels.append((level.name, tuple(level.args)))
        level = level.parent
    return tuple(reversed(levels))


def inside(block) -> tuple:
    """The file path of a directive written inside ``block``."""
    return file_path(block) + ((block.name, tuple(block.args)),)


def parsed(text: str) -> list[tuple[str, tuple]]:
    """(name, args) of each directive in ``text`` (a few statements a fix writes)."""
    from confgen.nginx.parse import parse_text

    return [(d.name, tuple(d.args)) for d in parse_text(text, "<fix>").directives]


def _removed(directive) -> tuple:
    return (("-", file_path(directive), directive.name, tuple(directive.args)),)


def _added(where: tuple, text: str) -> tuple:
    return tuple(("+", where, name, args) for name, args in parsed(text))


def _edit(fx: FixContext, file: str, start: int, end: int, new: str, *, changes: tuple = (),
          block=None) -> Edit:
    text = fx.text(file)
    return make_edit(file, text, start, end, new, changes=changes,
                     block=(block.file, block.line, block.column) if block is not None else None)


def _own_children(block) -> list:
    """The directives written in ``block`` in its own file (not those its includes bring)."""
    return [child for child in block.block or () if child.file == block.file and child.column > 0]


# ---------------------------------------------------------------------------------------------
# Arguments


def _moved_children(directive, name: str, args: tuple) -> tuple:
    """A block whose name or arguments change moves everything written in it to another path."""
    old, new = inside(directive), file_path(directive) + ((name, args),)
    return tuple(change for path, child, child_args in _descendants(directive)
                 for change in (("-", old + path, child, child_args), ("+", new + path, child, child_args)))


def replace_args(fx: FixContext, directive, new_args: str) -> Edit:
    """The directive's arguments replaced by ``new_args`` (as written, quoting included)."""
    text, span = fx.span(directive)
    after = parsed(f"{span.name.raw} {new_args};")[0]
    changes = _removed(directive) + (("+", file_path(directive), *after),) + _moved_children(directive, *after)
    if not span.args:
        return _edit(fx, text.path, span.name.end, span.name.end, " " + new_args, changes=changes)
    return _edit(fx, text.path, span.args[0].start, span.args[-1].end, new_args, changes=changes)


def rename(fx: FixContext, directive, new_name: str) -> Edit:
    """The directive's name replaced by ``new_name`` (its arguments kept as written)."""
    text, span = fx.span(directive)
    changes = _removed(directive) + (("+", file_path(directive), new_name, tuple(directive.args)),) \
        + _moved_children(directive, new_name, tuple(directive.args))
    return _edit(fx, text.path, span.name.start, span.name.end, new_name, changes=changes)


def replace_arg(fx: FixContext, directive, index: int, new: str) -> Edit:
    """Argument ``index`` replaced by ``new`` (as written)."""
    text, span = fx.span(directive)
    if index >= len(span.args):
        raise Unfixable(f"{text.path}:{directive.line}: `{directive.name}` has no argument {index + 1}")
    raws = [token.raw for token in span.args]
    raws[index] = new
    after = parsed(f"{span.name.raw} {' '.join(raws)};")[0]
    token = span.args[index]
    return _edit(fx, text.path, token.start, token.end, new,
                 changes=_removed(directive) + (("+", file_path(directive), *after),))


def append_arg(fx: FixContext, directive, word: str) -> Edit:
    text, span = fx.span(directive)
    last = span.args[-1] if span.args else span.name
    after = (directive.name, tuple(directive.args) + (word,))
    return _edit(fx, text.path, last.end, last.end, " " + word,
                 changes=_removed(directive) + (("+", file_path(directive), *after),))


def remove_args(fx: FixContext, directive, indexes: list[int]) -> list[Edit]:
    """Arguments at ``indexes``, each with the blanks before it."""
    text, span = fx.span(directive)
    kept = tuple(value for i, value in enumerate(directive.args) if i not in indexes)
    changes = _removed(directive) + (("+", file_path(directive), directive.name, kept),)
    edits = []
    for number, index in enumerate(sorted(indexes)):
        token = span.args[index]
        start = token.start
        while start > 0 and text.text[start - 1] in " \t":
            start -= 1
        # The directive-level meaning goes with the first edit; the others only cut text.
        edits.append(_edit(fx, text.path, start, token.end, "", changes=changes if number == 0 else ()))
    return edits


# ---------------------------------------------------------------------------------------------
# Statements


def remove(fx: FixContext, directive) -> Edit:
    """The statement; its whole line when nothing else is on it (a trailing comment about it
    goes with it), else the statement and the blanks after it."""
    text, span = fx.span(directive)
    changes = _removed(directive) + tuple(("-", inside(directive) + tail[0], tail[1], tail[2])
                                          for tail in _descendants(directive))
    end = span.stop
    if text.starts_line(span.start) and text.ends_line(end):
        start = text.line_start(span.start)
        stop = text.text.find("\n", text.line_end(end))
        return _edit(fx, text.path, start, len(text.text) if stop < 0 else stop + 1, "", changes=changes)
    start, stop = span.start, end
    if text.ends_line(end):  # last on its line: the blanks before it go, not the comment after
        while start > 0 and text.text[start - 1] in " \t":
            start -= 1
    else:
        while stop < len(text.text) and text.text[stop] in " \t":
            stop += 1
    return _edit(fx, text.path, start, stop, "", changes=changes)


def _descendants(directive, prefix: tuple = ()):
    for child in _own_children(directive) if directive.block else ():
        yield prefix, child.name, tuple(child.args)
        if child.block:
            yield from _descendants(child, prefix + ((child.name, tuple(child.args)),))


def insert_after(fx: FixContext, directive, statement: str) -> Edit:
    """``statement`` (e.g. ``proxy_http_version 1.1;``) just after ``directive``: on a line of
    its own with the same indentation when ``directive`` ends its line, else on the same line."""
    text, span = fx.span(directive)
    end = span.stop
    changes = _added(file_path(directive), statement)
    parent = directive.parent if directive.parent is not None and directive.parent.column > 0 else None
    if text.ends_line(end) and text.starts_line(span.start):
        stop = text.line_end(end)
        return _edit(fx, text.path, stop, stop, text.newline() + text.indent_at(span.start) + statement,
                     changes=changes, block=parent or _top(directive))
    return _edit(fx, text.path, end, end, " " + statement, changes=changes, block=parent or _top(directive))


def insert_before(fx: FixContext, directive, *statements: str) -> Edit:
    """``statements`` just before ``directive``, each on a line of its own with its
    indentation when it starts a line, else on the same line."""
    text, span = fx.span(directive)
    changes = sum((_added(file_path(directive), s) for s in statements), ())
    parent = directive.parent if directive.parent is not None and directive.parent.column > 0 else None
    if text.starts_line(span.start):
        start = text.line_start(span.start)
        indent, newline = text.indent_at(span.start), text.newline()
        return _edit(fx, text.path, start, start, "".join(indent + s + newline for s in statements),
                     changes=changes, block=parent or _top(directive))
    return _edit(fx, text.path, span.start, span.start, "".join(s + " " for s in statements),
                 changes=changes, block=parent or _top(directive))


def insert_first(fx: FixContext, block, statement: str) -> Edit:
    """``statement`` as the first statement inside ``block``."""
    children = _own_children(block)
    if children:
        return insert_before(fx, children[0], statement)
    return insert_last(fx, block, statement)


def insert_last(fx: FixContext, block, statement: str) -> Edit:
    """``statement`` as the last statement inside ``block``."""
    children = _own_children(block)
    if children:
        return insert_after(fx, children[-1], statement)
    text, span = fx.span(block)
    if span.close is None:
        raise Unfixable(f"{text.path}:{block.line}: the block is not closed")
    changes = _added(inside(block), statement)
    if text.starts_line(span.close) and "\n" in text.text[span.end:span.close]:
        start = text.line_start(span.close)
        indent = text.indent_at(span.start) + text.indent_unit()
        return _edit(fx, text.path, start, start, indent + statement + text.newline(), changes=changes, block=block)
    return _edit(fx, text.path, span.close, span.close, " " + statement + " "
                 if not text.text[span.close - 1:span.close].isspace() else statement + " ",
                 changes=changes, block=block)


class _Top:
    """Stands for a file's top level as the block an edit adds to."""

    def __init__(self, file: str):
        self.file, self.line, self.column = file, 0, 0


def _top(directive) -> _Top:
    return _Top(directive.file)
