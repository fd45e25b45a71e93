"""daphne (Django Channels): no keep-alive option; an idle HTTP connection is closed by Twisted's
HTTPFactory timeout, 60 s (daphne 4.2.3 http_protocol.py creates the factory with no timeout, so
twisted/web/http.py's ``_REQUEST_TIMEOUT = 60`` applies)."""

from __future__ import annotations

from confgen.appserver.model import AppServer, Value
from confgen.appserver.options import Spec, parse

IDLE_S = 60
SOURCE = ("daphne has no keep-alive option: Twisted's HTTPFactory closes idle connections after 60 s "
          "(twisted/web/http.py _REQUEST_TIMEOUT; daphne/http_protocol.py); https://github.com/django/daphne")

OPTIONS = {"-b": Spec("bind"), "--bind": Spec("bind"), "-p": Spec("port"), "--port": Spec("port"),
           "-u": Spec("unix_socket"), "--unix-socket": Spec("unix_socket"), "--http-timeout": Spec("http_timeout")}


def read(args: list[str], environ: dict[str, str], label: str, file: str | None, line: int) -> AppServer:
    found, _ = parse(args, OPTIONS)
    server = AppServer("daphne", label, file, line)
    for name, (value, flag) in found.items():
        server.settings[name] = Value(value, f"{label} ({flag})", flag, line)
    server.idle = Value(IDLE_S, SOURCE, "(fixed)")
    if "unix_socket" in found:
        server.binds = [f"unix:{found['unix_socket'][0]}"]
    else:
        server.binds = [f"{found.get('bind', ('127.0.0.1',))[0]}:{found.get('port', ('8000',))[0]}"]
    return server
