"""Shell words with their positions: the one splitter of command lines (systemd ``ExecStart``,
Procfile, Dockerfile shell form, compose, supervisor, scripts, ``--gunicorn-cmd``), used both to
read a command and to edit a flag where it is written; and what the shell makes of its variables
(``${PORT:-8080}``, ``PORT=9000``, ``export``, ``: "${PORT:=8080}"``) and of what it computes
when it runs (``$(...)``, ``$((...))``, backquotes): unknown here."""

from __future__ import annotations

import os
import re
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
            elif c == "`" or (c == "$" and text.startswith("(", i + 1)):
                # A command or arithmetic substitution is part of the word, whatever it holds
                # (``$((2*$(nproc)+1))``): kept as written, for expand() to call it computed.
                close = _substitution_end(text, i, end, strict)
                value.append(text[i:close])
                i = close
            elif c in "'\"":
                close = i + 1
                while close < end and text[close] != c:
                    if c == '"' and text[close] == "\\" and close + 1 < end and text[close + 1] in _DQ_ESCAPES:
                        if text[close + 1] != "\n":
                            value.append(text[close + 1])
                        close += 2
                        continue
                    if c == '"' and (text[close] == "`" or text.startswith("$(", close)):
                        inner = _substitution_end(text, close, end, strict)
                        value.append(text[close:inner])
                        close = inner
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


# Shells whose ``-c SCRIPT`` runs a command string (``sh -c "migrate && exec gunicorn ..."``), and
# the option words that say so (``-c``, ``-ec``, ``-lc``: -c among single-letter flags).
SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh"}
_STRING_OPTION = re.compile(r"-[a-zA-Z]*c[a-zA-Z]*")


# Commands that run a string in another user's login shell: ``su USER -c STRING``, ``runuser``.
_USER_SWITCHERS = {"su", "runuser"}


def inline_script(words: list[Word], text: str | None = None) -> tuple[list[Word], bool] | None:
    """The words of the script a shell runs from ``-c SCRIPT`` (``sh -c "..."``, ``/bin/bash
    -ec '...'``, ``su - app -c '...'``, also after a wrapper such as ``wait-for-it.sh db:5432 --``), and whether they
    stand where ``text`` writes them: the script is a shell word written without escapes, so
    an offset in it is an offset in the file. None when no shell string is run."""
    script = None
    for index in range(len(words) - 2):
        if os.path.basename(words[index].value) in SHELLS and _STRING_OPTION.fullmatch(words[index + 1].value):
            script = words[index + 2]
            break
        if os.path.basename(words[index].value) in _USER_SWITCHERS:
            # `su - app -c "cd /srv && exec uwsgi ..."`: the user's shell runs the string.
            option = next((i for i in range(index + 1, len(words) - 1)
                           if words[i].value in ("-c", "--command") or words[i].value in SHELL_OPERATORS), None)
            if option is not None and words[option].value in ("-c", "--command"):
                script = words[option + 1]
                break
    if script is None:
        return None
    written = text[script.start:script.end] if text is not None else ""
    base = None
    if script.style == "shell" and len(written) >= 2 and written[0] in "'\"" and written[-1] == written[0] \
            and written[1:-1] == script.value:
        base = script.start + 1
    elif script.style == "shell" and written == script.value:
        base = script.start
    inner = shell_words(script.value)
    if base is None:
        return [Word(w.value, script.start, script.start, "shell") for w in inner], False
    return [w._replace(start=w.start + base, end=w.end + base) for w in inner], True


def _substitution_end(text: str, start: int, end: int, strict: bool) -> int:
    """The offset past the substitution that starts at ``start``: ```...``` or ``$(...)`` (and
    ``$((...))``), with the parentheses, quotes and backslashes inside it balanced as the shell
    balances them."""
    if text[start] == "`":
        i = start + 1
        while i < end and text[i] != "`":
            i += 2 if text[i] == "\\" else 1
        if i >= end and strict:
            raise ValueError(f"no closing backquote for the one at offset {start}")
        return min(end, i + 1)
    depth, i = 0, start + 1
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            close = text.find("'", i + 1, end)
            i = end if close < 0 else close + 1
            continue
        if c == '"':
            i += 1
            while i < end and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    if strict:
        raise ValueError(f"no closing parenthesis for the $( at offset {start}")
    return end


# ---------------------------------------------------------------------------------------------
# Variables

