"""uWSGI: options on its command line (``--name value``) or in an ini file's ``[uwsgi]`` section
(``--ini FILE``), read statically: ``$(VAR)`` takes the value the environment the command runs
with gives it, and another ``%(...)``/``$(...)``/``@(...)`` placeholder makes a value unknown.
``if-env``/``if-not-env``/``if-opt`` blocks are taken or skipped as that environment and the
options before them decide; a block whose condition is not known here (a file test, a loop)
makes what it sets unknown (https://uwsgi-docs.readthedocs.io/en/latest/ConfigLogic.html).

What the chain needs (uwsgi man page; unbit/uwsgi plugins/http/http.c and corerouter.c; each
keep-alive fact measured on uWSGI 2.0.31, tests/test_appserver_uwsgi.py):
``socket``/``uwsgi-socket`` speak the uwsgi protocol (nginx ``uwsgi_pass``), one request per
connection. ``http-socket`` speaks HTTP on the worker socket and closes the connection after
every response, whatever the request asks (the option list: only ``http11-socket`` is "HTTP 1.1
(Keep-Alive)"); ``http11-socket`` keeps it, and closes an idle one after ``socket-timeout``
(4 s by default). ``http`` starts uWSGI's HTTP router, which closes every connection after one
response unless ``http-keepalive`` is on (https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html,
"HTTP Keep-Alive"; http.c sets ``can_keepalive`` only when ``uhttp.keepalive``): then it keeps an
idle connection for ``http-keepalive`` seconds when that is above 1, else for its socket timeout
``http-timeout`` (60 s by default). ``http-keepalive`` is a number (``uwsgi_opt_set_int``): in an
ini file ``true`` or an empty value is 0, off (unbit/uwsgi issue #2018); on a command line a bare
``--http-keepalive`` is 1, and a value must be joined with ``=`` (``--http-keepalive 15`` makes
uWSGI load "15" as a config file, and it does not start). ``harakiri`` kills a request running
longer. ``buffer-size`` (4096 by default) caps the request headers.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re

from confgen.appserver.model import AppServer, Value
from confgen.appserver.options import number
from confgen.files import locate_container_path

HTTP_TIMEOUT_S = 60
SOCKET_TIMEOUT_S = 4
BUFFER_SIZE = 4096
DOCS = "https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html"
SOURCE = f"uWSGI's HTTP router: http-keepalive > 1 sets the idle timer, else http-timeout (default 60 s); {DOCS}"
SOCKET_SOURCE = ("uWSGI's http11-socket closes an idle connection after socket-timeout (default 4 s); "
                 "https://uwsgi-docs.readthedocs.io/en/latest/Options.html#socket-timeout")
# Options whose value uWSGI takes only when it is joined to them (getopt's optional_argument):
# given bare, they set 1 (uwsgi_opt_set_int with no value).
OPTIONAL_VALUE = {"http-keepalive"}
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


def _words(args: list[str]) -> list[tuple[str, str, str, str]]:
    """(long name, value or "", as written, how the value was given) of each option on the
    command line: "joined" (``--name=value``, ``-b32768``), "separate" (the next word) or ""
    (none). One-letter options are read as uWSGI's getopt reads them; an ini file named alone
    is read as ``--ini``; other words (values of options not known here) are skipped."""
    found: list[tuple[str, str, str, str]] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word.startswith("--"):
            key, equals, inline = word[2:].partition("=")
            how = "joined" if equals else ""
            if not equals and index < len(args) and not args[index].startswith("-"):
                inline = args[index]
                index += 1
                how = "separate"
            found.append((key, inline, f"--{key}", how))
            continue
        if not word.startswith("-") and word.endswith(".ini"):
            # `uwsgi /app/uwsgi.ini`: uWSGI loads a file named alone by its extension.
            found.append(("ini", word, word, "alone"))
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
                found.append((key, "", f"-{letter}", ""))
                continue
            value, how = letters, "joined" if letters else ""
            if not value and argument == "required" and index < len(args):
                value, how = args[index], "separate"
                index += 1
            found.append((key, value, f"-{letter}", how))
            break
    return found


def read_args(args: list[str], label: str, file: str | None, line: int, cwd: str | None = None,
              mounted: dict[str, tuple[str, str]] | None = None,
              environ: dict[str, str | None] | None = None) -> AppServer:
    """uWSGI from its command-line words (``--ini`` files read relative to ``cwd``, or from
    ``mounted``: the files a container sees, by absolute path, as (text, the file that holds it)),
    with the variables it runs with (``environ``; None for one set to a value not known here)."""
    options: list[tuple[str, str, str]] = []      # (key, value, where)
    notes: list[str] = []
    for key, inline, written, how in _words(args):
        if key in ("ini", "config", "yaml", "yml") and inline:
            # `--ini app.ini:prod` loads the file's [prod] section instead of [uwsgi].
            path, _, section = inline.partition(":")
            section = section or "uwsgi"
            if mounted is not None:
                found = mounted.get(posixpath.normpath(path)) if posixpath.isabs(path) else None
                if found is None:
                    options.append(("__unreadable__", path, label))
                    continue
                options += options_of(found[0], found[1], section, name=path)
                continue
            options += read_config_options(locate_container_path(path, [cwd or "."]) or os.path.join(cwd or ".", path),
                                           section)
        elif key == "set" and "=" in inline:
            # --set / -S name=value sets the option ``name`` (uwsgi --show-config lists it so).
            name, _, value = inline.partition("=")
            options.append((name.strip(), value, f"{label} ({written} {name.strip()})"))
        elif key in OPTIONAL_VALUE:
            if how == "separate":
                notes.append(f"{label}: uWSGI takes a value for --{key} only as --{key}={inline}: given apart, "
                             f"{inline!r} is loaded as a config file and uWSGI does not start")
            options.append((key, inline if how else "1", f"{label} ({written})"))
        else:
            options.append((key, inline or "true", f"{label} ({written})"))
    server = _server(options, label, file, line, environ)
    server.notes[:0] = notes
    return server


def read_ini(path: str, environ: dict[str, str | None] | None = None) -> AppServer:
    """uWSGI from a config file of its own: an ini file's ``[uwsgi]`` section, or a YAML file's
    ``uwsgi:`` mapping."""
    return _server(read_config_options(path), path, path, 1, environ)


def read_config_options(path: str, section: str = "uwsgi") -> list[tuple[str, str, str]]:
    """(key, value, "file:line") of each option of the file's ``section``, in order."""
    from confgen.files import read_text_file

    try:
        text = read_text_file(path, 1024 * 1024)
    except Exception:  # noqa: BLE001 - a missing ini is named in the note the caller shows
        return [("__unreadable__", path, path)]
    return options_of(text, path, section)


