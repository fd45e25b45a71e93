"""An app server as the chain sees it: which server, where it listens, and its timers, each
value with where it came from (a file and line, a command line, or the server's default with
its source)."""

from __future__ import annotations

from dataclasses import dataclass, field

from confgen.hops import Hop, Timer


@dataclass(frozen=True)
class Value:
    value: object                # a timer's value is in seconds, whatever unit its setting is written in
    source: str                  # "Procfile:1 (--timeout-keep-alive)", "uvicorn's default (...)"
    setting: str                 # as the server spells it: "--timeout-keep-alive", "http-keepalive"
    line: int | None = None
    unit: str = "s"              # the unit the setting is written in: "ms" for granian's header read timeout
    ceiling: float | None = None  # the longest the server accepts, in seconds (None: no limit)

    @property
    def written_at(self) -> tuple[str, int] | None:
        """(file, line) of a value read from a config file ("deploy/uwsgi.ini:12"); None for one
        from a command line ("start.sh:3 (--socket)") or a default."""
        file, colon, line = self.source.rpartition(":")
        return (file, self.line) if colon and line.isdigit() and self.line else None


@dataclass
class AppServer:
    server: str                               # uvicorn, hypercorn, daphne, uwsgi, granian
    label: str                                # where it was read: "Procfile:1", "deploy/uwsgi.ini"
    file: str | None = None
    line: int = 1
    binds: list[str] = field(default_factory=list)   # "127.0.0.1:8000", "unix:/run/app.sock"
    protocol: str = "http"                    # "http", or "uwsgi" for uWSGI's own protocol (uwsgi_pass)
    idle: Value | None = None                 # idle keep-alive timeout for the client (nginx) side
    kills_after: Value | None = None          # a per-request kill timer (uWSGI harakiri)
    keeps_alive: bool = True                  # False: one request per connection
    # When it closes every connection after one response: why (the setting, where it is written),
    # and what makes it keep connections open, so a pool in front is reused ("{keep}": seconds a
    # little above nginx's upstream keepalive_timeout, "{idle}": that timeout).
    closes: str = ""
    reuse: str = ""
    settings: dict[str, Value] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    command: object = None                    # the command file it was read from (gunicorn.sources.CommandSource)
    # The same server on its other sockets when they speak another protocol (uWSGI's uwsgi-socket
    # beside an http-socket): the face nginx reaches is chosen by port when pairing.
    faces: list = field(default_factory=list)
    # How many connections it serves at once when an idle keep-alive connection holds a worker
    # until it closes (uWSGI's http11-socket: processes x threads, or x async cores); None when
    # idle connections hold no worker, or it is unknown.
    slots: Value | None = None

    def hop(self) -> Hop:
        idle = _timer(self.idle) if self.keeps_alive else None
        kills = _timer(self.kills_after) if self.kills_after is not None \
            and isinstance(self.kills_after.value, (int, float)) and self.kills_after.value > 0 else None
        return Hop(kind=self.server, label=f"{self.server} ({self.label})", file=self.file, line=self.line,
                   idle_from_previous=idle, kills_after=kills, notes=list(self.notes))


def _timer(value: Value | None) -> Timer | None:
    """The timer a known number of seconds makes; None for an unknown one."""
    if value is None or not isinstance(value.value, (int, float)) or isinstance(value.value, bool):
        return None
    return Timer(float(value.value), value.source, value.setting, unit=value.unit, ceiling=value.ceiling)
