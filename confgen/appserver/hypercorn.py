"""hypercorn: ``--keep-alive`` (``keep_alive_timeout``, 5 s by default), ``-b/--bind``, and a
TOML config given with ``-c/--config``."""

from __future__ import annotations

import os

from confgen.appserver.model import AppServer, Value
from confgen.appserver.options import Spec, number, parse
from confgen.files import locate_container_path

# hypercorn 0.18.0 config.py: keep_alive_timeout = 5 * SECONDS; __main__.py --keep-alive.
DEFAULT_KEEP_ALIVE_S = 5
SOURCE = "hypercorn's default, hypercorn/config.py keep_alive_timeout = 5; https://hypercorn.readthedocs.io/en/latest/how_to_guides/configuring.html"

OPTIONS = {"--keep-alive": Spec("keep_alive_timeout"), "-b": Spec("bind", append=True),
           "--bind": Spec("bind", append=True), "-c": Spec("config"), "--config": Spec("config")}


def read(args: list[str], environ: dict[str, str], label: str, file: str | None, line: int,
         cwd: str | None = None) -> AppServer:
    found, _ = parse(args, OPTIONS)
    server = AppServer("hypercorn", label, file, line)
    values = {name: (value, f"{label} ({flag})", flag) for name, (value, flag) in found.items()}
    config = found.get("config")
    if config is not None:
        values = {**_toml(str(config[0]), cwd, server), **values}
    for name, (value, where, setting) in values.items():
        server.settings[name] = Value(value, where, setting, line)
    keep = values.get("keep_alive_timeout")
    if keep is None:
        server.idle = Value(DEFAULT_KEEP_ALIVE_S, SOURCE, "--keep-alive")
    elif number(keep[0]) is not None:
        server.idle = Value(number(keep[0]), keep[1], keep[2], line)
    binds = values.get("bind", ([], "", ""))[0]
    server.binds = [b for b in (binds if isinstance(binds, list) else [binds]) if isinstance(b, str)] or ["127.0.0.1:8000"]
    return server


def _toml(path: str, cwd: str | None, server: AppServer) -> dict[str, tuple[object, str, str]]:
    """keep_alive_timeout and bind from a hypercorn TOML config (``python:...`` is code: unread)."""
    import sys

    if path.startswith(("python:", "file:")) or not path.endswith(".toml"):
        server.notes.append(f"{server.label}: hypercorn config {path} is Python, not read (never run)")
        return {}
    full = locate_container_path(path, [cwd or "."]) or os.path.join(cwd or ".", path)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(full, "rb") as handle:
            table = tomllib.load(handle)
    except (OSError, ValueError) as error:
        server.notes.append(f"{server.label}: hypercorn config {full} not read ({error})")
        return {}
    return {key: (table[key], f"{full} ({key})", key) for key in ("keep_alive_timeout", "bind") if key in table}