def options_of(text: str, path: str, section: str = "uwsgi", name: str | None = None) -> list[tuple[str, str, str]]:
    """The options of a uWSGI config file's text (YAML by its name's extension, or by top-level
    mapping keys and no ini section line; else ini), each placed at ``path``:line. ``name`` is
    the file's own name where ``path`` is the file that holds it (a ConfigMap's manifest)."""
    if (name or path).endswith((".yaml", ".yml")) or (re.search(r"^\[", text, re.M) is None
                                             and re.search(r"^[\w.-]+:[ \t]*(?:#.*)?$", text, re.M)):
        return yaml_options_of(text, path, section)
    return ini_options_of(text, path, section)


def ini_options_of(text: str, path: str, section: str = "uwsgi") -> list[tuple[str, str, str]]:
    """The options of an ini file's text, each placed at ``path``:line."""
    options, current = [], None
    for number_, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped[0] in ";#":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1].strip()
            continue
        match = _KEY_VALUE.match(raw)
        if current == section and match:
            options.append((match.group(1), match.group(2), f"{path}:{number_}"))
    return options


def yaml_options_of(text: str, path: str, section: str = "uwsgi") -> list[tuple[str, str, str]]:
    """The options of a YAML file's ``section`` mapping: a list gives the option once per item,
    as uWSGI's YAML reader does."""
    import yaml

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return [("__unreadable__", path, path)]
    mapping = next((value for key, value in root.value if isinstance(key, yaml.ScalarNode) and key.value == section),
                   None) if isinstance(root, yaml.MappingNode) else None
    options: list[tuple[str, str, str]] = []
    for key, value in mapping.value if isinstance(mapping, yaml.MappingNode) else ():
        if not isinstance(key, yaml.ScalarNode):
            continue
        for item in value.value if isinstance(value, yaml.SequenceNode) else [value]:
            if isinstance(item, yaml.ScalarNode):
                options.append((key.value, item.value, f"{path}:{item.start_mark.line + 1}"))
    return options


