"""Which app-server config each nginx tree is checked with, and which nginx trees an app-side
file belongs to.

One invocation may lint several trees (pre-commit passes every changed file at once): each tree
gets its own app side, found in this order: ``--gunicorn`` / ``--gunicorn-cmd`` (only when one
tree is linted: which tree it belongs to is otherwise a guess), the project's
``[tool.confgen] gunicorn`` mapping (nginx files or globs -> a gunicorn.conf.py or a command),
a ``gunicorn.conf.py`` beside the tree's main file, a command file beside it (systemd unit,
Procfile, Dockerfile, compose, supervisor). A file given on the command line that is itself an
app-side file (a gunicorn.conf.py or a command file) stands for the nginx trees paired with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from confgen.errors import ConfgenError
from confgen.nginx.sniff import file_head, looks_like_nginx

GUNICORN_FILE_NAME = "gunicorn.conf.py"
COMMAND_FILE_MAX_BYTES = 1024 * 1024   # a command file larger than this is not one


class AppSide(NamedTuple):
    config: Any                 # confgen.gunicorn.reader.GunicornConfig, or None
    label: str | None           # where it came from (a file, or "--gunicorn-cmd")
    note: str
    server: Any = None          # confgen.appserver.model.AppServer: another app server than gunicorn
    hosts: tuple[str, ...] = ()  # the host names it is reached by (a compose service), empty: any

    @property
    def found(self) -> bool:
        return self.config is not None or self.server is not None

    def notes(self) -> list[str]:
        """Its pairing note, then one for each setting its command line computes when it runs
        (``--workers $((2*$(nproc)+1))``): unknown, so the rules that need it say nothing."""
        computed = self.config.computed(self.label or "--gunicorn-cmd") if hasattr(self.config, "computed") else []
        return [self.note, *computed]

    def bind_list(self) -> list[str]:
        """The addresses the app binds, as written; empty when unknown."""
        binds = self.server.binds if self.server is not None else getattr(self.config, "binds", None)
        if isinstance(binds, str):
            binds = [binds]
        return [b for b in binds if isinstance(b, str)] if isinstance(binds, (list, tuple)) else []

    def hop(self):
        """The app's hop of the chain (confgen.hops.Hop), or None when no app side was found."""
        if self.server is not None:
            return self.server.hop()
        if self.config is None:
            return None  # before the import: an nginx file linted alone never loads the gunicorn reader
        from confgen.gunicorn.hop import gunicorn_hop

        return gunicorn_hop(self.config, self.label or "gunicorn")


