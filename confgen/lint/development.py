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

nginx's side tells it too: its file, or the folder it is kept in, is named for development
(``nginx.dev.conf``, ``docker/dev/``); every compose file that runs it is
(``docker-compose.dev.yml``, ``compose.local.yaml``); the service its compose file runs and
it passes to is told it is in development (when no other file gives the app's command); or
every name it serves is one RFC 6761 keeps for testing (``.test``, ``.localhost``).
"""

from __future__ import annotations

import os
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
# The words a project names its development files and folders with.
_DEVELOPMENT_WORDS = frozenset({"dev", "development", "devel", "develop", "local"})
# How many folders above nginx's file may be named for development.
_FOLDER_LEVELS = 2
# System folders named `local` that are no development's (/usr/local/etc/nginx, MacPorts' /opt/local).
_SYSTEM_PARENTS = frozenset({"usr", "opt"})
# The names RFC 6761 keeps for testing and for the machine itself: no deployment serves them.
_TEST_DOMAINS = (".test", ".localhost")


def development_setup(ctx) -> str | None:
    """Why the paired app is a development setup, or None: it is told so (``DEBUG`` on, an
    environment named development), or it reloads its code on change and its command file also
    starts a development server."""
    source = getattr(ctx.gunicorn, "command", None) or getattr(ctx.app_server, "command", None)
    if source is None:
        return _nginx_for_development(ctx, None)
    told = _told_development(source)
    if told is not None:
        return told
    reload = _reloads(ctx, source)
    if reload is not None and _DEV_SERVER.search(source.text or ""):
        return f"{reload} and {source.path} also starts a development server"
    return _nginx_for_development(ctx, source.path)


def _nginx_for_development(ctx, app_file: str | None) -> str | None:
    """Why nginx's own files say it is a development setup, or None. The services of nginx's
    compose file speak for the app only when no other file (an image's Dockerfile, a unit)
    gives its command: a compose file overriding an image's settings is one use of the image."""
    from confgen.lint.containers import tree_services

    main_file = ctx.nginx.main_file
    if main_file.startswith("<"):
        return None
    named = _named_for_development(main_file)
    if named is not None:
        return named
    files = sorted({path for paths, _ in tree_services(ctx) for path in paths})
    if files and all(_words(os.path.basename(path)) & _DEVELOPMENT_WORDS for path in files):
        return f"only {', '.join(os.path.basename(path) for path in files)} runs nginx"
    if files and (app_file is None or os.path.abspath(app_file) in files):
        told = _upstream_service_told_development(ctx, files)
        if told is not None:
            return told
    names = {name.lower().rstrip(".") for directive in ctx.nginx.find_all("server_name") for name in directive.args}
    names -= {"", "_"}
    if names and all(name.endswith(_TEST_DOMAINS) or name in ("localhost", "*.localhost") for name in names) \
            and any(name.endswith(_TEST_DOMAINS) for name in names):
        return f"it serves only names kept for testing ({', '.join(sorted(names))})"
    return None


def _upstream_service_told_development(ctx, compose_files: list[str]) -> str | None:
    """Why a service that nginx's compose file runs and nginx passes requests to (by its service
    name) is told it is in development, or None."""
    from confgen.errors import ConfgenError
    from confgen.gunicorn.sources import compose_services
    from confgen.lint.pairing import upstream_hosts

    hosts = upstream_hosts(ctx.nginx)
    for path in compose_files:
        try:
            services = compose_services(path)
        except ConfgenError:
            continue
        for source in services:
            told = _told_development(source) if source.service in hosts else None
            if told is not None:
                return f"{told}, the service {source.service} nginx passes to"
    return None


def _named_for_development(path: str) -> str | None:
    """How the file's name, or a folder it is kept in, names it for development, or None."""
    path = os.path.abspath(path)
    if _words(os.path.basename(path)) & _DEVELOPMENT_WORDS:
        return f"its file is named {os.path.basename(path)}"
    parts = path.split(os.sep)[:-1]
    for index in range(len(parts) - 1, max(len(parts) - 1 - _FOLDER_LEVELS, 0), -1):
        folder = parts[index].lower()
        if folder in _DEVELOPMENT_WORDS and not (folder == "local" and parts[index - 1] in _SYSTEM_PARENTS):
            return f"it is kept in {os.sep.join(parts[index - 1:index + 1])}/"
    return None


def _words(name: str) -> set[str]:
    return set(re.split(r"[._-]+", name.lower()))


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
