"""uvicorn started from the app's own script: ``python main.py`` where main.py ends in
``uvicorn.run(app, host=..., port=..., timeout_keep_alive=...)`` (or builds a
``uvicorn.Config(...)`` for ``uvicorn.Server``).

The script is read with :mod:`ast`, never run: only keyword arguments written as literals count.
A keyword whose value is computed (``int(os.environ["PORT"])``) or hidden in ``**options`` is
unknown, so the rules that need it stay silent rather than assume uvicorn's default.
"""

from __future__ import annotations

import ast
import os
import re

from confgen.appserver.model import AppServer, Value
from confgen.appserver.uvicorn import DEFAULT_KEEP_ALIVE_S, SOURCE
from confgen.errors import ConfgenError

MAX_SCRIPT_BYTES = 1024 * 1024
_PYTHON = re.compile(r"python[\d.]*")
# uvicorn.run()'s and uvicorn.Config()'s keywords that the chain reads; their defaults are the
# command line's (uvicorn/main.py run(), uvicorn/config.py Config: timeout_keep_alive=5).
_KEYWORDS = ("host", "port", "uds", "fd", "timeout_keep_alive", "proxy_headers", "forwarded_allow_ips",
             "limit_concurrency", "workers")


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
    (or by its name alone there: a container's /app/main.py is main.py beside the Dockerfile)."""
    for candidate in (os.path.join(cwd, word.lstrip("/")), os.path.join(cwd, os.path.basename(word))):
        if os.path.isfile(candidate):
            return candidate
    return None


def read(path: str, label: str | None = None) -> AppServer | None:
    """The uvicorn the script starts, or None when it starts none (or cannot be read)."""
    from confgen.files import read_text_file

    try:
        tree = ast.parse(read_text_file(path, MAX_SCRIPT_BYTES), filename=path)
    except (ConfgenError, SyntaxError, ValueError):
        return None
    call = _uvicorn_call(tree)
    if call is None:
        return None
    where = f"{path}:{call.lineno}"
    server = AppServer("uvicorn", f"{where}, run by {label}" if label else where, path, call.lineno)
    spread = any(keyword.arg is None for keyword in call.keywords)
    known: dict[str, object] = {}
    for keyword in call.keywords:
        if keyword.arg in _KEYWORDS:
            try:
                known[keyword.arg] = ast.literal_eval(keyword.value)
            except ValueError:
                known[keyword.arg] = None           # computed at run time: unknown
            if known[keyword.arg] is not None:
                server.settings[keyword.arg] = Value(known[keyword.arg], f"{path}:{keyword.lineno} ({keyword.arg}=)",
                                                     keyword.arg, keyword.lineno)
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


def _uvicorn_call(tree: ast.AST) -> ast.Call | None:
    """The last ``uvicorn.run(...)`` or ``uvicorn.Config(...)`` call, by either import style."""
    modules, functions = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "uvicorn"}
        elif isinstance(node, ast.ImportFrom) and node.module == "uvicorn":
            functions |= {alias.asname or alias.name for alias in node.names if alias.name in ("run", "Config")}
    found = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr in ("run", "Config")
                and isinstance(func.value, ast.Name) and func.value.id in modules) \
                or (isinstance(func, ast.Name) and func.id in functions):
            if found is None or (node.lineno, node.col_offset) > (found.lineno, found.col_offset):
                found = node
    return found