@dataclass
class Pairing:
    """The app side of each tree of one lint, each app file read once."""

    gunicorn: str | None = None
    gunicorn_cmd: str | None = None
    # nginx path -> (config path, command) from the project configuration, or None
    mapped: Callable[[str], Any] | None = None
    _read: dict[tuple, Any] = field(default_factory=dict)

    def explicit(self) -> bool:
        return bool(self.gunicorn or self.gunicorn_cmd)

    def apps_for_tree(self, config, given: str) -> list[AppSide]:
        """The app sides of a tree: one, or, when a compose file beside it runs several app
        servers, each service the tree's upstreams name (by its service name)."""
        app = _facing(self.for_tree(config.main_file, given), config)
        source = getattr(app.config, "command", None) or getattr(app.server, "command", None)
        compose_file = getattr(source, "compose_file", None)
        if app.config is None and app.server is None and not self.explicit() and self.mapped_none(given):
            # Nothing beside the tree: a compose file further up whose services its upstreams name.
            above = self._compose_above(config, given)
            if above:
                return above
        if not self.gunicorn_cmd and getattr(source, "kind", None) == "supervisor":
            # Found beside the tree or named with --gunicorn: each of its app programs is paired.
            origin = "--gunicorn" if self.gunicorn else f"found beside {given}"
            return self._supervisor_programs(source.path, origin) or [app]
        if not self.explicit() and compose_file is None and self.mapped_none(given) \
                and f"found beside {given}" in app.note:
            # Units, scripts or uWSGI ini files of several app servers side by side
            # (gunicorn.service beside daphne.service, one ini per app): each is paired, and
            # checked against the upstreams its bind reaches.
            path = source.path if source is not None else getattr(app.server, "file", None)
            if path:
                return self._command_files_beside(path, given) or [app]
        if self.explicit() or compose_file is None:
            return [app]
        from confgen.gunicorn import sources

        hosts = upstream_hosts(config)
        named = [s for s in sources.compose_services(compose_file) if s.service in hosts]
        if not named:
            return [app]
        return [self._compose_service(service, given) for service in named]

    def mapped_none(self, given: str) -> bool:
        """Whether the project configuration maps no app side to this tree."""
        return not (self.mapped and given and not given.startswith("<") and self.mapped(given))

    def _compose_above(self, config, given: str) -> list[AppSide]:
        """The services of a compose file in a directory above the tree (up to the repository's
        root, COMPOSE_SEARCH_LEVELS at most) that its upstreams name by service name: nginx's
        image built from docker/nginx/, the compose file at the root."""
        from confgen.appserver.commands import kind_of
        from confgen.errors import ConfgenError

        if config.main_file.startswith("<"):
            return []
        hosts = upstream_hosts(config)
        directory = os.path.dirname(os.path.abspath(config.main_file))
        for _ in range(COMPOSE_SEARCH_LEVELS):
            if os.path.isdir(os.path.join(directory, ".git")) or os.path.dirname(directory) == directory:
                break
            directory = os.path.dirname(directory)
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                return []
            for name in names:
                path = os.path.join(directory, name)
                if not hosts or kind_of(path) != "compose" or not os.path.isfile(path):
                    continue
                from confgen.gunicorn import sources   # here: a lone nginx file loads no app side

                try:
                    named = [s for s in sources.compose_services(path) if s.service in hosts]
                except ConfgenError:
                    continue
                if named:
                    return [self._compose_service(service, given) for service in named]
        return []

    def _supervisor_programs(self, path: str, origin: str) -> list[AppSide]:
        """Each app-server program of a supervisor config, when it has several (a web app and
        its WebSocket server): each is checked against the upstreams its bind reaches."""
        from confgen.gunicorn import sources

        programs = sources.supervisor_programs(path)
        if len(programs) < 2:
            return []
        sides = []
        for source in programs:
            key = ("supervisor", path, source.line)
            if key not in self._read:
                self._read[key] = sources.config_from(source) if source.server == "gunicorn" \
                    else sources.app_server_of(source)
            config = self._read[key]
            why = f"one of {len(programs)} programs, {origin}"
            if _is_other(config):
                sides.append(AppSide(None, config.label, f"paired {config.server}: {config.label} ({why})",
                                     server=config))
            else:
                sides.append(AppSide(config, source.path, f"paired gunicorn command: {source.label} ({why})"))
        return sides

    def _command_files_beside(self, path: str, given: str) -> list[AppSide]:
        """Each command file beside ``path`` that starts an app server listening elsewhere than
        the ones before it (and each uWSGI config: a vassal an emperor unit starts, one ini per
        app), when there are several; else []."""
        directory = os.path.dirname(path)
        files = command_files_beside(directory) + uwsgi_configs_beside(directory)
        if len(files) < 2 or path not in files:
            return []
        sides, binds = [], set()
        for file in files:
            config = self._load(file, None)
            why = f"one of {len(files)} app-side files found beside {given}"
            side = self._other(config, why) if _is_other(config) else \
                AppSide(config, file, f"paired gunicorn command: {config.command.label} ({why})")
            listens = tuple(sorted(side.bind_list()))
            if not listens or listens in binds:
                continue    # where it listens is unknown, or another file's twin (a staging unit)
            binds.add(listens)
            sides.append(side)
        return sides if len(sides) > 1 else []

    def _compose_service(self, source, given: str) -> AppSide:
        from confgen.gunicorn import sources

        key = ("compose", source.compose_file, source.service)
        if key not in self._read:
            app = sources.config_from(source) if source.server == "gunicorn" else sources.app_server_of(source)
            self._read[key] = app
        config = self._read[key]
        why = f"compose service {source.service}, which {given}'s upstreams name"
        if _is_other(config):
            return AppSide(None, config.label, f"paired {config.server}: {config.label} ({why})", server=config,
                           hosts=(source.service,))
        return AppSide(config, source.path, f"paired gunicorn command: {source.label} ({why})", hosts=(source.service,))

    def for_tree(self, main: str, given: str) -> AppSide:
        """The app side of the tree whose main file is ``main`` (linted as ``given``)."""
        if self.explicit():
            return self._explicit()
        for candidate in dict.fromkeys((given, main)):
            pairing = self.mapped(candidate) if self.mapped and candidate and not candidate.startswith("<") else None
            if pairing is not None:
                config_path = str(pairing.config) if pairing.config else None
                config = self._load(config_path, pairing.cmd)
                if _is_other(config):
                    return self._other(config, f"for {given}, project configuration")
                label = config_path or "--gunicorn-cmd"
                if pairing.cmd:
                    what = f"gunicorn command line: {pairing.cmd}" + (f" over {config_path}" if config_path else "")
                elif getattr(config, "command", None) is not None:
                    what = f"gunicorn command: {config.command.label}"
                else:
                    what = f"gunicorn config: {config_path}"
                return AppSide(config, label, f"paired {what} for {given} (project configuration)")
        if main.startswith("<"):
            return AppSide(None, None, "stdin: no gunicorn config (pass --gunicorn or --gunicorn-cmd)")
        for directory in _app_directories(os.path.dirname(main) or "."):
            found = self._beside(directory, given)
            if found is not None:
                return found
        return AppSide(None, None, f"no gunicorn config for {given}: app rules skipped (pass --gunicorn or "
                                   f"--gunicorn-cmd, map it under [tool.confgen] gunicorn, or put "
                                   f"{GUNICORN_FILE_NAME} beside the nginx file)")

    def _beside(self, directory: str, given: str) -> AppSide | None:
        beside = os.path.join(directory, GUNICORN_FILE_NAME)
        if os.path.isfile(beside):
            return AppSide(self._load(beside, None), beside, f"paired gunicorn config: {beside} (found beside {given})")
        command_file = command_file_beside(directory)
        if command_file is not None:
            config = self._load(command_file, None)
            if _is_other(config):
                return self._other(config, f"found beside {given}")
            return AppSide(config, command_file, f"paired gunicorn command: {config.command.label} "
                                                 f"(found beside {given})")
        ini = uwsgi_ini_beside(directory)
        if ini is not None:
            return self._other(self._load(ini, None), f"found beside {given}")
        return None

    def app_file(self, path: str) -> AppSide:
        """The app side read from an app-side file itself (linted with no nginx in front)."""
        config = self._load(path, None)
        if _is_other(config):
            return self._other(config, "linted without nginx")
        return AppSide(config, path, f"{path}: linted without nginx in front")

    def _explicit(self) -> AppSide:
        from confgen.gunicorn import reader

        base = self._load(self.gunicorn, None) if self.gunicorn else None
        if _is_other(base):
            return self._other(base, "--gunicorn")
        if self.gunicorn_cmd:
            mixed = self._load(None, self.gunicorn_cmd) if not self.gunicorn else None
            if _is_other(mixed):
                return self._other(mixed, "--gunicorn-cmd")
            key = ("cmd", self.gunicorn, self.gunicorn_cmd)
            if key not in self._read:
                self._read[key] = reader.read_gunicorn_cmd(self.gunicorn_cmd, base=base)
            return AppSide(self._read[key], self.gunicorn or "--gunicorn-cmd",
                           f"paired gunicorn command line: {self.gunicorn_cmd}"
                           + (f" over {self.gunicorn}" if self.gunicorn else ""))
        where = base.command.label if base.command is not None else self.gunicorn
        return AppSide(base, self.gunicorn, f"paired gunicorn config: {where} (--gunicorn)")

    def _other(self, server, why: str) -> AppSide:
        """The app side when another server than gunicorn serves the tree: the gunicorn rules do
        not run; the chain rules compare its timers."""
        return AppSide(None, server.label, f"paired {server.server}: {server.label} ({why})", server=server)

    def _load(self, path: str | None, cmd: str | None):
        """A GunicornConfig, or an AppServer when the file or command runs another server."""
        key = ("file", path, cmd)
        if key not in self._read:
            self._read[key] = self._read_app(path, cmd)
        return self._read[key]

    @staticmethod
    def _read_app(path, cmd):
        # Each reader is imported on the branch that needs it: a gunicorn.conf.py (the usual
        # pair) needs neither the command-file sources nor the other app servers' readers.
        from confgen.appserver.commands import find_server, kind_of
        from confgen.appserver.reading import is_uwsgi_ini
        from confgen.gunicorn import reader
        from confgen.shell import shell_words

        if cmd:
            words = [w.value for w in shell_words(cmd)]
            found = find_server(words)
            if found is not None and found[0] != "gunicorn":
                from confgen.appserver.commands import assignments, start_of
                from confgen.appserver.reading import read_server

                return read_server(found[0], words[found[1]:], label="--gunicorn-cmd", file=None,
                                   environ=assignments(words, start_of(words, found)))
        text = file_head(path) if path and not path.endswith(".py") else None
        # A uWSGI ini is known by its [uwsgi] section, whatever its name (qgis ships one as
        # uwsgi.conf); an .ini that is something else (a supervisor file) is read as that.
        if path and (is_uwsgi_ini(text or "") or path.endswith(".ini") and kind_of(path, text) is None):
            from confgen.appserver import uwsgi

            return uwsgi.read_ini(path)
        base = None
        if path:
            if kind_of(path, text) is not None:
                from confgen.gunicorn import sources

                source = sources.read_source(path)
                if source.server != "gunicorn":
                    return sources.app_server_of(source) or sources.config_from(source)
                base = sources.config_from(source)
            else:
                base = reader.read_gunicorn_file(path)
        return reader.read_gunicorn_cmd(cmd, base=base) if cmd else base


