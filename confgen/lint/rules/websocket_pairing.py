"""WebSocket routes and the app behind them (CG215): an upgrade needs a server and an app that can
hold the connection open, which a Django project served through WSGI cannot."""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules._proxy import (app_routes, django_entry, more_locations, websocket_only, websocket_path,
                                      worker_class)

# gunicorn's own workers, which hand each request to the WSGI callable and send what it returns.
# gevent's and eventlet's are left out: with them a worker class of a library (gevent-websocket,
# gevent-socketio) or the app itself may take the socket over.
_PLAIN_WSGI_WORKERS = {"sync", "gthread"}
# uWSGI options with which an app may answer an upgrade itself (uwsgi.websocket_handshake).
_UWSGI_UPGRADE_OPTIONS = ("websocket", "gevent", "async", "greenlet", "ugreen", "asyncio")


@rule(code="CG215", name="websocket-to-wsgi-app", severity="warning", needs=("chain",))
def websocket_to_wsgi_app(ctx: LintContext) -> Iterator[Finding]:
    """A WebSocket location proxies upgrades to a Django project served through WSGI.

    A WebSocket opens when the server answers the handshake with ``101 Switching Protocols``
    and keeps the connection. Django speaks WebSocket only through ASGI (Channels, under
    daphne, uvicorn or hypercorn); its WSGI handler answers the handshake as an ordinary GET (a
    404, or a page), so the socket never opens and the browser retries. Reported when a location
    whose path names a WebSocket endpoint (``/ws``, ``/websocket``, ``/socket.io``, ...) and that
    upgrades (``Connection upgrade``, or the ``$connection_upgrade`` map) reaches the paired app, whose entry point is a project's ``wsgi`` module served by
    gunicorn's sync or gthread worker or by uWSGI without an async or WebSocket option. Send the
    WebSocket paths to an ASGI server running the project's ``asgi`` application.

    App command:
        gunicorn -k gthread --threads 4 -b 127.0.0.1:8000 project.wsgi

    Bad:
        server {
            location / { proxy_pass http://127.0.0.1:8000; }
            location /ws/ {
                proxy_pass http://127.0.0.1:8000;
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection "upgrade";
            }
        }

    Good:
        server {
            location / { proxy_pass http://127.0.0.1:8000; }
            location /ws/ {
                proxy_pass http://127.0.0.1:8001;  # daphne -b 127.0.0.1 -p 8001 project.asgi:application
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection "upgrade";
            }
        }

    References:
        https://channels.readthedocs.io/en/latest/deploying.html
        https://docs.djangoproject.com/en/stable/howto/deployment/asgi/
        https://docs.gunicorn.org/en/stable/design.html
        https://uwsgi-docs.readthedocs.io/en/latest/WebSockets.html
    """
    entry = django_entry(ctx)
    if entry is None or not entry.split(":")[0].endswith(".wsgi"):
        return
    server = _wsgi_server(ctx)
    if server is None:
        return
    # A path that names a WebSocket endpoint: `Connection upgrade` is also copied onto ordinary routes.
    upgrading = [route for route in app_routes(ctx) if websocket_only(ctx, [route]) and websocket_path(ctx, route)]
    if not upgrading:
        return
    first = upgrading[0]
    yield ctx.finding(first.proxy_pass,
                      f"this location{more_locations(upgrading)} upgrades WebSocket connections to {entry} served by "
                      f"{server}, and Django answers a WebSocket handshake only through ASGI: the handshake gets an "
                      f"ordinary HTTP answer and the socket never opens; send these paths to an ASGI server "
                      f"(daphne or uvicorn running the project's asgi application)")


def _wsgi_server(ctx: LintContext) -> str | None:
    """How the app is served, when that can only be plain WSGI; else None."""
    if ctx.gunicorn is not None:
        worker = worker_class(ctx)
        return f"gunicorn's {worker} worker" if worker in _PLAIN_WSGI_WORKERS else None
    server = ctx.app_server
    if server is None or server.server != "uwsgi":
        return None
    if any(option in key for key in server.settings for option in _UWSGI_UPGRADE_OPTIONS):
        return None
    return f"uWSGI ({server.label})"
