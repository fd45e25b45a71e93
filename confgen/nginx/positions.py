"""Where a directive is written: the exact offsets of its name, arguments, terminator and braces
in its file's text, for edits that change only the characters they mean to.

The model keeps, per directive, the line and column the lexer found its name at (and, per block,
the offset of its closing brace); the rest is read here, when asked, by the same lexer
(:func:`confgen.nginx.parse.lex`) from the statement's first character. There is no second
scanner of nginx text: what the model read and what an edit changes are the same tokens.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from confgen.nginx.parse import lex


class PositionError(Exception):
    """The text does not hold the directive where the model says (the file changed since)."""


class Token(NamedTuple):
    raw: str      # as written (quotes and escapes included)
    value: str    # as nginx reads it
    start: int
    end: int


class Span(NamedTuple):
    """One statement: ``name args... ;`` or ``name args... {`` ... ``}``."""

    name: Token
    args: tuple[Token, ...]
    end: int                # just past its ";" or "{" (a Lua block: past its "}")
    close: int | None       # the offset of its block's "}" (None for a leaf)
    line: int

    @property
    def start(self) -> int:
        return self.name.start

    @property
    def opens(self) -> bool:
        return self.close is not None

    @property
    def stop(self) -> int:
        """Just past the whole statement: its ";" or, for a block, its closing "}"."""
        return self.close + 1 if self.close is not None else self.end


class FileText:
    """One file's text, its line starts, and the spans of the directives read from it."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self._line_starts: list[int] | None = None
        self._spans: dict[tuple[int, int], Span] = {}

    # -- offsets -------------------------------------------------------------------------------

    def line_starts(self) -> list[int]:
        if self._line_starts is None:
            starts, find, at = [0], self.text.find, 0
            while (at := find("\n", at) + 1) > 0:
                starts.append(at)
            self._line_starts = starts
        return self._line_starts

    def offset(self, line: int, column: int) -> int:
        starts = self.line_starts()
        if not 1 <= line <= len(starts) or column < 1:
            raise PositionError(f"{self.path}:{line}: no such line in the file")
        return starts[line - 1] + column - 1

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts(), offset)

    def span(self, directive) -> Span:
        """The span of a model Directive read from this file."""
        if directive.file != self.path or directive.column < 1:
            raise PositionError(f"`{directive.name}` is not written in {self.path}")
        key = (directive.line, directive.column)
        if key not in self._spans:
            self._spans[key] = self._read(self.offset(*key), directive)
        return self._spans[key]

    def _read(self, start: int, directive) -> Span:
        tokens = lex(self.text, start)
        close = None
        try:
            name = next(tokens)
            if name[0] != directive.name or name[3] != start:
                raise PositionError(f"{self.path}:{directive.line}: `{directive.name}` is not where it was read "
                                    f"(the file changed since)")
            args, end = [], None
            for value, _, quoted, begin, stop in tokens:
                if not quoted and value in (";", "{"):
                    end = stop
                    break
                if not quoted and (value == "}" or value.startswith("#")):
                    if value == "}":
                        break
                    continue
                args.append(Token(self.text[begin:stop], value, begin, stop))
            if directive.is_block and end is not None:
                # The block's "}": read on, counting braces (the model keeps no offset for it,
                # so a big config costs no memory for what only a fix asks).
                depth = 1
                for value, _, quoted, begin, _ in tokens:
                    if not quoted and value in ("{", "}"):
                        depth += 1 if value == "{" else -1
                        if depth == 0:
                            close = begin
                            break
        finally:
            tokens.close()
        if end is None or (directive.is_block and close is None):
            raise PositionError(f"{self.path}:{directive.line}: `{directive.name}` has no end in the text")
        return Span(Token(self.text[name[3]:name[4]], name[0], name[3], name[4]), tuple(args), end, close,
                    directive.line)

    # -- layout --------------------------------------------------------------------------------

    def line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1

    def line_end(self, offset: int) -> int:
        """The offset of the line's newline (the end of the text on the last line); a "\\r"
        before it stays part of the line ending."""
        end = self.text.find("\n", offset)
        end = len(self.text) if end < 0 else end
        if end > offset and self.text[end - 1] == "\r":
            end -= 1
        return end

    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    def indent_at(self, offset: int) -> str:
        prefix = self.text[self.line_start(offset):offset]
        return prefix if not prefix.strip() else prefix[:len(prefix) - len(prefix.lstrip())]

    def starts_line(self, offset: int) -> bool:
        return not self.text[self.line_start(offset):offset].strip()

    def ends_line(self, offset: int) -> bool:
        """Only blanks or a comment between ``offset`` and the end of its line."""
        rest = self.text[offset:self.line_end(offset)].strip()
        return not rest or rest.startswith("#")

    def indent_unit(self) -> str:
        """The file's own step of indentation (four blanks when it shows none)."""
        starts = self.line_starts()
        previous = ""
        for number, start in enumerate(starts):
            end = starts[number + 1] if number + 1 < len(starts) else len(self.text)
            line = self.text[start:end].rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            indent = line[:len(line) - len(line.lstrip())]
            if indent.startswith(previous) and len(indent) > len(previous):
                return indent[len(previous):]
            previous = indent
        return "    "