def _server(options: list[tuple[str, str, str]], label: str, file: str | None, line: int,
            environ: dict[str, str | None] | None = None) -> AppServer:
    server = AppServer("uwsgi", label, file, line)
    options, undecided = _apply_logic(options, environ)
    values: dict[str, tuple[str, str]] = {}
    for key, value, where in options:
        if key == "__unreadable__":
            server.notes.append(f"{label}: uWSGI ini {value} could not be read; its settings are unknown")
            continue
        values[key] = (_expand_environment(value, environ), where)
    for key, (value, where) in values.items():
        server.settings[key] = Value(value, where, key, _line(where))
    sockets = {key: values[key] for key in _SOCKET_OPTIONS if key in values}
    kinds = [kind for kind in _SOCKET_PREFERENCE if any(key in sockets for key in _SOCKET_KEYS[kind])]
    if kinds:
        _listen_as(server, kinds[0], sockets, values)
    harakiri = values.get("harakiri")
    if harakiri is not None and number(harakiri[0]) is not None:
        server.kills_after = Value(number(harakiri[0]), harakiri[1], "harakiri", _line(harakiri[1]))
    buffer = values.get("buffer-size")
    server.settings["buffer-size"] = Value(number(buffer[0]) if buffer else BUFFER_SIZE,
                                           buffer[1] if buffer else "uWSGI's default", "buffer-size",
                                           _line(buffer[1]) if buffer else None)
    # Its other sockets, when they speak another way (mailman: uwsgi-socket :8080 for uwsgi_pass
    # and http-socket :8000 for proxy_pass): the pairing takes the one nginx reaches.
    for kind in kinds[1:]:
        face = dataclasses.replace(server, binds=[], protocol="http", idle=None, keeps_alive=True, closes="",
                                   reuse="", faces=[])
        _listen_as(face, kind, sockets, values)
        server.faces.append(face)
    undecided_sockets = sorted(undecided & set(_SOCKET_OPTIONS))
    if undecided_sockets:
        # A socket set inside a block whose condition is not known here: where it listens is unknown.
        server.binds, server.faces = [], []
    if undecided:
        server.notes.append(f"{label}: uWSGI sets {', '.join(sorted(undecided))} inside if-/for blocks whose "
                            f"condition cannot be told here (the environment or files where it runs): "
                            f"{'where it listens is' if undecided_sockets else 'those settings are'} unknown")
    return server


_SOCKET_OPTIONS = ("http", "http-socket", "http11-socket", "socket", "uwsgi-socket")
# uWSGI's configuration logic (https://uwsgi-docs.readthedocs.io/en/latest/ConfigLogic.html):
# blocks opened by if-*/for-* options and closed by endif / endfor / end.
_BLOCK_ENDS = ("endif", "endfor", "end")
_ENVIRONMENT_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _apply_logic(options: list[tuple[str, str, str]], environ: dict[str, str | None] | None
                 ) -> tuple[list[tuple[str, str, str]], set[str]]:
    """The options uWSGI takes, its if-/for blocks evaluated where they can be: ``if-env`` and
    ``if-not-env`` against ``environ`` (a variable it holds is set; one it does not hold may be
    set where uWSGI runs, so unknown), ``if-opt`` against the options before it. A block whose
    condition is unknown (a file test, a loop, ``if-reload``) keeps its options out, and their
    keys are returned as undecided."""
    taken: list[tuple[str, str, str]] = []
    undecided: set[str] = set()
    stack: list[bool | None] = []        # each open block: taken, skipped, or not known
    for key, value, where in options:
        if key in _BLOCK_ENDS:
            if stack:
                stack.pop()
            continue
        if key.startswith(("if-", "for")):
            stack.append(_condition(key, value, environ, taken) if all(stack) else False)
            continue
        if False in stack:
            continue
        if None in stack:
            undecided.add(key)
            continue
        taken.append((key, value, where))
    return taken, undecided - {key for key, _, _ in taken}


def _condition(key: str, value: str, environ: dict[str, str | None] | None, taken) -> bool | None:
    negated = key.startswith("if-not-")
    test = key[len("if-not-"):] if negated else key[len("if-"):]
    if test == "env" and environ is not None:
        name, equals, wanted = value.partition("=")
        if name.strip() not in environ:
            return None
        held = environ[name.strip()]
        if equals:
            result = None if held is None else held == wanted
        else:
            result = True
        return None if result is None else result != negated
    if test == "opt":
        name, equals, wanted = value.partition("=")
        held = [v for k, v, _ in taken if k == name.strip()]
        result = bool(held) and (not equals or held[-1] == wanted)
        return result != negated
    return None


def _expand_environment(value: str, environ: dict[str, str | None] | None) -> str:
    """``$(NAME)`` replaced by the variable's value where ``environ`` knows it (else kept, unknown)."""
    if environ is None or "$(" not in value:
        return value
    return _ENVIRONMENT_REFERENCE.sub(lambda m: environ[m.group(1)] if environ.get(m.group(1)) is not None
                                      else m.group(0), value)


