"""An nginx file's statements with their exact positions, for fixes that edit the text in place.

crossplane's lexer (which the model is built from) gives tokens and lines but no offsets, and a
fix must change only the characters it means to. This scanner follows the same lexing rules
(whitespace, ``#`` comments, quotes with backslash escapes, ``${var}``, ``{ } ;``) and keeps
where every token starts and ends. A model Directive is found here by its line, name and
arguments; a statement that cannot be found (a Lua block the scanner does not read) makes the
fix report itself not fixable rather than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from confgen.lint.fixes.edits import Edit, Unfixable, make_edit


@dataclass
class Token:
    raw: str
    value: str
    start: int
    end: int
    line: int


@dataclass
class Statement:
    name: Token
    args: list[Token]
    end: int                       # just past the ";" or "{"
    line: int
    parent: "Statement | None" = None
    opens: bool = False            # ends with "{"
    close: int | None = None       # offset of the block's "}"
    children: list["Statement"] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.name.start


class Source:
    """One file's text and its statements."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.top: list[Statement] = []
        self.by_line: dict[int, list[Statement]] = {}
        self._scan()

    # -- scanning ------------------------------------------------------------------------------

    def _tokens(self):
        text, n = self.text, len(self.text)
        i, line = 0, 1
        lua = False
        while i < n:
            c = text[i]
            if lua and c == "{":
                # A *_by_lua_block's body is Lua, read whole as crossplane's Lua lexer does.
                close = _lua_block_end(text, i)
                line += text.count("\n", i, close)
                yield Token("{", "{", i, i + 1, line), True
                yield Token("}", "}", close, close + 1, line), True
                i, lua = close + 1, False
                continue
            if c == "\n":
                line += 1
                i += 1
                continue
            if c.isspace():
                i += 1
                continue
            if c == "#":
                j = text.find("\n", i)
                i = n if j < 0 else j
                continue
            if c in "{};":
                lua = False
                yield Token(c, c, i, i + 1, line), True
                i += 1
                continue
            start, start_line = i, line
            if text.startswith("\\\n", i):
                start_line += 1  # crossplane counts an escaped newline before it places the token
            if c in "\"'":
                quote, i, chars = c, i + 1, []
                while i < n and text[i] != quote:
                    if text[i] == "\\" and i + 1 < n:
                        chars.append(quote if text[i + 1] == quote else text[i:i + 2])
                        line += text[i + 1] == "\n"
                        i += 2
                        continue
                    line += text[i] == "\n"
                    chars.append(text[i])
                    i += 1
                i = min(n, i + 1)
                yield Token(text[start:i], "".join(chars), start, i, start_line), False
                continue
            while i < n:
                c = text[i]
                if c == "\\" and i + 1 < n:
                    line += text[i + 1] == "\n"
                    i += 2
                    continue
                if c == "{" and i > start and text[i - 1] == "$":
                    # ${var}: crossplane takes everything up to the "}" or a blank, and then
                    # the next character too, whatever it is.
                    while i < n and text[i - 1] != "}" and not text[i].isspace():
                        i += 1
                    if i < n and text[i] not in "{};":  # even a blank: crossplane's quirk
                        line += text[i] == "\n"
                        i += 1
                    continue
                if c.isspace() or c in "{};":
                    break
                i += 1
            lua = lua or text[start:i].endswith("_by_lua_block")  # (set_by_lua_block $var {)
            yield Token(text[start:i], text[start:i], start, i, start_line), False

    def _scan(self) -> None:
        stack: list[Statement] = []
        words: list[Token] = []
        for token, special in self._tokens():
            if not special:
                words.append(token)
                continue
            if token.raw in ";{" and words:
                statement = Statement(words[0], words[1:], token.end, words[0].line,
                                      parent=stack[-1] if stack else None)
                (stack[-1].children if stack else self.top).append(statement)
                self.by_line.setdefault(statement.line, []).append(statement)
                if token.raw == "{":
                    statement.opens = True
                    stack.append(statement)
            elif token.raw == "}" and stack:
                stack.pop().close = token.start
            words = []

    # -- finding a model directive -------------------------------------------------------------

    def statement_for(self, directive) -> Statement:
        """The statement a model Directive was read from."""
        # A block in the model is a block here (a snippet's synthetic server at line 1 is not the
        # text's `server ...;` there); a Lua block is one argument in the model.
        candidates = [s for s in self.by_line.get(directive.line, ()) if s.name.value == directive.name
                      and (s.opens == directive.is_block or directive.name.endswith("_by_lua_block"))]
        if len(candidates) > 1:
            same = [s for s in candidates if [a.value for a in s.args] == list(directive.args)]
            candidates = same or candidates
            if len(candidates) > 1:
                # Several equal statements on one line: the model's siblings say which one.
                siblings = [d for d in (directive.parent.block if directive.parent is not None else ()) or ()
                            if d.file == directive.file and d.line == directive.line and d.name == directive.name
                            and list(d.args) == list(directive.args)]
                index = next((i for i, d in enumerate(siblings) if d is directive), 0)
                candidates = candidates[index:index + 1] or candidates[:1]
        if not candidates:
            raise Unfixable(f"cannot locate `{directive.name}` at {directive.file}:{directive.line} in the file's text")
        return candidates[0]

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

    def indent_of(self, statement: Statement) -> str:
        start = self.line_start(statement.start)
        prefix = self.text[start:statement.start]
        return prefix if not prefix.strip() else prefix[:len(prefix) - len(prefix.lstrip())]

    def starts_line(self, offset: int) -> bool:
        return not self.text[self.line_start(offset):offset].strip()

    def ends_line(self, offset: int) -> bool:
        """Only blanks or a comment between ``offset`` and the end of its line."""
        rest = self.text[offset:self.line_end(offset)].strip()
        return not rest or rest.startswith("#")

    def block_indent(self, block: Statement | None) -> str:
        """The indentation of statements inside ``block`` (None: the top level)."""
        children = block.children if block is not None else self.top
        for child in children:
            if self.starts_line(child.start):
                return self.indent_of(child)
        if block is None:
            return ""
        outer = self.indent_of(block)
        unit = self._indent_unit()
        return outer + unit

    def _indent_unit(self) -> str:
        for statement in self.by_line.values():
            for s in statement:
                if s.parent is not None and self.starts_line(s.start):
                    inner, outer = self.indent_of(s), self.indent_of(s.parent)
                    if inner.startswith(outer) and len(inner) > len(outer):
                        return inner[len(outer):]
        return "    "


