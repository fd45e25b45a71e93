"""uWSGI: options on its command line (``--name value``) or in an ini file's ``[uwsgi]`` section
(``--ini FILE``), read statically: a ``%(...)``/``$(...)`` placeholder makes a value unknown.

What the chain needs (uwsgi man page; unbit/uwsgi plugins/http/http.c and corerouter.c):
``socket``/``uwsgi-socket`` speak the uwsgi protocol (nginx ``uwsgi_pass``), one request per
connection; ``http-socket`` speaks HTTP on the worker socket; ``http`` starts uWSGI's HTTP router.
The router keeps an idle connection for ``http-keepalive`` seconds when that is above 1, else
for its socket timeout ``http-timeout`` (60 s by default). ``harakiri`` kills a request running
longer. ``buffer-size`` (4096 by default) caps the request headers.
"""

from __future__ import annotations

import os
import re

from confgen.appserver.model import AppServer, Value
from confgen.appserver.options import number

HTTP_TIMEOUT_S = 60
BUFFER_SIZE = 4096
SOURCE = ("uWSGI's HTTP router: http-keepalive > 1 sets the idle timer, else http-timeout (default 60 s); "
          "https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html")
_PLACEHOLDER = re.compile(r"%\(|\$\(|@\(")
_KEY_VALUE = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$")


# uWSGI's one-letter options (``uwsgi --help``, 2.0; https://uwsgi-docs.readthedocs.io/en/latest/Options.html
# "shortcut"): the long name each sets, and whether it takes a value (required: the rest of the
# word or the next word; optional: only the rest of the word, as getopt reads ``-C666``; none: a
# flag, after which the next letters of the word are options too, as in ``-Mb 32768``).
_SHORT = {
    "s": ("socket", "required"), "p": ("processes", "required"), "t": ("harakiri", "required"),
    "x": ("xmlconfig", "required"), "S": ("set", "required"), "d": ("daemonize", "required"),
    "l": ("listen", "required"), "v": ("max-vars", "required"), "b": ("buffer-size", "required"),
    "R": ("max-requests", "required"), "z": ("socket-timeout", "required"), "A": ("sharedarea", "required"),
    "Q": ("spooler", "required"), "y": ("yaml", "required"), "w": ("module", "required"),
    "J": ("test", "required"), "H": ("home", "required"), "O": ("optimize", "required"),
    "C": ("chmod-socket", "optional"),
    "m": ("memory-report", "none"), "c": ("cgi-mode", "none"), "a": ("abstract-socket", "none"),
    "T": ("enable-threads", "none"), "i": ("single-interpreter", "none"), "M": ("master", "none"),
    "h": ("help", "none"), "r": ("reaper", "none"), "L": ("disable-logging", "none"),
}


