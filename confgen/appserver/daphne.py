"""daphne (Django Channels): where it listens, and its idle timeout. It has no keep-alive option;
an idle HTTP connection is closed by Twisted's HTTPFactory timeout, 60 s (daphne 4.2.3
http_protocol.py creates the factory with no timeout, so twisted/web/http.py's
``_REQUEST_TIMEOUT = 60`` applies)."""

from __future__ import annotations

from confgen.appserver.model import AppServer, Value
from confgen.appserver.options import Spec, parse

IDLE_S = 60
SOURCE = ("daphne has no keep-alive option: Twisted's HTTPFactory closes idle connections after 60 s "
          "(twisted/web/http.py _REQUEST_TIMEOUT; daphne/http_protocol.py); https://github.com/django/daphne")

OPTIONS = {"-b": Spec("bind"), "--bind": Spec("bind"), "-p": Spec("port"), "--port": Spec("port"),
           "-u": Spec("unix_socket"), "--unix-socket": Spec("unix_socket"), "--fd": Spec("fd"),
           "-e": Spec("endpoint", append=True), "--endpoint": Spec("endpoint", append=True),
           "--http-timeout": Spec("http_timeout")}
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", "8000"


def read(args: list[str], environ: dict[str, str], label: str, file: str | None, line: int) -> AppServer:
    found, _ = parse(args, OPTIONS)
    server = AppServer("daphne", label, file, line)
    for name, (value, flag) in found.items():
        server.settings[name] = Value(value, f"{label} ({flag})", flag, line)
    server.idle = Value(IDLE_S, SOURCE, "(fixed)")
    server.binds = _binds({name: value for name, (value, _) in found.items()})
    if not server.binds:
        server.notes.append(f"{label}: where daphne listens cannot be read here (a file descriptor, a Twisted "
                            f"endpoint or a value set elsewhere)")
    return server


def _binds(given: dict) -> list[str]:
    """Where daphne listens, as its command line decides (daphne/cli.py): every one of TCP
    (host and port, each defaulted when the other is given, both when nothing is), the unix
    socket, the file descriptor and each ``-e`` endpoint. [] when a descriptor or an endpoint is
    among them (their address is set elsewhere: a supervisor's socket), or a value is unreadable."""
    if "fd" in given or "endpoint" in given or any(
            given.get(name, "") is None for name in ("bind", "port", "unix_socket")):
        return []
    host, port, unix = given.get("bind"), given.get("port"), given.get("unix_socket")
    if not (host or port or unix):
        host, port = DEFAULT_HOST, DEFAULT_PORT
    binds = [f"{host or DEFAULT_HOST}:{port or DEFAULT_PORT}"] if host or port else []
    return binds + ([f"unix:{unix}"] if unix else [])