# Which socket makes the server's face when it has several (the first present), and its options.
_SOCKET_PREFERENCE = ("router", "uwsgi", "http11", "http")
_SOCKET_KEYS = {"router": ("http",), "uwsgi": ("socket", "uwsgi-socket"), "http11": ("http11-socket",),
                "http": ("http-socket",)}


def _listen_as(server: AppServer, kind: str, sockets: dict[str, tuple[str, str]],
               values: dict[str, tuple[str, str]]) -> None:
    """The server as it answers on one kind of socket: its protocol, address and keep-alive."""
    if kind == "router":
        server.protocol = "http"
        server.binds = [sockets["http"][0]]
        _router_keepalive(server, sockets["http"], values)
    elif kind == "uwsgi":
        server.protocol = "uwsgi"
        server.binds = [(sockets.get("socket") or sockets["uwsgi-socket"])[0]]
        server.keeps_alive = False   # the uwsgi protocol carries one request per connection
    elif kind == "http11":
        server.protocol = "http"
        server.binds = [sockets["http11-socket"][0]]
        server.slots = _worker_slots(values)
        timeout = values.get("socket-timeout")
        if timeout is None:
            server.idle = Value(SOCKET_TIMEOUT_S, SOCKET_SOURCE, "socket-timeout")
        elif number(timeout[0]) is not None:
            server.idle = Value(number(timeout[0]), timeout[1], "socket-timeout", _line(timeout[1]))
    else:
        server.protocol = "http"
        server.binds = [sockets["http-socket"][0]]
        server.keeps_alive = False
        server.closes = (f"serves `http-socket` ({sockets['http-socket'][1]}), which closes every connection after "
                         f"one response (uWSGI's option list: only `http11-socket` is \"HTTP 1.1 (Keep-Alive)\")")
        server.reuse = ("switch `http-socket` to `http11-socket` and set `socket-timeout = {keep}` (how long "
                        "http11-socket keeps an idle connection, 4 s by default)")


def _worker_slots(values: dict[str, tuple[str, str]]) -> Value | None:
    """The connections an http11-socket server serves at once: each worker thread (or async core)
    reads one connection, an idle keep-alive one included, until it closes (socket-timeout);
    measured on uWSGI 2.0.31 with one worker: a second client waits while a first connection
    idles. None when a count is not a literal number."""
    counts, where = [], []
    for keys, default in ((("processes", "workers"), 1), (("gevent", "async", "threads"), 1)):
        key = next((k for k in keys if k in values), None)
        if key is None:
            counts.append(default)
            continue
        count = number(values[key][0])
        if count is None or count < 1:
            return None
        counts.append(int(count))
        where.append(f"{key} = {values[key][0]} ({values[key][1]})")
    slots = counts[0] * counts[1]
    source = ", ".join(where) if where else "uWSGI's default: one process, one thread"
    return Value(slots, source, "processes x threads")


def _router_keepalive(server: AppServer, socket: tuple[str, str], values: dict[str, tuple[str, str]]) -> None:
    """Whether uWSGI's HTTP router keeps connections open, and for how long."""
    keepalive = values.get("http-keepalive")
    if keepalive is not None and _PLACEHOLDER.search(keepalive[0]):
        server.idle = None  # computed where it runs: unknown
        return
    seconds = _atoi(keepalive[0]) if keepalive is not None else 0
    if seconds <= 0:
        server.keeps_alive = False
        why = "without `http-keepalive`" if keepalive is None else \
            f"`http-keepalive = {keepalive[0]}` ({keepalive[1]}) is 0 to uWSGI, which reads a number of seconds"
        server.closes = (f"runs uWSGI's HTTP router (`http`, {socket[1]}), which closes every connection after one "
                         f"response {why} ({DOCS}, \"HTTP Keep-Alive\")")
        server.reuse = ("set `http-keepalive = {keep}` (`--http-keepalive={keep}` on a command line: the seconds "
                        "the router keeps an idle connection)")
    elif seconds > 1:
        server.idle = Value(float(seconds), keepalive[1], "http-keepalive", _line(keepalive[1]))
    else:
        timeout = values.get("http-timeout")
        if timeout is None:
            server.idle = Value(HTTP_TIMEOUT_S, SOURCE, "http-timeout")
        elif number(timeout[0]) is not None:
            server.idle = Value(number(timeout[0]), timeout[1], "http-timeout", _line(timeout[1]))


def _atoi(text: str) -> int:
    """The number C's atoi() makes of ``text``, as uWSGI reads an integer option: its leading
    digits, 0 for anything else (``true``, an empty value)."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def _line(where: str) -> int | None:
    tail = where.rsplit(":", 1)[-1].split(" ", 1)[0]
    return int(tail) if tail.isdigit() else None