def _words(args: list[str]) -> list[tuple[str, str, str]]:
    """(long name, value or "", as written) of each option on the command line, one-letter
    options read as uWSGI's getopt reads them; other words (uWSGI's config files named without an
    option, values of options not known here) are skipped."""
    found: list[tuple[str, str, str]] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word.startswith("--"):
            key, _, inline = word[2:].partition("=")
            if not inline and index < len(args) and not args[index].startswith("-"):
                inline = args[index]
                index += 1
            found.append((key, inline, f"--{key}"))
            continue
        if not word.startswith("-") or word == "-":
            continue
        letters = word[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            if letter not in _SHORT:
                break                  # not an option of this uWSGI: the rest of the word is unknown
            key, argument = _SHORT[letter]
            if argument == "none":
                found.append((key, "", f"-{letter}"))
                continue
            value = letters
            if not value and argument == "required" and index < len(args):
                value = args[index]
                index += 1
            found.append((key, value, f"-{letter}"))
            break
    return found


def read_args(args: list[str], label: str, file: str | None, line: int, cwd: str | None = None) -> AppServer:
    """uWSGI from its command-line words (``--ini`` files read relative to ``cwd``)."""
    options: list[tuple[str, str, str]] = []      # (key, value, where)
    for key, inline, written in _words(args):
        if key in ("ini", "config") and inline:
            path = inline.split(":", 1)[0]
            options += read_ini_options(os.path.join(cwd or ".", path))
        elif key == "set" and "=" in inline:
            # --set / -S name=value sets the option ``name`` (uwsgi --show-config lists it so).
            name, _, value = inline.partition("=")
            options.append((name.strip(), value, f"{label} ({written} {name.strip()})"))
        else:
            options.append((key, inline or "true", f"{label} ({written})"))
    return _server(options, label, file, line)


def read_ini(path: str) -> AppServer:
    return _server(read_ini_options(path), path, path, 1)


def read_ini_options(path: str) -> list[tuple[str, str, str]]:
    """(key, value, "file:line") of each line of the file's ``[uwsgi]`` section, in order."""
    from confgen.files import read_text_file

    try:
        text = read_text_file(path, 1024 * 1024)
    except Exception:  # noqa: BLE001 - a missing ini is named in the note the caller shows
        return [("__unreadable__", path, path)]
    options, section = [], None
    for number_, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped[0] in ";#":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        match = _KEY_VALUE.match(raw)
        if section == "uwsgi" and match:
            options.append((match.group(1), match.group(2), f"{path}:{number_}"))
    return options


def _server(options: list[tuple[str, str, str]], label: str, file: str | None, line: int) -> AppServer:
    server = AppServer("uwsgi", label, file, line)
    values: dict[str, tuple[str, str]] = {}
    for key, value, where in options:
        if key == "__unreadable__":
            server.notes.append(f"{label}: uWSGI ini {value} could not be read; its settings are unknown")
            continue
        values[key] = (value, where)
    for key, (value, where) in values.items():
        server.settings[key] = Value(value, where, key, _line(where))
    sockets = {key: values[key] for key in ("http", "http-socket", "socket", "uwsgi-socket") if key in values}
    if "http" in sockets:
        server.protocol = "http"
        server.binds = [sockets["http"][0]]
        keepalive = values.get("http-keepalive")
        seconds = number(keepalive[0]) if keepalive else None
        if keepalive is not None and _PLACEHOLDER.search(keepalive[0]):
            server.idle = None
        elif seconds is not None and seconds > 1:
            server.idle = Value(seconds, keepalive[1], "http-keepalive", _line(keepalive[1]))
        else:
            timeout = values.get("http-timeout")
            if timeout is None:
                server.idle = Value(HTTP_TIMEOUT_S, SOURCE, "http-timeout")
            elif number(timeout[0]) is not None:
                server.idle = Value(number(timeout[0]), timeout[1], "http-timeout", _line(timeout[1]))
    elif "socket" in sockets or "uwsgi-socket" in sockets:
        server.protocol = "uwsgi"
        server.binds = [(sockets.get("socket") or sockets["uwsgi-socket"])[0]]
        server.keeps_alive = False   # the uwsgi protocol carries one request per connection
    elif "http-socket" in sockets:
        server.protocol = "http"
        server.binds = [sockets["http-socket"][0]]
        server.notes.append(f"{label}: uWSGI http-socket: whether it keeps connections alive is not read here")
    harakiri = values.get("harakiri")
    if harakiri is not None and number(harakiri[0]) is not None:
        server.kills_after = Value(number(harakiri[0]), harakiri[1], "harakiri", _line(harakiri[1]))
    buffer = values.get("buffer-size")
    server.settings["buffer-size"] = Value(number(buffer[0]) if buffer else BUFFER_SIZE,
                                           buffer[1] if buffer else "uWSGI's default", "buffer-size",
                                           _line(buffer[1]) if buffer else None)
    return server


def _line(where: str) -> int | None:
    tail = where.rsplit(":", 1)[-1].split(" ", 1)[0]
    return int(tail) if tail.isdigit() else None
