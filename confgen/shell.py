"""Shell words with their positions: the one splitter of command lines (systemd ``ExecStart``,
Procfile, Dockerfile shell form, compose, supervisor, scripts, ``--gunicorn-cmd``), used both to
read a command and to edit a flag where it is written."""

from __future__ import annotations

from typing import NamedTuple


SHELL_OPERATORS = {"&&", "||", ";", "|", "&", ";;", "(", ")"}
_DQ_ESCAPES = '$`"\\\n'


class Word(NamedTuple):
    value: str
    start: int           # offsets of the word as written (quotes included) in the file's text
    end: int
    style: str           # "shell": a shell word; "json": a JSON string; "yaml": a YAML list item


def shell_words(text: str, start: int = 0, end: int | None = None, *, comments: bool = False,
                strict: bool = False) -> list[Word]:
    """The shell words of ``text[start:end]`` with their positions, as a POSIX shell splits
    them: quotes, backslash escapes (inside double quotes only before ``$ ` " \\`` and a
    newline), ``\\``-newline continuations and the operators ``&& || ; | & ( )`` as words of
    their own. ``strict``: ValueError for a quote that is never closed."""
    end = len(text) if end is None else end
    words: list[Word] = []
    i = start
    while i < end:
        c = text[i]
        if c == "\\" and i + 1 < end and text[i + 1] == "\n":
            i += 2
            continue
        if c.isspace():
            i += 1
            continue
        if comments and c == "#":
            newline = text.find("\n", i, end)
            i = end if newline < 0 else newline
            continue
        if c in ";&|()":
            j = i + 1
            while j < end and text[j] in ";&|" and text[i:j + 1] in SHELL_OPERATORS:
                j += 1
            words.append(Word(text[i:j], i, j, "shell"))
            i = j
            continue
        begin, value = i, []
        while i < end and not text[i].isspace() and text[i] not in ";&|()":
            c = text[i]
            if c == "\\" and i + 1 < end:
                if text[i + 1] != "\n":
                    value.append(text[i + 1])
                i += 2
            elif c in "'\"":
                close = i + 1
                while close < end and text[close] != c:
                    if c == '"' and text[close] == "\\" and close + 1 < end and text[close + 1] in _DQ_ESCAPES:
                        if text[close + 1] != "\n":
                            value.append(text[close + 1])
                        close += 2
                        continue
                    value.append(text[close])
                    close += 1
                if close >= end and strict:
                    raise ValueError(f"no closing quotation ({c}) for the one at offset {i}")
                i = min(end, close + 1)
            else:
                value.append(c)
                i += 1
        words.append(Word("".join(value), begin, i, "shell"))
    return words
