"""The app server a container runs, read from its ``command`` + ``args`` (the argv Kubernetes
starts, ``$(VAR)`` expanded from the container's env) by the readers every other command source
uses: confgen.gunicorn (through a CommandSource, so a fix can later edit the flag in the
manifest) and confgen.appserver for uvicorn, hypercorn, daphne, uWSGI and granian, with the
container's environment (``UVICORN_*``, ``GRANIAN_*``, ``GUNICORN_CMD_ARGS``). Also how long the
server takes to shut down gracefully after SIGTERM, which the pod's termination grace period
must cover.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from confgen.appserver.commands import assignments, find_server, start_of
from confgen.appserver.model import AppServer
from confgen.appserver.options import Spec, number, parse
from confgen.appserver.reading import read_server
from confgen.errors import ConfgenError
from confgen.hops import Hop, Timer
from confgen.manifests.resources import Container
from confgen.shell import SHELL_OPERATORS, Word, inline_script

GUNICORN_GRACEFUL_SOURCE = ("gunicorn's default graceful_timeout 30 s; "
                            "https://docs.gunicorn.org/en/stable/settings.html#graceful-timeout")
# uvicorn/config.py (0.55.0): timeout_graceful_shutdown: int | None = None, and server.py waits
# for open requests with asyncio.timeout(None): no limit.
UVICORN_GRACEFUL = "--timeout-graceful-shutdown"


@dataclass
class ContainerApp:
    server: str | None = None                 # gunicorn, uvicorn, ... (None: not an app server confgen reads)
    gunicorn: object = None                   # confgen.gunicorn.reader.GunicornConfig
    app_server: AppServer | None = None       # any other server
    hop: Hop | None = None
    graceful: Timer | None = None             # how long it finishes requests after SIGTERM (None: no limit/unknown)
    graceful_why: str = ""                    # why graceful is None
    image: str | None = None                  # the Dockerfile whose CMD it runs, when read from one
    # Where a script starts the server without exec while the container's own command (its first
    # process, PID 1) is a shell running it: SIGTERM never reaches the server (file, line).
    unsignalled: tuple[str, int] | None = None
    notes: list[str] = field(default_factory=list)


def read_app(container: Container, label: str, images: list | None = None,
             files: dict | None = None) -> ContainerApp:
    """The app side of ``container``; ``label`` ("k8s/app.yaml:31") names where its command is.
    ``images``: the Dockerfiles of the input (confgen.gunicorn.sources.CommandSource), whose CMD
    a container without a command of its own runs when one of them builds its image. ``files``:
    what ConfigMaps mount in the container (confgen.manifests.mounts), where a config file its
    command names may be."""
    node = container.command or container.args or container.node
    file, line = node.file, node.line
    argv, unresolved = container.argv()
    side = ContainerApp()
    if not argv:
        source = image_command(container, images or [])
        if source is None:
            side.notes.append(f"{label}: container {container.name} sets no command or args: it runs its image's "
                              f"ENTRYPOINT/CMD, which the manifests do not show")
            return side
        side.notes.append(f"{label}: container {container.name} sets no command: its image's CMD is read from "
                          f"{source.label}, the Dockerfile in the input that builds it")
        side.image = source.path
        return _from_image(side, source, container, label)
    if unresolved:
        side.notes.append(f"{label}: container {container.name}'s command uses {', '.join(unresolved)}: computed "
                          f"in the cluster, not read")
        return side
    words, editable = _words(container, argv)
    found = find_server([w.value for w in words])
    started = _started_script(words, file) if found is None else None
    if started is not None:
        # `wait-for-db.sh db bash /app/deploy/start.sh`: the script in the repository holds the command.
        side.notes.append(f"{label}: container {container.name} runs {started.path}, which starts "
                          f"{started.server} at {started.label}")
        if container.command is not None and not _execs(started.words) and \
                os.path.basename(argv[0]) not in INIT_PROCESSES:
            # Spelled as the manifest's path is (relative to where confgen runs, when that one is).
            path = started.path if os.path.isabs(file) else os.path.relpath(started.path)
            side.unsignalled = (path, started.line)
        return _from_image(side, started, container, label)
    if found is None:
        side.notes.append(f"{label}: container {container.name} runs {' '.join(argv)[:80]!r}, not a Python app "
                          f"server confgen reads")
        return side
    side.server = found[0]
    if found[0] == "gunicorn":
        _gunicorn(side, container, words, editable, file, line, label, files or {})
        return side
    values = [w.value for w in words]
    args = values[found[1]:]
    environ = {**container_environ(container), **assignments(values, start_of(values, found))}
    directory = container.node.text("workingDir") or "/"
    mounted = {posixpath.normpath(posixpath.join(directory, path)): (mounted_file.padded(), mounted_file.node.file)
               for path, mounted_file in (files or {}).items()}
    server = read_server(found[0], args, label=label, file=file, line=line, environ=environ, mounted=mounted)
    if server is None:
        side.notes.append(f"{label}: {found[0]} is not read by confgen yet")
        return side
    if editable:
        server.command = _command_source(container, words, file, line, editable=True)
    side.app_server, side.hop = server, server.hop()
    if found[0] == "uvicorn":
        side.graceful, side.graceful_why = _uvicorn_graceful(args, container.env, label)
    else:
        side.graceful_why = f"{found[0]}'s graceful shutdown time is not read"
    return side


# Programs that, run as a container's first process, pass SIGTERM on to their child.
INIT_PROCESSES = frozenset({"tini", "dumb-init", "catatonit", "s6-svscan", "supervisord", "runsvdir", "docker-init"})


def _execs(words: list[Word]) -> bool:
    """Whether a script's line replaces the shell with the server (``exec gunicorn ...``)."""
    values = [w.value for w in words]
    found = find_server(values)
    return found is not None and "exec" in values[:start_of(values, found)]