# The start of a shell parameter: $NAME, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:=default},
# ${NAME=default}; a default may itself hold parameters (${A:-${B:-4}}), so the closing brace is
# found by counting (_parameter_end).
SHELL_VARIABLE = re.compile(r"\$(?:\{(\w+)(?:(:?[-=]))?|(\w+))")
_COMPUTED = re.compile(r"\$\(|`")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What a note says of a value the shell computes when the command runs.
COMPUTED = "computed by the shell when the command runs"


def expand(word: str, environ: dict[str, str | None]) -> tuple[str | None, list[str]]:
    """``word`` with its variables expanded as the shell would, from ``environ`` (a variable set
    to None is set, but its value is not known here): (the value, or None when it cannot be
    known statically; notes on where it came from). A variable that is not set takes the default
    its ``${NAME:-default}`` gives (noted); ``${NAME:=default}`` also sets it in ``environ``. What
    the shell computes when it runs (``$(...)``, ``$((...))``, backquotes) is not known."""
    notes: list[str] = []
    if _COMPUTED.search(word):
        return None, [f"{COMPUTED} ({word})"]
    unknown = False

    def substitute(name: str, operator: str | None, default: str) -> str:
        nonlocal unknown
        if name in environ:
            value = environ[name]
            if value is None:
                notes.append(f"shell variable {name} is set where its value cannot be read")
                unknown = True
                return ""
            if value or operator in (None, "-", "="):
                return value
        if operator is None:
            notes.append(f"from shell variable {name}, no default")
            unknown = True
            return ""
        value, inner = expand(default, environ)
        notes.extend(inner)
        if value is None:
            unknown = True
            return ""
        notes.append(f"the default of shell variable {name}")
        if operator.endswith("="):
            environ[name] = value
        return value

    parts, position = [], 0
    for match in SHELL_VARIABLE.finditer(word):
        if match.start() < position:
            continue  # inside a default already taken whole
        if match.group(3):  # $NAME
            parts += [word[position:match.start()], substitute(match.group(3), None, "")]
            position = match.end()
            continue
        end = _parameter_end(word, match.end())
        if end is None:
            parts.append(word[position:match.end()])  # no closing brace: as written
            position = match.end()
            continue
        if match.group(2) is None and word[match.end()] != "}":
            # Another expansion (${X#prefix}, ${X/a/b}, ${#X}): the shell computes it.
            notes.append(f"{COMPUTED} ({word[match.start():end + 1]})")
            unknown = True
            parts.append(word[position:match.start()])
            position = end + 1
            continue
        parts += [word[position:match.start()], substitute(match.group(1), match.group(2), word[match.end():end])]
        position = end + 1
    expanded = "".join(parts) + word[position:]
    return (None if unknown else expanded), notes


def _parameter_end(word: str, start: int) -> int | None:
    """The offset of the ``}`` that closes the ``${`` before ``start`` (nested ``${...}`` counted)."""
    depth = 1
    i = start
    while i < len(word):
        if word.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if word[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def assignment(word: str) -> tuple[str, str] | None:
    """(name, value as written) of a ``NAME=value`` word, else None."""
    name, equals, value = word.partition("=")
    return (name, value) if equals and _NAME.fullmatch(name) else None


def set_variables(words: list[str], environ: dict[str, str | None], raw: tuple[str, ...] = ()) -> bool:
    """Run one simple command's words on ``environ`` when all it does is set variables
    (``PORT=9000``, ``export PORT=9000 HOST``, ``: "${PORT:=8080}"``), as the shell would: True
    when it was such a command. A variable named in ``raw`` whose value cannot be known keeps it
    as written (``GUNICORN_CMD_ARGS="--bind :$PORT --timeout 90"``: its reader expands word by
    word, so the words that can be known are)."""
    if not words:
        return False
    if words[0] == ":":
        for word in words[1:]:
            expand(word, environ)  # only its := defaults matter
        return True
    items = words[1:] if words[0] in ("export", "readonly") else words
    if words[0] not in ("export", "readonly") and not all(assignment(w) for w in words):
        return False
    for word in items:
        found = assignment(word)
        if found is not None:
            assign(environ, *found, raw=raw)
    return True


def assign(environ: dict[str, str | None], name: str, value: str, raw: tuple[str, ...] = ()) -> None:
    """``name=value`` as the shell runs it: the value expanded (None when it cannot be known,
    unless ``name`` is in ``raw``: then as written)."""
    expanded = expand(value, environ)[0]
    environ[name] = value if expanded is None and name in raw else expanded
