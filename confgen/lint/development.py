"""Whether the app behind nginx runs as a development setup, where tuning advice is noise.

A published repository often ships the stack its developers run (a compose file with the code
mounted and reloaded on every change) beside, or instead of, the one it deploys. Worker counts,
file limits and connection pools matter in production, not there. The signs: the app is told it
is in development (``DEBUG``, ``DJANGO_DEBUG`` or ``FLASK_DEBUG`` on, ``FLASK_ENV``/``APP_ENV``
development, in the environment its command runs with, or as the default its compose file gives
``${DEBUG:-True}``); or the server reloads the code on change
(gunicorn ``reload``, ``--reload``/``--autoreload`` of uvicorn, hypercorn, granian and the others,
uWSGI ``py-autoreload``) and the same command file also starts a development server
(``manage.py runserver``, ``flask run``). Reloading alone is not enough: production units do run
``gunicorn --reload``.
"""

from __future__ import annotations

import re

# Rules whose advice is about throughput and capacity: notes, not findings, in a development setup.
TUNING_RULES = frozenset({"upstream-no-keepalive", "proxy-pass-no-upstream", "upstream-keepalive-pool-small",
                          "worker-connections-nofile", "worker-processes", "worker-connections-capacity",
                          "gzip-level-high"})

_RELOAD_WORDS = {"--reload", "--autoreload", "--auto-reload", "--py-autoreload", "--python-autoreload"}
_UWSGI_RELOAD = ("py-autoreload", "python-autoreload")
_ON = {"1", "true", "yes", "on"}
_DEBUG_VARIABLES = ("DEBUG", "DJANGO_DEBUG", "FLASK_DEBUG")
_ENVIRONMENT_VARIABLES = ("FLASK_ENV", "APP_ENV", "ENVIRONMENT", "DJANGO_ENV")
_DEV_SERVER = re.compile(r"\brunserver\b|\bflask\s+run\b")


def development_setup(ctx) -> str | None:
    """Why the paired app is a development setup, or None: it is told so (``DEBUG`` on, an
    environment named development), or it reloads its code on change and its command file also
    starts a development server."""
    source = getattr(ctx.gunicorn, "command", None) or getattr(ctx.app_server, "command", None)
    if source is None:
        return None
    told = _told_development(source)
    if told is not None:
        return told
    reload = _reloads(ctx, source)
    if reload is not None and _DEV_SERVER.search(source.text or ""):
        return f"{reload} and {source.path} also starts a development server"
    return None


def _reloads(ctx, source) -> str | None:
    gunicorn = ctx.gunicorn
    if gunicorn is not None and gunicorn.get("reload") is True:
        return "gunicorn reloads the code on change (reload)"
    words = {w.value.split("=", 1)[0] for w in source.words}
    flag = next(iter(sorted(words & _RELOAD_WORDS)), None)
    if flag is not None:
        return f"the app server reloads the code on change ({flag})"
    server = ctx.app_server
    if server is not None and any(str(server.settings[key].value).strip() not in ("", "0", "false")
                                  for key in _UWSGI_RELOAD if key in server.settings):
        return "uWSGI reloads the code on change (py-autoreload)"
    return None


def _told_development(source) -> str | None:
    environment = source.environment()
    for name in _DEBUG_VARIABLES:
        value = environment.get(name)
        if value is None and name in environment:
            # `DEBUG=${DEBUG:-True}`: the file's own default, unless where it runs says otherwise.
            found = re.search(rf"\b{name}\s*[=:]\s*[\"']?\$\{{{name}:?-([^}}]*)\}}", source.text or "")
            value = found.group(1) if found else None
        if value is not None and str(value).strip().strip("'\"").lower() in _ON:
            return f"the app runs with {name}={value} ({source.label})"
    for name in _ENVIRONMENT_VARIABLES:
        value = environment.get(name)
        if value is not None and str(value).strip().strip("'\"").lower() in ("development", "dev"):
            return f"the app runs with {name}={value} ({source.label})"
    return None
