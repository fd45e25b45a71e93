"""An app server's settings from the words of the command that starts it (and the files that
command names, relative to ``cwd``), whichever server it is."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confgen.appserver.model import AppServer


def read_server(server: str, args: list[str], *, label: str, file: str | None, line: int = 1,
                environ: dict[str, str | None] | None = None, cwd: str | None = None,
                mounted: dict[str, tuple[str, str]] | None = None) -> AppServer | None:
    """None for gunicorn (its own reader) or a server confgen does not read. ``environ``: the
    variables the command runs with; None for one set where its value cannot be read.
    ``mounted``: in a container, the files it sees by path (text, where it is written); a config
    file the command names is read only from there."""
    # Imported here: `confgen lint` asks is_uwsgi_ini() of every input, and most never name an app server.
    from confgen.appserver import daphne, granian, hypercorn, uvicorn, uwsgi

    environ = environ or {}
    if server == "uvicorn":
        return uvicorn.read(args, environ, label, file, line)
    if server == "hypercorn":
        return hypercorn.read(args, environ, label, file, line, cwd=cwd)
    if server == "daphne":
        return daphne.read(args, environ, label, file, line)
    if server == "granian":
        return granian.read(args, environ, label, file, line)
    if server == "uwsgi":
        return uwsgi.read_args(args, label, file, line, cwd=cwd, mounted=mounted, environ=environ)
    return None


# A uWSGI config file's own section: ``[uwsgi]`` in an ini file, a top-level ``uwsgi:`` in YAML.
_UWSGI_SECTION = re.compile(r"^[ \t]*\[uwsgi\][ \t]*\r?$|^uwsgi:[ \t]*(?:#.*)?\r?$", re.M)


def is_uwsgi_ini(text: str) -> bool:
    """A uWSGI config file: an ini file with a ``[uwsgi]`` section, or a YAML one with a
    top-level ``uwsgi:`` mapping."""
    return _UWSGI_SECTION.search(text) is not None