# How far above a manifest's directory the repository's scripts are looked for (k8s/base/app.yaml
# and deploy/start.sh share the repository's root, three levels up).
SCRIPT_SEARCH_LEVELS = 3


def _started_script(words: list[Word], manifest: str):
    """The app server a script the container's command runs starts (confgen.gunicorn.sources.
    started_script), looked up from the manifest's directory and a few above it."""
    from confgen.gunicorn import sources

    directories, directory = [], os.path.dirname(os.path.abspath(manifest))
    for _ in range(SCRIPT_SEARCH_LEVELS + 1):
        directories.append(directory)
        directory = os.path.dirname(directory)
    values = [w.value for w in words if w.style != "shell" or w.value not in SHELL_OPERATORS]
    return sources.started_script(values, directories)


def container_environ(container: Container) -> dict[str, str | None]:
    """The container's variables; None for one whose value is not in the input (a Secret, a
    ConfigMap not given), so a reader knows it is set but not what it holds."""
    unknown = {name: None for name in container.env_unknown if not name.endswith("*")}
    return {**container.env, **unknown}


def _words(container: Container, argv: list[str]) -> tuple[list[Word], bool]:
    """The words of the command with their place in the manifest (each a YAML list item), and
    whether a fix could edit them there. ``sh -c 'SCRIPT'`` is the shell words of SCRIPT."""
    items = [*(container.command.list() if container.command else []), *(container.args.list() if container.args else [])]
    script = inline_script([Word(value, 0, 0, "yaml") for value in argv])
    if script is not None:
        return [Word(w.value, 0, 0, "shell") for w in script[0]], False
    if len(items) == len(argv):
        # A word whose $(VAR) was expanded is not what the file says: a fix must not rewrite it.
        as_written = all(str(item.value) == value for value, item in zip(argv, items))
        return [Word(value, item.node.start_mark.index, item.node.end_mark.index, "yaml")
                for value, item in zip(argv, items)], as_written
    return [Word(value, 0, 0, "yaml") for value in argv], False


def _gunicorn(side: ContainerApp, container: Container, words: list[Word], editable: bool, file: str, line: int,
              label: str, files: dict) -> None:
    from confgen.gunicorn.hop import gunicorn_hop
    from confgen.gunicorn.sources import config_from

    source = _command_source(container, words, file, line, editable=editable,
                             env_args=container.env.get("GUNICORN_CMD_ARGS"))
    try:
        config = config_from(source, base=_mounted_config(source, container, files),
                             environ=container_environ(container))
    except ConfgenError as error:
        side.notes.append(f"{label}: gunicorn command not read: {error}")
        return
    side.gunicorn = config
    side.hop = gunicorn_hop(config, label)
    if side.hop.file is None:  # the settings come from the command: findings point at it
        side.hop.file, side.hop.line = file, line
    graceful = config.setting("graceful_timeout")
    if isinstance(graceful.value, (int, float)) and not isinstance(graceful.value, bool):
        where = GUNICORN_GRACEFUL_SOURCE if graceful.source == "default" else \
            f"{label} ({graceful.note or 'command line'})" if graceful.source == "cli" else \
            f"{graceful.file or label}:{graceful.line or 1}"
        side.graceful = Timer(float(graceful.value), where, "graceful_timeout")
    else:
        side.graceful_why = "gunicorn's graceful_timeout is not known from the manifests"


