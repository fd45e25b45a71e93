"""uvicorn started from the app's own script: ``python main.py`` where main.py ends in
``uvicorn.run(app, host=..., port=..., timeout_keep_alive=...)`` (or builds a
``uvicorn.Config(...)`` for ``uvicorn.Server``).

The script is read with :mod:`ast`, never run: only keyword arguments written as literals count.
A keyword whose value is computed (``int(os.environ["PORT"])``) or hidden in ``**options`` is
unknown, so the rules that need it stay silent rather than assume uvicorn's default.
"""

from __future__ import annotations

import ast
import functools
import os
import re

from confgen.appserver.model import AppServer, Value
from confgen.appserver.uvicorn import DEFAULT_KEEP_ALIVE_S, SOURCE
from confgen.errors import ConfgenError
from confgen.files import locate_container_path

MAX_SCRIPT_BYTES = 1024 * 1024
_PYTHON = re.compile(r"python[\d.]*")
# uvicorn.run()'s and uvicorn.Config()'s keywords that the chain reads; their defaults are the
# command line's (uvicorn/main.py run(), uvicorn/config.py Config: timeout_keep_alive=5).
_KEYWORDS = ("host", "port", "uds", "fd", "timeout_keep_alive", "proxy_headers", "forwarded_allow_ips",
             "limit_concurrency", "workers")

_POSITIONAL = ("app", "host", "port", "uds", "fd")  # uvicorn.Config's first parameters (uvicorn.run: app only)


def script_word(words: list[str]) -> int | None:
    """The index of the script in ``python [options] SCRIPT.py ...``, the last such command."""
    found = None
    for index, word in enumerate(words):
        if not _PYTHON.fullmatch(os.path.basename(word)):
            continue
        after = index + 1
        while after < len(words) and words[after].startswith("-") and words[after] not in ("-m", "-c"):
            after += 1
        if after < len(words) and words[after].endswith(".py"):
            found = after
    return found


def locate(word: str, cwd: str) -> str | None:
    """The script a command names, relative to the directory of the file that holds the command
    (a container's /app/main.py is main.py beside the Dockerfile)."""
    return locate_container_path(word, [cwd])


def read(path: str, label: str | None = None) -> AppServer | None:
    """The uvicorn the script starts, or None when it starts none (or cannot be read)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    calls = _uvicorn_calls(os.path.realpath(path), status.st_mtime_ns, status.st_size)
    if not calls:
        return None
    servers = [_from_call(call, path, label) for call in calls]
    last = servers[-1]

    def started(server: AppServer) -> tuple:
        return (server.idle.value if server.idle else None), server.binds

    if any(started(server) != started(last) for server in servers[:-1]):
        # Several starts that differ (a development branch, a frozen build): which one runs is
        # decided at run time, so neither its timer nor its address is known.
        last.idle, last.binds = None, []
        last.notes.append(f"{path}: {len(servers)} uvicorn starts with different settings; which runs is decided at run time")
    return last


def _from_call(call: ast.Call, path: str, label: str | None) -> AppServer:
    where = f"{path}:{call.lineno}"
    server = AppServer("uvicorn", f"{where}, run by {label}" if label else where, path, call.lineno)
    # uvicorn.Config also takes its first parameters by position (app, host, port, uds, fd); past
    # those, or through *args / **options, what the call sets is not written down here.
    spread = any(keyword.arg is None for keyword in call.keywords) or len(call.args) > len(_POSITIONAL) \
        or any(isinstance(arg, ast.Starred) for arg in call.args)
    given = [(name, arg) for name, arg in zip(_POSITIONAL, call.args) if name != "app"]
    given += [(keyword.arg, keyword.value) for keyword in call.keywords if keyword.arg in _KEYWORDS]
    known: dict[str, object] = {}
    for name, node in given:
        try:
            known[name] = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            known[name] = None                       # computed at run time: unknown
        if known[name] is not None:
            server.settings[name] = Value(known[name], f"{path}:{node.lineno} ({name})", name, node.lineno)
    if "timeout_keep_alive" in server.settings:
        server.idle = server.settings["timeout_keep_alive"]
    elif "timeout_keep_alive" not in known and not spread:
        server.idle = Value(DEFAULT_KEEP_ALIVE_S, SOURCE, "timeout_keep_alive")
    if spread or any(known.get(name, "") is None for name in ("host", "port", "uds", "fd")):
        return server                                # where it listens is not written down
    if "uds" in known:
        server.binds = [f"unix:{known['uds']}"]
    elif "fd" not in known:
        server.binds = [f"{known.get('host', '127.0.0.1')}:{known.get('port', 8000)}"]
    return server


@functools.lru_cache(maxsize=64)
def _uvicorn_calls(path: str, mtime_ns: int, size: int) -> tuple[ast.Call, ...]:
    """Every ``uvicorn.run(...)`` or ``uvicorn.Config(...)`` call in the script, by either import
    style, in source order; parsed once per version of the file (a lint asks several times:
    whether a command starts a server, which one, then its settings)."""
    from confgen.files import read_text_file

    try:
        tree = ast.parse(read_text_file(path, MAX_SCRIPT_BYTES), filename=path)
    except (ConfgenError, SyntaxError, ValueError, RecursionError):
        return ()
    modules, functions = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "uvicorn"}
        elif isinstance(node, ast.ImportFrom) and node.module == "uvicorn":
            functions |= {alias.asname or alias.name for alias in node.names if alias.name in ("run", "Config")}
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr in ("run", "Config")
                and isinstance(func.value, ast.Name) and func.value.id in modules) \
                or (isinstance(func, ast.Name) and func.id in functions):
            calls.append(node)
    return tuple(sorted(calls, key=lambda call: (call.lineno, call.col_offset)))