def _lua_block_end(text: str, start: int) -> int:
    """The offset of the "}" closing the Lua block whose "{" is at ``start``: braces counted
    outside Lua strings (short ones end at a line break), long brackets and comments."""
    depth, i, n = 0, start, len(text)
    while i < n:
        long = _LUA_LONG_BRACKET.match(text, i + 2 if text.startswith("--", i) else i)
        if long and (text.startswith("--", i) or text[i] == "["):
            closing = "]" + "=" * (len(long.group(0)) - 2) + "]"
            found = text.find(closing, long.end())
            i = n if found < 0 else found + len(closing)
            continue
        c = text[i]
        if c in "\"'":
            i += 1
            while i < n and text[i] not in (c, "\n"):
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("--", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
            continue
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return n - 1


_LUA_LONG_BRACKET = re.compile(r"\[=*\[")


def end_of(statement: Statement) -> int:
    """Just past the statement: its ";" or, for a block, its closing "}"."""
    return statement.close + 1 if statement.close is not None else statement.end


# ---------------------------------------------------------------------------------------------
# Edits of statements: each keeps the layout around it (indentation, one-line blocks, comments)


def _edit(source: Source, start: int, end: int, new: str) -> Edit:
    return make_edit(source.path, source.text, start, end, new)


def replace_args(source: Source, statement: Statement, new_args: str) -> Edit:
    """The statement's arguments replaced by ``new_args`` (as written, quoting included)."""
    if not statement.args:
        return _edit(source, statement.name.end, statement.name.end, " " + new_args)
    return _edit(source, statement.args[0].start, statement.args[-1].end, new_args)


def replace_token(source: Source, token: Token, new: str) -> Edit:
    return _edit(source, token.start, token.end, new)


def append_arg(source: Source, statement: Statement, word: str) -> Edit:
    last = statement.args[-1] if statement.args else statement.name
    return _edit(source, last.end, last.end, " " + word)


def remove_arg(source: Source, token: Token) -> Edit:
    """One argument and the blanks before it."""
    start = token.start
    while start > 0 and source.text[start - 1] in " \t":
        start -= 1
    return _edit(source, start, token.end, "")


def remove_statement(source: Source, statement: Statement) -> Edit:
    """The statement; its whole line when nothing else is on it (a trailing comment about it
    goes with it), else the statement and the blanks after it."""
    end = end_of(statement)
    if source.starts_line(statement.start) and source.ends_line(end):
        start = source.line_start(statement.start)
        stop = source.line_end(end)
        stop = source.text.find("\n", stop)
        return _edit(source, start, len(source.text) if stop < 0 else stop + 1, "")
    start, stop = statement.start, end
    if source.ends_line(end):  # last on its line: the blanks before it go, not the comment after
        while start > 0 and source.text[start - 1] in " \t":
            start -= 1
    else:
        while stop < len(source.text) and source.text[stop] in " \t":
            stop += 1
    return _edit(source, start, stop, "")


def insert_after(source: Source, statement: Statement, directive: str) -> Edit:
    """``directive`` (e.g. ``proxy_http_version 1.1;``) as the next statement: on a line of its
    own with the same indentation when ``statement`` ends its line, else on the same line."""
    end = end_of(statement)
    if source.ends_line(end) and source.starts_line(statement.start):
        stop = source.line_end(end)
        return _edit(source, stop, stop, source.newline() + source.indent_of(statement) + directive)
    return _edit(source, end, end, " " + directive)


def insert_before(source: Source, statement: Statement, *directives: str) -> Edit:
    """``directives`` just before ``statement``, each on a line of its own with its
    indentation when it starts a line, else on the same line."""
    if source.starts_line(statement.start):
        start = source.line_start(statement.start)
        indent, newline = source.indent_of(statement), source.newline()
        return _edit(source, start, start, "".join(indent + d + newline for d in directives))
    return _edit(source, statement.start, statement.start, "".join(d + " " for d in directives))


def insert_first(source: Source, block: Statement, directive: str) -> Edit:
    """``directive`` as the first statement inside ``block``."""
    if block.children:
        return insert_before(source, block.children[0], directive)
    return insert_last(source, block, directive)


def insert_last(source: Source, block: Statement, directive: str) -> Edit:
    """``directive`` as the last statement inside ``block``."""
    if block.children:
        return insert_after(source, block.children[-1], directive)
    if block.close is None:
        raise Unfixable(f"{source.path}:{block.line}: the block is not closed")
    if source.starts_line(block.close) and "\n" in source.text[block.end:block.close]:
        start = source.line_start(block.close)
        return _edit(source, start, start, source.block_indent(block) + directive + source.newline())
    inside = source.text[block.end:block.close]
    if inside.strip():
        raise Unfixable(f"{source.path}:{block.line}: the block holds text the scanner did not read")
    return _edit(source, block.end, block.close, " " + directive + " ")
