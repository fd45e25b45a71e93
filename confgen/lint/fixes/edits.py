"""Edits: a replacement of one exact range of a file's text, and applying a set of them.

An edit names the text it replaces (``old``), so applying it to a file that changed since it was
read is refused instead of corrupting it. Offsets index the file's text as read (str indices of
the UTF-8 decoded bytes, line endings kept as they are), so everything outside the range stays
byte-identical. An edit of nginx text also says what it means in directives (``changes``:
directives removed and added, each with the blocks around it in its file), so a test can check
that a fix changed exactly what it names and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confgen.errors import ConfgenError


@dataclass(frozen=True, order=True)
class Edit:
    file: str
    start: int
    end: int
    old: str
    new: str
    rule: str = ""
    line: int = 0
    # ("-" or "+", the enclosing blocks in the file as ((name, args), ...), name, args) per
    # directive the edit removes or adds; empty for edits of other languages.
    changes: tuple = field(default=(), compare=False)
    # The block the edit adds directives to (file, offset of its name), if it adds any: two
    # fixes adding the same directive to one block in one pass would add it twice.
    block: tuple | None = field(default=None, compare=False)

    def as_dict(self) -> dict:
        return {"file": self.file, "start": self.start, "end": self.end, "line": self.line,
                "old": self.old, "new": self.new, "rule": self.rule}

    def adds(self) -> set[tuple]:
        """(block, directive name) for every directive the edit adds."""
        return {(self.block, change[2]) for change in self.changes if change[0] == "+"} if self.block else set()


class Unfixable(Exception):
    """A finding a fixer will not fix, with the reason shown to the user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def make_edit(file: str, text: str, start: int, end: int, new: str, rule: str = "", *,
              changes: tuple = (), block: tuple | None = None) -> Edit:
    return Edit(file=file, start=start, end=end, old=text[start:end], new=new, rule=rule, line=line_at(text, start),
                changes=changes, block=block)


def overlaps(a: Edit, b: Edit) -> bool:
    """Two edits of one file that touch the same characters. Two insertions at one point do not
    overlap (both apply, in order); an insertion inside a replaced range does."""
    if a.file != b.file:
        return False
    if a.start == a.end and b.start == b.end:
        return False
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end


def apply_edits(text: str, edits: list[Edit]) -> str:
    """``text`` with ``edits`` (all of one file, none overlapping) applied."""
    out, position = [], 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < position or text[edit.start:edit.end] != edit.old:
            raise ConfgenError(f"{edit.file}:{edit.line}: the file changed since it was read; nothing was fixed")
        out.append(text[position:edit.start])
        out.append(edit.new)
        position = edit.end
    out.append(text[position:])
    return "".join(out)
