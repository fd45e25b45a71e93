"""gunicorn as a hop of the chain: how long it keeps an idle connection from the hop in front
(``keepalive``; the sync worker keeps none), and whether it kills a slow request (``timeout``,
for the sync worker only: confgen.gunicorn.worker_timeouts)."""

from __future__ import annotations

from confgen.gunicorn.reader import UNKNOWN, GunicornConfig
from confgen.gunicorn.worker_timeouts import timeout_model
from confgen.hops import Hop, Timer

KEEPALIVE_SOURCE = "gunicorn's default keepalive 2 s; https://docs.gunicorn.org/en/stable/settings.html#keepalive"
TIMEOUT_SOURCE = "gunicorn's default timeout 30 s; https://docs.gunicorn.org/en/stable/settings.html#timeout"


def gunicorn_hop(config: GunicornConfig, label: str) -> Hop:
    command = config.command
    # Findings point where the app side is written: its command line, else its config file.
    hop = Hop(kind="gunicorn", label=f"gunicorn ({label})", file=command.path if command is not None else config.path,
              line=command.line if command is not None else 1)
    worker = config.worker_class
    if worker is UNKNOWN:
        return hop
    keepalive = config.setting("keepalive")
    if worker != "sync" and isinstance(keepalive.value, (int, float)) and not isinstance(keepalive.value, bool):
        hop.idle_from_previous = Timer(float(keepalive.value), _where(keepalive, KEEPALIVE_SOURCE, label), "keepalive")
        if keepalive.source == "file" and keepalive.line:
            hop.file, hop.line = keepalive.file or config.path, keepalive.line
    timeout = config.setting("timeout")
    if timeout_model(worker).kills_slow_requests and isinstance(timeout.value, (int, float)) and timeout.value > 0:
        hop.kills_after = Timer(float(timeout.value), _where(timeout, TIMEOUT_SOURCE, label), "timeout")
    return hop


def _where(setting, default_source: str, label: str) -> str:
    if setting.source == "default":
        return default_source
    if setting.source == "cli":
        return f"{label} (command line)"
    return f"{setting.file or label}:{setting.line}" if setting.line else (setting.file or label)