# ---------------------------------------------------------------------------------------------
# App-side files given to lint


def is_app_side(path: str) -> bool:
    """A gunicorn.conf.py, or a file that holds a command line (Procfile, Dockerfile, compose,
    systemd unit, supervisor program, script): never an nginx file."""
    from confgen.appserver.commands import kind_of
    from confgen.appserver.reading import is_uwsgi_ini
    from confgen.files import read_regular_file

    if path.endswith(".py"):
        return True

    # Read as every input is (a FIFO never blocks); a file too large for a command file, or one
    # that cannot be read, is left to the nginx reader, which says why.
    data, problem = read_regular_file(path, COMMAND_FILE_MAX_BYTES)
    if problem:
        return False
    text = data.decode("utf-8", errors="replace")
    return kind_of(path, text) is not None or is_uwsgi_ini(text)


def trees_of_app(app: str, mapped_to: Callable[[str], list[str]] | None) -> list[str]:
    """The nginx files paired with the app-side file ``app``: those the project maps to it,
    else the nginx.conf beside it (or the only ``*.conf`` there that opens an nginx block)."""
    found = list(mapped_to(app)) if mapped_to is not None else []
    if found:
        return found
    directory = os.path.dirname(app) or "."
    for folder in (directory, *(os.path.join(directory, name) for name in NGINX_FOLDERS)):
        beside = os.path.join(folder, "nginx.conf")
        if os.path.isfile(beside):
            return [beside]
        try:
            confs = sorted(name for name in os.listdir(folder) if name.endswith(".conf"))
        except OSError:
            continue
        # A *.conf beside an app may be anything (an Upstart job, a supervisord program): only
        # one that opens an nginx block is taken.
        candidates = [os.path.join(folder, name) for name in confs
                      if not is_app_side(os.path.join(folder, name))
                      and looks_like_nginx(file_head(os.path.join(folder, name)) or "")]
        if len(candidates) == 1:
            return candidates
    return []