def _command_source(container: Container, words: list[Word], file: str, line: int, *, editable: bool,
                    env_args: str | None = None):
    """The container's command as a CommandSource: a fix edits it item by item in the manifest,
    unless it is a shell script or expands variables (``editable`` False)."""
    from confgen.files import read_text_file
    from confgen.gunicorn.sources import CommandSource

    text = read_text_file(file, 8 * 1024 * 1024)
    return CommandSource(file, "kubernetes", line, text, words, env_args=env_args,
                         block_list=_block_indent(container, words, text) if editable else None,
                         not_editable=None if editable else "the command is a shell script or expands variables")


def _mounted_config(source, container: Container, files: dict):
    """The gunicorn.conf.py the command names with ``-c``, when a ConfigMap in the input mounts
    it in the container (read from the manifest, never run); None otherwise."""
    from confgen.gunicorn.reader import config_file_named, read_gunicorn_text

    try:
        named = config_file_named(source.command)
    except ConfgenError:
        return None
    if not isinstance(named, str) or named.startswith("python:"):
        return None
    named = named.removeprefix("file:")
    directory = container.node.text("workingDir")
    if not posixpath.isabs(named) and directory is None:
        return None  # relative to the image's WORKDIR, which the manifest does not show
    mounted = files.get(posixpath.normpath(posixpath.join(directory or "/", named)))
    if mounted is None:
        return None
    return read_gunicorn_text(mounted.padded(), mounted.node.file,
                              not_editable=f"the file is {mounted.source}, mounted at {mounted.path}: edit it there "
                                           f"by hand")


def _block_indent(container: Container, words: list[Word], text: str) -> str | None:
    """The indentation of the items of the block-style list (command or args) holding the word
    that starts gunicorn, so an option a fix adds goes in as items of that list; None for a
    flow-style list (``["gunicorn", ...]``)."""
    from confgen.gunicorn.sources import _indent

    found = find_server([w.value for w in words])
    for part in (container.command, container.args):
        items = part.list() if part is not None else []
        if found is not None and any(item.node.start_mark.index == words[found[1] - 1].start for item in items):
            return None if part.node.flow_style else _indent(text, items[0].node.start_mark.index)
    return None


def _uvicorn_graceful(args: list[str], environ: dict[str, str], label: str) -> tuple[Timer | None, str]:
    found, _ = parse(args, {UVICORN_GRACEFUL: Spec("timeout_graceful_shutdown")})
    value, where = (found["timeout_graceful_shutdown"][0], f"{label} ({UVICORN_GRACEFUL})") \
        if "timeout_graceful_shutdown" in found else (environ.get("UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN"),
                                                      f"{label} (UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN)")
    seconds = number(value) if value is not None else None
    if seconds is None:
        return None, ("uvicorn waits for open requests with no limit after SIGTERM unless "
                      "--timeout-graceful-shutdown is set (uvicorn/config.py timeout_graceful_shutdown=None)")
    return Timer(seconds, where, UVICORN_GRACEFUL), ""


def image_command(container: Container, images: list):
    """The Dockerfile (CommandSource) that builds the container's image: the only one in the
    input that starts an app server, else the one whose directory the image's name names. Never
    for an image named for a proxy (``trucv/nginxflaskr``, set 24) that the Dockerfile's
    directory is not named for: that image is built from another Dockerfile, one that starts
    no app server."""
    starting = [source for source in images if source.runs_app_server()]
    image = (container.node.text("image") or "").rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0].lower()

    def folder(source) -> str:
        return source.path.lower().replace("\\", "/").split("/")[-2] if "/" in source.path else ""
    proxy = next((name for name in PROXY_IMAGES if name in image), None)
    if proxy is not None:
        starting = [source for source in starting if proxy in folder(source)]
    if len(starting) <= 1:
        return starting[0] if starting else None
    named = [s for s in starting if image and image in folder(s)]
    return named[0] if len(named) == 1 else None


# Images of the proxies that sit in front of an app, by a word in their name.
PROXY_IMAGES = ("nginx", "openresty", "caddy", "traefik", "haproxy", "envoy")


def _from_image(side: ContainerApp, source, container: Container, label: str) -> ContainerApp:
    from confgen.gunicorn import sources
    from confgen.gunicorn.hop import gunicorn_hop

    side.server = source.server
    if side.server == "gunicorn":
        # The container's env is what the image's start script begins with (its `${PORT:-8080}`).
        side.gunicorn = sources.config_from(source, environ=container_environ(container))
        side.hop = gunicorn_hop(side.gunicorn, source.label)
        return side
    server = sources.app_server_of(source, environ=container_environ(container))
    if server is None:
        side.notes.append(f"{source.label}: {side.server} is not read by confgen yet")
        return side
    side.app_server, side.hop = server, server.hop()
    side.graceful_why = f"{side.server}'s graceful shutdown time in the image's CMD is not read"
    return side
