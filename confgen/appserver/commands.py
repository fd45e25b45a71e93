"""Which Python app server a command line starts, where its own arguments begin, and the
variables the command line sets for it in front of it (``GRANIAN_PORT=9000 granian ...``).

``gunicorn ...``, ``/srv/venv/bin/uvicorn ...``, ``python -m hypercorn ...``, ``daphne ...``,
``uwsgi --ini ...``, ``granian ...``: the word that starts the server (a path's last part, or
``python -m NAME``), so every reader of a command line agrees on which program runs.
"""

from __future__ import annotations

import os
import re

from confgen.shell import SHELL_OPERATORS

SERVERS = ("gunicorn", "uvicorn", "hypercorn", "daphne", "uwsgi", "granian")
_PYTHON = re.compile(r"python[\d.]*")
# uWSGI is also installed as uwsgi_python3, uwsgi-core and the like.
_UWSGI = re.compile(r"uwsgi(?:[_-][\w.]+)?")
# Debian's and Ubuntu's python3-gunicorn installed it as gunicorn3 (until Debian 11, Ubuntu 20.04).
_ALIASES = {"gunicorn3": "gunicorn"}
_COMPARED = {"==", "=", "!=", "[", "[[", "in", "case"}
_REDIRECTION = re.compile(r"\d*(?:>>?|<<?<?|>&|<&|&>>?|>\|)")


def server_at(words: list[str], index: int) -> tuple[str, int] | None:
    """(server, index of its first argument) when ``words[index]`` starts an app server. A word
    that is an option's value (``daphne -u /app/sock/daphne``, ``--pid /run/gunicorn``) starts
    nothing; one after ``--`` (``tini -- gunicorn ...``) does."""
    if index > 0 and words[index - 1].startswith("-") and "=" not in words[index - 1] \
            and words[index - 1] not in ("-m", "--"):
        return None
    if words[index].startswith("-"):
        return None  # an option (`--master-fifo=/tmp/uwsgi-fifo`), never a command
    if index > 0 and _REDIRECTION.fullmatch(words[index - 1]):
        return None  # `echo q > /tmp/uwsgi-fifo`: a file the output goes to
    if index > 0 and words[index - 1] in _COMPARED:
        return None  # `[ $1 == "uwsgi" ]`, `case $1 in`: a value compared, not a command
    name = os.path.basename(words[index])
    if (name in SERVERS or name in _ALIASES or _UWSGI.fullmatch(name)) and _names_it(words, index):
        return None  # `systemctl start gunicorn`, `pip install uwsgi`: a name handed to another program
    if name in SERVERS or name in _ALIASES:
        return _ALIASES.get(name, name), index + 1
    if _UWSGI.fullmatch(name):
        return "uwsgi", index + 1
    if _PYTHON.fullmatch(name):
        after = index + 1
        while after < len(words) and words[after].startswith("-") and words[after] != "-m":
            after += 1
        if after + 1 < len(words) and words[after] == "-m" and words[after + 1] in SERVERS:
            return words[after + 1], after + 2
    return None


# Programs that take a service, package or process name as an argument: a server's name after
# one of them starts nothing.
_NAME_TAKERS = frozenset({
    "systemctl", "service", "supervisorctl", "initctl", "rc-service", "sv", "journalctl",
    "pkill", "killall", "pgrep", "pidof", "kill", "which", "whereis", "type", "command",
    "pip", "pip3", "pipx", "apt", "apt-get", "yum", "dnf", "apk", "brew", "conda",
    "echo", "printf", "grep", "ln", "cp", "mv", "rm", "touch", "chmod", "chown", "mkdir", "cat", "tail",
})
# What may stand before the program of a simple command without being it.
_WRAPPERS = frozenset({"sudo", "env", "exec", "nohup", "time", "nice", "doas"})


def _names_it(words: list[str], index: int) -> bool:
    """Whether the word at ``index`` is an argument of a program that takes names (_NAME_TAKERS)."""
    start = index
    while start > 0 and words[start - 1] not in SHELL_OPERATORS:
        start -= 1
    for word in words[start:index]:
        if word in _WRAPPERS or word.startswith("-") or _ASSIGNMENT.fullmatch(word):
            continue
        return os.path.basename(word) in _NAME_TAKERS
    return False


def find_server(words: list[str]) -> tuple[str, int] | None:
    """The last app server a command line starts (``pip install x && uvicorn app:app``)."""
    found = None
    for index in range(len(words)):
        here = server_at(words, index)
        if here is not None:
            found = here
    return found


_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)


def assignments(words: list[str], server_index: int) -> dict[str, str | None]:
    """The variables the command line itself sets for the server the word at ``server_index``
    starts: ``GRANIAN_PORT=9000 granian ...``, ``env UVICORN_PORT=9000 uvicorn ...``. A value
    the shell computes (``$VAR``, `` `...` ``) is None: set, but not known here."""
    start = server_index
    while start > 0 and words[start - 1] not in SHELL_OPERATORS:
        start -= 1
    found: dict[str, str | None] = {}
    for word in words[start:server_index]:
        match = _ASSIGNMENT.fullmatch(word)
        if match:
            found[match.group(1)] = None if "$" in match.group(2) or "`" in match.group(2) else match.group(2)
        elif word not in ("env", "exec"):
            break  # another program first (nice, python -m): what follows is its argument, not an assignment
    return found


def start_of(words: list[str], found: tuple[str, int]) -> int:
    """The index of the word that starts the server ``find_server`` found (``python`` for
    ``python -m granian``)."""
    index = found[1] - 1
    if index >= 2 and words[index - 1] == "-m":
        while index > 0 and not _PYTHON.fullmatch(os.path.basename(words[index])):
            index -= 1
    return index


def kind_of(path: str, text: str | None = None) -> str | None:
    """Which kind of file holds a command line (procfile, dockerfile, compose, systemd,
    supervisor, script), from its name and, when given, its text; None otherwise (a
    gunicorn.conf.py, an nginx config)."""
    name = os.path.basename(path).lower()
    if name.endswith(".py"):
        return None
    if name.startswith("procfile"):
        return "procfile"
    if name.startswith(("dockerfile", "containerfile")) or name.endswith((".dockerfile", ".containerfile")):
        return "dockerfile"
    if re.fullmatch(r"(docker-)?compose([.-].*)?\.ya?ml", name):
        return "compose"
    if name.endswith((".service", ".socket")) or (text is not None and re.search(r"^\s*ExecStart\s*=", text, re.M)):
        return "systemd"
    if text is not None and re.search(r"^\s*\[program:", text, re.M):
        return "supervisor"
    if name.endswith((".sh", ".bash")) or (text is not None and re.match(r"#!.*\b(ba|da|z)?sh\b", text)):
        return "script"
    return None