# Where an app keeps its nginx config beside it (``app/nginx/site.conf`` next to ``app/uwsgi.ini``).
NGINX_FOLDERS = ("nginx", "conf.d", "sites-enabled", "sites-available")


# How many directories above a tree a compose file naming its upstreams is looked for.
COMPOSE_SEARCH_LEVELS = 3


# Folders beside an nginx folder that hold an app server's files (``deploy/nginx/site.conf``
# beside ``deploy/systemd/gunicorn.service``).
APP_FOLDERS = ("systemd", "supervisor", "supervisord", "gunicorn", "uwsgi", "uvicorn", "daphne", "hypercorn",
               "granian")


# Where a copy of a server's /etc keeps app-server files (``etc/nginx/sites-available/site``
# beside ``etc/systemd/system/gunicorn.service``).
ETC_APP_FOLDERS = ("systemd/system", "supervisor/conf.d", "supervisord.d", "uwsgi/apps-enabled", "uwsgi/vassals")


def _app_directories(directory: str) -> list[str]:
    """Where a tree's app side may be, in this order: beside its main file; from an nginx
    folder, one level up and then the app-server folders beside it; in a copy of /etc, its
    app-server folders."""
    found = [directory]
    absolute = os.path.abspath(directory)
    if os.path.basename(absolute) in NGINX_FOLDERS:
        parent = os.path.dirname(absolute)
        found += [parent, *(os.path.join(parent, name) for name in APP_FOLDERS)]
    parts = absolute.split(os.sep)
    for index in range(len(parts) - 1, 0, -1):
        if parts[index] == "etc" and index + 1 < len(parts) and parts[index + 1] == "nginx":
            etc = os.sep.join(parts[:index + 1])
            found += [os.path.join(etc, name) for name in ETC_APP_FOLDERS]
            break
    return list(dict.fromkeys(found))


