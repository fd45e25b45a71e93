"""granian: its options on a command line, or as ``GRANIAN_*`` environment variables (click's
``auto_envvar_prefix='GRANIAN'``, granian/cli.py ``entrypoint``), read statically. Checked on
granian 2.8.9, its CLI (``granian --help``) and a running server:

- Where it listens: ``--host`` (127.0.0.1) and ``--port`` (8000), or ``--uds PATH``, a unix
  socket, which wins over both (granian/server/common.py: ``bind_uds`` first).
- How long it keeps an idle keep-alive connection: granian has no keep-alive timeout of its own.
  Its HTTP/1 layer, hyper, arms the header read timeout whenever it waits for a request head,
  the next one on a kept-alive connection included (hyper src/proto/h1/conn.rs
  ``poll_read_head``), and granian sets that timeout from ``--http1-header-read-timeout``
  (src/workers.rs ``.header_read_timeout(...)``): milliseconds, 30000 by default (granian/http.py
  ``HTTP1Settings.header_read_timeout``), at most 60000 (cli.py ``IntRange(1, 60_000)``; granian
  refuses to start above it). Measured on 127.0.0.1 with a raw keep-alive connection: closed
  30.0 s after the response by default, 4.0 s with 4000, 2.5 s with the variable set to 2500.
- ``--no-http1-keep-alive``: every response says ``Connection: close`` and the connection ends.
- ``--http 2``: HTTP/2 only (an HTTP/1.1 request gets an HTTP/2 SETTINGS frame back), which
  nginx's proxy_pass (HTTP/1.x) cannot speak: no HTTP/1 idle time to compare.
- ``--workers`` and ``--backpressure`` are kept as settings; no rule judges them (backpressure,
  backlog/workers by default, is a semaphore each connection holds until it closes, idle ones
  included: src/workers.rs ``listen``).

A value granian would refuse (not a number, out of its range) or a variable set where it cannot
be read (None in ``environ``) leaves what it governs unknown, with a note: never a default.
"""

from __future__ import annotations

from collections.abc import Mapping

from confgen.appserver.model import AppServer, Value
from confgen.appserver.options import Spec, parse

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_HEADER_READ_TIMEOUT_MS = 30_000
MAX_HEADER_READ_TIMEOUT_MS = 60_000
IDLE_SETTING = "--http1-header-read-timeout"
SOURCE = ("granian's default, granian/http.py HTTP1Settings.header_read_timeout = 30_000 (ms), which hyper "
          "also applies to an idle keep-alive connection; "
          "https://github.com/emmett-framework/granian/blob/master/granian/http.py")
CEILING_SOURCE = ("granian/cli.py --http1-header-read-timeout IntRange(1, 60_000); "
                  "https://github.com/emmett-framework/granian/issues/718")

OPTIONS = {
    "--host": Spec("host"), "--port": Spec("port"), "--uds": Spec("uds"),
    "--interface": Spec("interface"), "--http": Spec("http"),
    "--workers": Spec("workers"), "--backpressure": Spec("backpressure"),
    "--http1-keep-alive": Spec("http1_keep_alive", False, True),
    "--no-http1-keep-alive": Spec("http1_keep_alive", False, False),
    IDLE_SETTING: Spec("http1_header_read_timeout"),
}
# click's boolean words (click.types.BoolParamType), for a flag set from the environment.
_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def read(args: list[str], environ: Mapping[str, str | None], label: str, file: str | None,
         line: int) -> AppServer:
    found, _ = parse(args, OPTIONS)
    server = AppServer("granian", label, file, line)
    for name in {spec.name for spec in OPTIONS.values()}:
        variable = f"GRANIAN_{name.upper()}"
        # click reads the variable only when the option is not on the command line, and takes
        # an empty one as unset.
        if name not in found and variable in environ and environ[variable] != "":
            found[name] = (environ[variable], variable)
    for name, (value, given) in found.items():
        server.settings[name] = Value(value, f"{label} ({given})", given, line)
    server.binds = _binds(found, server)
    speaks_http1 = _speaks_http1(found, server)
    keeps_alive = _keeps_alive(found, server)
    if keeps_alive is False:
        server.keeps_alive = False
        given = found["http1_keep_alive"][1]
        server.closes = f"runs with {given} ({label}): every response says `Connection: close`"
        server.reuse = (f"{'drop ' + given if given.startswith('--') else 'unset ' + given}, then keep the upstream's "
                        f"`keepalive_timeout` below granian's {IDLE_SETTING} (30000 ms by default, at most 60000)")
    elif speaks_http1 and keeps_alive:
        server.idle = _idle(found, label, line, server)
    return server


def _binds(found: dict, server: AppServer) -> list[str]:
    if "uds" in found:
        path = found["uds"][0]
        return [f"unix:{path}"] if path else _unknown(server, found["uds"][1], "its socket path")
    host, port = found.get("host", (DEFAULT_HOST, None))[0], found.get("port", (DEFAULT_PORT, None))[0]
    if not host:
        return _unknown(server, found["host"][1], "the address it listens on")
    number = _whole(port)
    if number is None:
        return _unknown(server, found["port"][1], "the port it listens on")
    return [f"[{host}]:{number}" if ":" in host and not host.startswith("[") else f"{host}:{number}"]


def _speaks_http1(found: dict, server: AppServer) -> bool:
    mode, given = found.get("http", ("auto", None))
    if mode is not None and str(mode).lower() in ("auto", "1"):
        return True
    if mode is not None and str(mode).lower() == "2":
        server.notes.append(f"{server.label}: granian --http 2 serves HTTP/2 only, which nginx's proxy_pass "
                            f"(HTTP/1.x) does not speak: it has no HTTP/1 idle time to compare")
    else:
        _unknown(server, given, "which HTTP version it serves, so its idle time")
    return False


def _keeps_alive(found: dict, server: AppServer) -> bool | None:
    value, given = found.get("http1_keep_alive", (True, None))
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if value is not None else None
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    _unknown(server, given, "whether it keeps connections alive, so its idle time")
    return None


def _idle(found: dict, label: str, line: int, server: AppServer) -> Value | None:
    if "http1_header_read_timeout" not in found:
        return Value(DEFAULT_HEADER_READ_TIMEOUT_MS / 1000, SOURCE, IDLE_SETTING, unit="ms",
                     ceiling=MAX_HEADER_READ_TIMEOUT_MS / 1000)
    value, given = found["http1_header_read_timeout"]
    milliseconds = _whole(value)
    if milliseconds is None or not 1 <= milliseconds <= MAX_HEADER_READ_TIMEOUT_MS:
        _unknown(server, given, f"its idle time (granian takes 1 to {MAX_HEADER_READ_TIMEOUT_MS} ms: "
                                f"{CEILING_SOURCE})")
        return None
    return Value(milliseconds / 1000, f"{label} ({given})", given, line, unit="ms",
                 ceiling=MAX_HEADER_READ_TIMEOUT_MS / 1000)


def _whole(value: object) -> int | None:
    """The integer click would make of ``value`` (``int()``, as click.INT does), or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def _unknown(server: AppServer, given: str | None, what: str) -> list[str]:
    server.notes.append(f"{server.label}: granian's {given} cannot be read (computed where it runs, or a value "
                        f"granian refuses): {what} is not known")
    return []