def check_explicit(pairing: Pairing, trees: list[str]) -> None:
    """``--gunicorn`` names one app: refuse it for several unrelated trees."""
    if pairing.explicit() and len(trees) > 1:
        shown = ", ".join(trees[:4]) + (", ..." if len(trees) > 4 else "")
        raise ConfgenError(f"--gunicorn/--gunicorn-cmd pair one nginx tree, but {len(trees)} were given "
                           f"({shown}): lint them one at a time, or map each under [tool.confgen] gunicorn")


def uwsgi_ini_beside(directory: str) -> str | None:
    """The first uWSGI config file in ``directory`` (see uwsgi_configs_beside)."""
    found = uwsgi_configs_beside(directory, first_only=True)
    return found[0] if found else None


def uwsgi_configs_beside(directory: str, first_only: bool = False) -> list[str]:
    """The uWSGI config files (an ini one with a ``[uwsgi]`` section, a YAML one with a
    ``uwsgi:`` mapping) in ``directory``, in name order."""
    from confgen.appserver.reading import is_uwsgi_ini

    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith((".ini", ".yaml", ".yml")))
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(directory, name)
        head = file_head(path)
        if head and is_uwsgi_ini(head):
            found.append(path)
            if first_only:
                break
    return found


def _is_other(config) -> bool:
    """An AppServer (uvicorn, hypercorn, daphne, uWSGI, granian): what Pairing._read_app returns
    when it is not a GunicornConfig. Asked that way so a gunicorn pair never loads the app-server
    model."""
    if config is None:
        return False
    from confgen.gunicorn.reader import GunicornConfig  # loaded already: it read this config

    return not isinstance(config, GunicornConfig)


def command_file_beside(directory: str) -> str | None:
    """The first file in ``directory`` whose command line starts an app server (for automatic
    pairing)."""
    files = command_files_beside(directory, first_only=True)
    return files[0] if files else None


def command_files_beside(directory: str, first_only: bool = False) -> list[str]:
    """The files in ``directory`` whose command line starts an app server, in name order. Names
    and heads are looked at first, so a directory of nginx files costs no command-line reading."""
    from confgen.appserver.commands import kind_of
    from confgen.errors import ConfgenError

    found: list[str] = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for name in names:
        path = os.path.join(directory, name)
        if not os.path.isfile(path) or name.endswith(".py"):
            continue
        if kind_of(path) is None:
            if not name.endswith((".service", ".conf", ".ini")):
                continue
            head = file_head(path)
            if head is None or kind_of(path, head) is None:
                continue
        from confgen.gunicorn import sources

        try:
            sources.read_source(path)
        except ConfgenError:
            continue
        found.append(path)
        if first_only:
            break
    return found


def upstream_addresses(config) -> set[tuple[str, str, int | None]]:
    """Where the tree sends requests, as parse_address reads them: upstream servers and pass targets."""
    from confgen.lint.rules._proxy import parse_address

    return {parse_address(target) for target in config.pass_targets()}


def upstream_hosts(config) -> set[str]:
    """The host names the tree sends requests to: upstream servers and pass targets."""
    return {host for kind, host, _ in upstream_addresses(config) if kind == "tcp" and host}


def _facing(app: AppSide, config) -> AppSide:
    """An app server listening on several sockets of different kinds (uWSGI's uwsgi-socket and
    http-socket) as the face the tree's upstreams reach: the socket whose port (or path) nginx
    connects to."""
    faces = getattr(app.server, "faces", None)
    if not faces:
        return app
    from confgen.lint.rules._proxy import parse_address

    reached = {(kind, port if kind == "tcp" else host) for kind, host, port in upstream_addresses(config)}
    for face in (app.server, *faces):
        if any((kind, port if kind == "tcp" else host) in reached
               for kind, host, port in map(parse_address, face.binds)):
            return app._replace(server=face)
    return app
