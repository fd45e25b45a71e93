"""Where a gunicorn command line lives when there is no gunicorn.conf.py: a systemd unit
(``ExecStart=``, ``Environment=GUNICORN_CMD_ARGS=``), a Procfile (``web:``), a Dockerfile
(``CMD``/``ENTRYPOINT``, exec or shell form, or the start script they run), a compose file
(``command:``/``entrypoint:``, string or list, ``environment: GUNICORN_CMD_ARGS``), a supervisor
program (``command=``) or a shell script (``exec gunicorn ...``).

Each is read into a :class:`CommandSource`: the command, the file and line it came from, and
every word with its exact position in the file, so a fix edits the flag where it is written.
The command itself is read by :func:`confgen.gunicorn.reader.read_gunicorn_cmd` (one parser).
Another app server's command is read the same way, with the variables the file sets for it
(``ENV``, ``environment:``, ``Environment=``), which uvicorn and granian read (``UVICORN_*``,
``GRANIAN_*``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
from dataclasses import dataclass, field

from confgen.errors import ConfgenError
from confgen.files import locate_container_path
from confgen.gunicorn import reader
from confgen.appserver import entry_script
from confgen.appserver.commands import kind_of  # noqa: F401  (part of this module's API)
from confgen.appserver.commands import assignments, find_server, start_of
from confgen.shell import SHELL_OPERATORS, Word, inline_script, set_variables, shell_words

MAX_FILE_BYTES = 1024 * 1024
# What a fix may hold in a word it writes (a shell quote is added for anything else).
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_./:,=@%+-]+$")


@dataclass
class CommandSource:
    path: str
    kind: str                     # systemd, procfile, dockerfile, compose, supervisor, script
    line: int
    text: str                     # the whole file as read
    words: list[Word]             # the command's words, positioned in ``text``
    env_args: str | None = None   # GUNICORN_CMD_ARGS the file sets for the command
    block_list: str | None = None  # for a YAML block list: the indentation of its items
    not_editable: str | None = None  # why fixes cannot edit it (a YAML block scalar)
    service: str | None = None    # a compose file's service that runs it (its host name on the network)
    compose_file: str | None = None  # that compose file (the command may be in a script or Dockerfile it names)
    # The variables the file sets for the command (Dockerfile ENV, compose environment, systemd
    # Environment=, supervisor environment=); None: set, but its value is not known here.
    env: dict[str, str | None] = field(default_factory=dict)
    # A script's commands before the one that starts the server, each as (its words, whether it
    # runs only under a condition: inside an if/case/loop/function, or after && or ||): those
    # that set variables (``PORT="${PORT:-8080}"``, ``export``, ``: "${PORT:=8080}"``) set them
    # for the server, as the shell runs them.
    prelude: list[tuple[list[str], bool]] = field(default_factory=list)
    # Files the command's variables are read from when it runs (systemd EnvironmentFile=): any
    # variable may be set there.
    env_files: list[str] = field(default_factory=list)
    # The directory it runs in, where the file says (systemd WorkingDirectory=, supervisor
    # directory=): where the app's code is.
    working_directory: str | None = None

    def __post_init__(self):
        # `sh -c "python manage.py migrate && exec gunicorn ..."`: the command is the script's.
        script = inline_script(self.words, self.text)
        if script is not None:
            self.words, in_place = script
            self.block_list = None
            if not in_place and self.not_editable is None:
                self.not_editable = "the command is a `sh -c` script written with escapes or as a list item"

    @property
    def command(self) -> str:
        """The command as the shell runs it, for reader.read_gunicorn_cmd."""
        words = [w.value if w.style == "shell" and w.value in SHELL_OPERATORS else shlex.quote(w.value)
                 for w in self.words]
        prefix = f"GUNICORN_CMD_ARGS={shlex.quote(self.env_args)} " if self.env_args is not None else ""
        return prefix + " ".join(words)

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def server(self) -> str:
        """The app server the command starts (gunicorn, uvicorn, hypercorn, daphne, uwsgi, ...)."""
        values = [w.value for w in self.words]
        found = find_server(values)
        if found is None and _entry_script(values, self.path) is not None:
            return "uvicorn"
        return found[0] if found else "gunicorn"

    def environment(self, container: dict[str, str | None] | None = None) -> dict[str, str | None]:
        """The variables the server starts with: the file's own, then a container's (Kubernetes
        env overrides an image's ENV), then those the script sets before the command (from
        both, as its shell would: ``PORT="${PORT:-8080}"`` keeps a PORT they set), then those
        the command line sets in front of the server (``GRANIAN_PORT=9000 granian ...``)."""
        values = [w.value for w in self.words]
        found = find_server(values)
        inline = assignments(values, start_of(values, found)) if found is not None else {}
        return {**self.env, **(container or {}), **self.script_variables(container), **inline}

    def shell_variables(self, container: dict[str, str | None] | None = None) -> dict[str, str | None]:
        """The variables a shell expands the command's words with: for a script (or a container's
        ``sh -c``) those it starts with (the file's, then the container's) and those its lines
        before the command set; for a command no shell runs, none."""
        if self.kind == "script" or (self.kind == "kubernetes" and self.words and self.words[0].style == "shell"):
            return {**self.env, **(container or {}), **self.script_variables(container)}
        return {}

    def script_variables(self, container: dict[str, str | None] | None = None) -> dict[str, str | None]:
        """The variables the script's lines before the command set, with the values its shell
        gives them when the file's and the container's variables are those it starts with; None
        for one set where its value cannot be read (computed, or only under a condition)."""
        environ = {**self.env, **(container or {})}
        touched: set[str] = set()
        for words, conditional in self.prelude:
            trial = dict(environ)
            if not set_variables(words, trial, raw=reader.WORD_BY_WORD):
                continue
            changed = {name for name in trial if name not in environ or trial[name] != environ[name]}
            touched |= changed
            for name in changed:
                environ[name] = None if conditional else trial[name]
        return {name: environ[name] for name in touched}

    def runs_app_server(self) -> bool:
        return _runs_app_server(self.words, self.path)

    def server_args(self) -> list[str]:
        """The words after the one that starts the server, up to the end of its command."""
        values = [w.value for w in self.words]
        found = find_server(values)
        if found is None:
            return []
        stop = found[1]
        while stop < len(values) and not (self.words[stop].style == "shell" and values[stop] in SHELL_OPERATORS):
            stop += 1
        return values[found[1]:stop]

    def gunicorn_words(self) -> tuple[int, int]:
        """(index of the word that starts gunicorn, index past its last argument)."""
        values = [w.value for w in self.words]
        start = None
        for index in range(len(values)):
            found = reader.gunicorn_start(values, index)
            if found is not None:
                start = found
        if start is None:
            raise ConfgenError(f"{self.label}: no gunicorn command found")
        stop = start
        while stop < len(values) and not (self.words[stop].style == "shell" and values[stop] in SHELL_OPERATORS):
            stop += 1
        return start, stop


# ---------------------------------------------------------------------------------------------
# Reading


def read_source(path: str) -> CommandSource:
    """The gunicorn command in a systemd unit, Procfile, Dockerfile, compose file, supervisor
    config or script; ConfgenError naming the file when it holds none."""
    text = _read(path)
    kind = kind_of(path, text)
    if kind is None:
        raise ConfgenError(f"{path}: not a systemd unit, Procfile, Dockerfile, compose file, supervisor "
                           f"config or shell script")
    found = _READERS[kind](path, text)
    if found is None:
        raise ConfgenError(f"{path}: no gunicorn command found in this {kind} file")
    return found


def read_paired(path: str) -> reader.GunicornConfig:
    """A gunicorn config from ``path``: a gunicorn.conf.py, or the command in a command file."""
    text = None
    if not path.endswith(".py"):
        try:
            text = _read(path)
        except ConfgenError:
            text = None
    if kind_of(path, text) is None:
        return reader.read_gunicorn_file(path)
    return config_from(read_source(path))


def config_from(source: CommandSource, base: reader.GunicornConfig | None = None,
                environ: dict[str, str | None] | None = None) -> reader.GunicornConfig:
    """The settings the command runs gunicorn with: its ``-c`` file read relative to the
    command file's directory, when it is there, or ``base`` when the caller read that file.
    ``environ``: a container's variables, over the file's (see CommandSource.shell_variables)."""
    cwd = os.path.dirname(os.path.abspath(source.path))
    variables = source.shell_variables(environ)
    try:
        config = reader.read_gunicorn_cmd(source.command, base=base, cwd=cwd, variables=variables)
    except ConfgenError as error:
        if "cannot read" not in str(error):
            raise ConfgenError(f"{source.label}: {str(error).removeprefix('--gunicorn-cmd: ')}") from None
        missing = reader.GunicornConfig(unset_unknown="the command's config file is not on this machine")
        config = reader.read_gunicorn_cmd(source.command, base=missing, cwd=cwd, variables=variables)
    config.command = source
    if source.kind == "systemd" and source.server == "gunicorn":
        activated = activating_socket(source.path, source.text)
        if activated is not None:
            path, line, addresses = activated
            config.settings["bind"] = reader.Setting(
                "bind", addresses, "file", path, line,
                note="systemd passes this socket unit's ListenStream sockets and gunicorn serves them, whatever "
                     "--bind says")
    return config


def activating_socket(service_path: str, text: str) -> tuple[str, int, list[str]] | None:
    """(file, line, addresses) of the socket unit whose sockets systemd hands a service: the one
    named like it (app.socket for app.service), those its ``Sockets=`` names, or one whose
    ``Service=`` names it, beside its file; None when none is there or its ListenStream is not
    a plain address. gunicorn serves the sockets it is handed (LISTEN_FDS) and ignores bind."""
    directory, name = os.path.split(os.path.abspath(service_path))
    stem = name.rsplit(".", 1)[0]
    named = re.findall(r"^\s*Sockets\s*=\s*(.+)$", text, re.M)
    candidates = [f"{stem}.socket", *(word for line in named for word in line.split())]
    try:
        beside = sorted(f for f in os.listdir(directory) if f.endswith(".socket"))
    except OSError:
        return None
    for candidate in beside:
        if candidate in candidates or _socket_serves(os.path.join(directory, candidate), name):
            return _listen_streams(os.path.join(directory, candidate))
    return None


def _socket_serves(path: str, service: str) -> bool:
    try:
        text = _read(path)
    except ConfgenError:
        return False
    return any(value.strip() == service for value in re.findall(r"^\s*Service\s*=\s*(.+)$", text, re.M))


def _listen_streams(path: str) -> tuple[str, int, list[str]] | None:
    try:
        text = _read(path)
    except ConfgenError:
        return None
    found, first = [], None
    for number, raw in enumerate(text.splitlines(), 1):
        match = re.match(r"\s*ListenStream\s*=\s*(\S+)\s*$", raw)
        if not match:
            continue
        value = match.group(1)
        if "%" in value or "$" in value or value.startswith("@"):
            return None           # a specifier or an abstract socket: not an address read here
        found.append(f"unix:{value}" if value.startswith("/") else f"0.0.0.0:{value}" if value.isdigit() else value)
        first = first or number
    return (path, first, found) if found else None


def app_server_of(source: CommandSource, environ: dict[str, str | None] | None = None):
    """The other app server (uvicorn, hypercorn, daphne, uWSGI, granian) the command starts, read
    from its words and the variables it runs with, or from the script it runs; None for gunicorn
    or a server confgen does not read. ``environ``: a container's variables, over the file's."""
    from confgen.appserver.reading import read_server

    values = [w.value for w in source.words]
    script = _entry_script(values, source.path) if find_server(values) is None else None
    if script is not None:
        server = entry_script.read(script, label=source.label)
    elif source.server == "gunicorn":
        return None
    else:
        server = read_server(source.server, source.server_args(), label=source.label, file=source.path,
                             line=source.line, environ=source.environment(environ),
                             cwd=os.path.dirname(os.path.abspath(source.path)))
    if server is not None:
        server.command = source
    return server


def _read(path: str) -> str:
    from confgen.files import read_text_file

    return read_text_file(path, MAX_FILE_BYTES)


def _logical_lines(text: str, *, continuation: str = "\\"):
    """(first line number, start, end) of each line joined with the ones it continues."""
    offset, number = 0, 1
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        first, start = number, offset
        while True:
            line = lines[index]
            offset += len(line) + 1
            number += 1
            index += 1
            if not line.rstrip("\r").rstrip().endswith(continuation) or index >= len(lines):
                break
        yield first, start, min(offset - 1, len(text))


def _runs_app_server(words: list[Word], path: str) -> bool:
    """Whether the command starts a Python app server (gunicorn, or uvicorn, hypercorn, daphne,
    uWSGI, granian: their commands live in the same files), or runs a script beside ``path``
    that starts uvicorn itself."""
    script = inline_script(words)
    values = [w.value for w in (script[0] if script is not None else words)]
    return find_server(values) is not None or _entry_script(values, path) is not None


def _entry_script(values: list[str], path: str) -> str | None:
    """The script a ``python main.py`` command runs, when it is beside the command's file and
    starts uvicorn (``uvicorn.run(...)``)."""
    index = entry_script.script_word(values)
    script = entry_script.locate(values[index], os.path.dirname(os.path.abspath(path))) if index is not None else None
    return script if script is not None and entry_script.read(script) is not None else None


def _systemd(path: str, text: str) -> CommandSource | None:
    found, env_args, env, env_files, directory = None, None, {}, [], None
    for line, start, end in _logical_lines(text):
        match = re.match(r"\s*(ExecStart|EnvironmentFile|Environment|WorkingDirectory)\s*=\s*", text[start:end])
        if not match:
            continue
        if match.group(1) == "WorkingDirectory":
            directory = text[start + match.end():end].strip().lstrip("-") or None
            continue
        if match.group(1) == "EnvironmentFile":
            env_files.append(text[start + match.end():end].strip())
            continue
        if match.group(1) == "Environment":
            for item in _split_plain(text[start + match.end():end]):
                if item.startswith("GUNICORN_CMD_ARGS="):
                    env_args = item.partition("=")[2]
            env.update(_assigned(_split_plain(text[start + match.end():end]), computed="%"))
            continue
        words = shell_words(text, start + match.end(), end)
        if words:
            # systemd's prefixes: "-" ignores the exit status, "@" makes the second word argv[0].
            first = words[0]
            stripped = first.value.lstrip("-@:+!")
            if "@" in first.value[:len(first.value) - len(stripped)] and len(words) > 1:
                words = [Word(stripped, first.start, first.end, "shell")] + words[2:]
            else:
                words = [Word(stripped, first.start, first.end, "shell")] + words[1:]
        if _runs_app_server(words, path):
            found = CommandSource(path, "systemd", line, text, words)
    if found is not None:
        found.env_args, found.env, found.env_files = env_args, env, env_files
        found.working_directory = directory
    return found


def _procfile(path: str, text: str) -> CommandSource | None:
    candidates = []
    for line, start, end in _logical_lines(text, continuation="\0"):
        match = re.match(r"\s*([A-Za-z0-9_-]+)\s*:\s*", text[start:end])
        if match:
            words = shell_words(text, start + match.end(), end)
            if _runs_app_server(words, path):
                candidates.append((match.group(1) != "web", CommandSource(path, "procfile", line, text, words)))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def _dockerfile(path: str, text: str) -> CommandSource | None:
    found, env_args, scripts, entrypoint = None, None, [], False
    # ENV of each build stage (a stage starts with FROM, and one built FROM an earlier stage
    # starts with its variables); the command runs with those of the stage it is in.
    stages: dict[str, dict[str, str | None]] = {}
    stage_env: dict[str, str | None] = {}
    found_env = stage_env
    for line, start, end in _logical_lines(text):
        match = re.match(r"\s*(CMD|ENTRYPOINT|ENV|RUN|FROM)\s+", text[start:end], re.IGNORECASE)
        if not match:
            continue
        keyword, body = match.group(1).upper(), start + match.end()
        if keyword == "FROM":
            words = [w.value for w in shell_words(text, body, end) if not w.value.startswith("--")]
            stage_env = dict(stages.get(words[0].lower(), {})) if words else {}
            if len(words) >= 3 and words[1].lower() == "as":
                stages[words[2].lower()] = stage_env
            continue
        if keyword == "ENV":
            stage_env.update(_dockerfile_env([w.value for w in shell_words(text, body, end)]))
            env = re.search(r"GUNICORN_CMD_ARGS(?:=|\s+)(\"(?:[^\"\\]|\\.)*\"|'[^']*'|.*)", text[body:end])
            if env:
                value = env.group(1)
                env_args = json.loads(value) if value.startswith('"') else value.strip("'").strip()
            continue
        if keyword == "RUN":
            continue
        if text[body:end].lstrip().startswith("["):
            words = _json_words(text, body, end)
        else:
            words = shell_words(text, body, end)
        if _runs_app_server(words, path):
            found = CommandSource(path, "dockerfile", line, text, words)
            found_env = stage_env
            entrypoint = keyword == "ENTRYPOINT" and words[0].style == "json"
        elif keyword == "CMD" and found is not None and entrypoint and words and words[0].style == "json":
            found.words = found.words + words  # exec-form CMD: the arguments of the ENTRYPOINT
        else:
            scripts += [w.value for w in words if w.style != "shell" or w.value not in SHELL_OPERATORS]
    if found is None:
        started = started_script(scripts, [os.path.dirname(path)])
        if started is not None:
            started.env = dict(stage_env)  # the image's ENV is the environment of the script it runs
        return started
    found.env_args, found.env = env_args, dict(found_env)
    return found


def started_script(words: list[str], directories: list[str]) -> CommandSource | None:
    """The app server started by the first script a command runs (``["/start.sh"]``, ``bash
    /app/scripts/start.sh``) that is in the repository (files.locate_container_path)."""
    for word in words:
        script = None if word.startswith("-") else locate_container_path(word, directories)
        if script is None:
            continue
        try:
            started = _script(script, _read(script))
        except ConfgenError:
            continue
        if started is not None:
            return started
    return None


def _dockerfile_env(words: list[str]) -> dict[str, str | None]:
    """``ENV A=1 B="2 3"``, or the older ``ENV NAME the rest of the line``."""
    if words and "=" not in words[0]:
        return _assigned([f"{words[0]}={' '.join(words[1:])}"], computed="$")
    return _assigned(words, computed="$")


def _assigned(items: list[str], computed: str) -> dict[str, str | None]:
    """{name: value} of the ``NAME=value`` items; None for a value the file computes (a
    character in ``computed`` starts an expansion: ``$`` in a Dockerfile, ``%`` in systemd)."""
    found: dict[str, str | None] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if equals and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            found[name] = None if any(c in value for c in computed) else value
    return found


def _json_words(text: str, start: int, end: int) -> list[Word]:
    words = []
    for match in re.finditer(r'"((?:[^"\\]|\\.)*)"', text[start:end]):
        words.append(Word(json.loads(match.group(0)), start + match.start(), start + match.end(), "json"))
    return words


def _script(path: str, text: str) -> CommandSource | None:
    prelude: list[tuple[list[str], bool]] = []
    depth, heredoc = 0, None
    for line, start, end in _logical_lines(text):
        if heredoc is not None:
            # A here-document's lines are data (`cat > .env <<EOF` / `PORT=9000` / `EOF`), not commands.
            if text[start:end].strip() == heredoc:
                heredoc = None
            continue
        if text[start:end].lstrip().startswith("#"):
            continue
        words = _after_case_pattern(shell_words(text, start, end, comments=True))
        if _runs_app_server(words, path):
            return CommandSource(path, "script", line, text, words, prelude=prelude)
        depth = _commands_of(words, depth, prelude)
        opened = _HEREDOC.search(text, start, end)
        heredoc = opened.group(1) if opened else None
    return None


_HEREDOC = re.compile(r"<<-?\s*[\"']?([A-Za-z_]\w*)[\"']?")


def _after_case_pattern(words: list[Word]) -> list[Word]:
    """A line's words without a leading ``case`` pattern (``gunicorn)``, ``web|gunicorn)``): the
    pattern names a choice, it runs nothing; what follows it on the line is a command."""
    for index, word in enumerate(words):
        if word.style == "shell" and word.value in SHELL_OPERATORS:
            return words[index + 1:] if word.value == ")" and index > 0 and words[0].value != "(" else words
    return words


# Shell words that open and close a compound command; inside one, a command runs only under a
# condition (or in a function that may never be called).
_OPENS = {"if", "case", "for", "while", "until", "select", "{"}
_CLOSES = {"fi", "esac", "done", "}"}
_CONTINUES = {"then", "else", "elif", "do", "!"}


def _commands_of(words: list[Word], depth: int, commands: list[tuple[list[str], bool]]) -> int:
    """Add the simple commands of one script line to ``commands`` as (words, conditional), and
    return how deep in compound commands (if/case/loops/functions) the line leaves the script."""
    values: list[str] = []
    after = None
    for word in [*words, Word(";", 0, 0, "shell")]:
        if word.style != "shell" or word.value not in SHELL_OPERATORS:
            values.append(word.value)
            continue
        while values and values[0] in _CONTINUES:
            values = values[1:]
        if values:
            if values[0] in _OPENS or values[-1] == "{":
                depth += 1
            elif values[0] in _CLOSES:
                depth = max(0, depth - 1)
            else:
                commands.append((values, depth > 0 or after in ("&&", "||")))
        values, after = [], word.value
    return depth


def _supervisor(path: str, text: str) -> CommandSource | None:
    programs = supervisor_programs(path, text)
    return programs[-1] if programs else None


_SUPERVISOR_EXPANSION_RE = re.compile(r"%\((\w+)\)[sd]")


def _expansions_as_variables(text: str) -> str:
    """supervisord's ``%(ENV_X)s`` (and ``%(program_name)s``...) expansions, which it applies before
    splitting a command, written as shell variables the command readers know: ``${_ENV_X}``
    (bound to the environment's X by supervisor_programs), ``${_name}`` for the others (unknown
    here). Each keeps its length, so positions in the file stay true for fixes."""
    return _SUPERVISOR_EXPANSION_RE.sub(lambda match: "${_" + match.group(1) + "}", text)


def supervisor_programs(path: str, text: str | None = None) -> list[CommandSource]:
    """The command of every ``[program:x]`` of a supervisor config that starts an app server, in
    order, each with the environment its own section sets over the ``[supervisord]`` one (which
    supervisord passes to every child)."""
    text = _expansions_as_variables(_read(path) if text is None else text)
    found: list[CommandSource] = []
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    command, env_args, variables, section, directory = None, None, {}, "", None
    base_args: str | None = None
    base: dict[str, str | None] = {}

    def close_section() -> None:
        nonlocal base_args, base
        if section == "supervisord":
            base_args, base = env_args, dict(variables)
        if command is not None:
            command.env_args = env_args if env_args is not None else base_args
            command.working_directory = directory
            command.env = {**base, **variables}
            # %(ENV_X)s reads X of the environment supervisord passes (see _expansions_as_variables).
            command.env.update({f"_ENV_{name}": value for name, value in list(command.env.items())})
            found.append(command)

    for index, line in enumerate(lines):
        header = re.match(r"\s*\[([^\]]*)\]", line)
        if header:
            close_section()  # a new section: what the last one set stays with it
            command, env_args, variables, section, directory = None, None, {}, header.group(1).strip().lower(), None
            continue
        match = re.match(r"\s*(command|environment|directory)\s*=\s*", line)
        if not match:
            continue
        if match.group(1) == "directory":
            directory = line[match.end():].strip() or None
            continue
        stop = index + 1
        while stop < len(lines) and lines[stop][:1] in (" ", "\t") and lines[stop].strip():
            stop += 1  # an indented line continues the value (ini files)
        start, end = offsets[index] + match.end(), offsets[stop] - 1
        if match.group(1) == "environment":
            env = re.search(r"GUNICORN_CMD_ARGS=(\"[^\"]*\"|'[^']*'|[^,]*)", text[start:end])
            if env:
                env_args = env.group(1).strip("\"'")
            variables.update(_supervisor_env(text[start:end]))
            continue
        words = shell_words(text, start, min(end, len(text)))
        if _runs_app_server(words, path):
            command = CommandSource(path, "supervisor", index + 1, text, words)
    close_section()
    return found


def _supervisor_env(value: str) -> dict[str, str | None]:
    """``environment=A="1",B=2``; a ``%(ENV_X)s`` expansion is computed: None."""
    items = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^,]*)", value)
    return _assigned([f"{name}={raw.strip().strip(chr(34) + chr(39))}" for name, raw in items], computed="%")


def _compose(path: str, text: str) -> CommandSource | None:
    services = compose_services(path, text)
    return services[0] if services else None


def compose_services(path: str, text: str | None = None) -> list[CommandSource]:
    """The command of every service of a compose file that starts an app server, in order, each
    with its service name (the host name other services reach it by)."""
    import yaml

    text = _read(path) if text is None else text
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        raise ConfgenError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    services = _mapping_get(root, "services") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(services, yaml.MappingNode):
        return []
    found = []
    for name, service in services.value:
        if not isinstance(service, yaml.MappingNode):
            continue
        env_args = _compose_env(_mapping_get(service, "environment"))
        variables = _compose_variables(_mapping_get(service, "environment"))
        source = _compose_service_command(path, text, service)
        if source is not None:
            # The service's environment is the command's, over an image's ENV.
            source.env_args = env_args if env_args is not None else source.env_args
            source.env = {**source.env, **variables}
            source.service = name.value if isinstance(name, yaml.ScalarNode) else None
            source.compose_file = path
            found.append(source)
    return found


def _compose_service_command(path: str, text: str, service) -> CommandSource | None:
    """What a compose service runs, when it starts an app server: its ``entrypoint`` or
    ``command``, the script that one runs (looked up beside the file and in the build context),
    or, with neither written, the CMD of the Dockerfile it is built from."""
    import yaml

    directory = os.path.dirname(path)
    context, dockerfile = _compose_build(service, directory)
    written = False
    for key in ("entrypoint", "command"):
        node = _mapping_get(service, key)
        if node is None:
            continue
        written = True
        source = _compose_command(path, text, node)
        if source is None:
            continue
        if key == "entrypoint" and _mapping_get(service, "command") is not None:
            # compose runs the entrypoint with the command as its arguments (byro's
            # `entrypoint: [gunicorn]` beside `command: [byro.wsgi, --bind=...]`).
            arguments = _compose_command(path, text, _mapping_get(service, "command"))
            if arguments is not None and _runs_app_server(source.words, path):
                return dataclasses.replace(source, words=source.words + arguments.words, block_list=None,
                                           not_editable="the command is split between entrypoint and command")
        if _runs_app_server(source.words, path):
            return source
        values = [w.value for w in source.words if w.style != "shell" or w.value not in SHELL_OPERATORS]
        started = started_script(values, [d for d in (directory, context) if d])
        if started is not None:
            return started
    if written or dockerfile is None or not os.path.isfile(dockerfile):
        return None
    try:
        text = _read(dockerfile)
        target = _mapping_get(_mapping_get(service, "build"), "target")
        if isinstance(target, yaml.ScalarNode):
            text = build_stage_text(text, target.value) or text
        return _dockerfile(dockerfile, text)
    except (ConfgenError, yaml.YAMLError):
        return None


def build_stage_text(text: str, target: str) -> str | None:
    """A Dockerfile's text as ``docker build --target TARGET`` builds it: the lines of that stage
    and of the stages it is built FROM, every other stage's lines blanked (line numbers and
    offsets unchanged), so its CMD is the one the image runs (set 23's compose ``target: prod``
    beside a later ``debug`` stage). None when no stage has that name."""
    starts, names, parents = [], [], []
    offset = 0
    for line in text.split("\n"):
        match = re.match(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            base = match.group(1).lower()
            parents.append(names.index(base) if base in names else None)
            names.append((match.group(2) or "").lower())
            starts.append(offset)
        offset += len(line) + 1
    if target.lower() not in names:
        return None
    kept, stage = set(), names.index(target.lower())
    while stage is not None and stage not in kept:
        kept.add(stage)
        stage = parents[stage]
    chars = list(text)
    for index, start in enumerate(starts):
        if index in kept:
            continue
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        for position in range(start, end):
            if chars[position] != "\n":
                chars[position] = " "
    return "".join(chars)


def _compose_build(service, directory: str) -> tuple[str | None, str | None]:
    """(build context directory, its Dockerfile) of a compose service: ``build: ./api`` or
    ``build: {context: ./api, dockerfile: Dockerfile.prod}``; (None, None) without a build."""
    import yaml

    build = _mapping_get(service, "build")
    if isinstance(build, yaml.ScalarNode):
        context, name = build.value, "Dockerfile"
    elif isinstance(build, yaml.MappingNode):
        context_node, name_node = _mapping_get(build, "context"), _mapping_get(build, "dockerfile")
        context = context_node.value if isinstance(context_node, yaml.ScalarNode) else "."
        name = name_node.value if isinstance(name_node, yaml.ScalarNode) else "Dockerfile"
    else:
        return None, None
    if "://" in context or "$" in context or "$" in name:
        return None, None  # a Git URL or an interpolated path: not in this repository as written
    context = os.path.normpath(os.path.join(directory, context))
    return context, os.path.join(context, name)


def _mapping_get(node, key: str):
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value
    return None


def _compose_env(node) -> str | None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        value = _mapping_get(node, "GUNICORN_CMD_ARGS")
        return value.value if isinstance(value, yaml.ScalarNode) else None
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and item.value.startswith("GUNICORN_CMD_ARGS="):
                return item.value.partition("=")[2]
    return None


def _compose_variables(node) -> dict[str, str | None]:
    """A service's ``environment`` (mapping or ``NAME=value`` list). A variable without a value
    takes the host's, and ``${...}`` is interpolated when compose runs: both None."""
    import yaml

    items: list[tuple[str, str | None]] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode):
                empty = value.tag == "tag:yaml.org,2002:null" or (value.value == "" and value.style is None)
                items.append((key.value, None if empty else value.value))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode):
                name, equals, value = item.value.partition("=")
                items.append((name, value if equals else None))
    return {name: None if value is None or "$" in value else value
            for name, value in items if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)}


def _compose_command(path: str, text: str, node) -> CommandSource | None:
    import yaml

    line = node.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode):
        words = []
        for item in node.value:
            if not isinstance(item, yaml.ScalarNode):
                return None
            words.append(Word(item.value, item.start_mark.index, item.end_mark.index, "yaml"))
        block = None if node.flow_style else _indent(text, node.value[0].start_mark.index) if node.value else None
        return CommandSource(path, "compose", line, text, words, block_list=block)
    if not isinstance(node, yaml.ScalarNode):
        return None
    start, end = node.start_mark.index, node.end_mark.index
    raw = text[start:end]
    if node.style in (None, "'", '"') and "\n" not in raw and ("\\" not in raw and "''" not in raw):
        inner = (start + 1, end - 1) if node.style else (start, end)
        return CommandSource(path, "compose", line, text, shell_words(text, *inner))
    words = [Word(w, start, start, "shell") for w in _split_plain(node.value)]
    return CommandSource(path, "compose", line, text, words,
                         not_editable="the command is a multi-line or escaped YAML string")


def _split_plain(value: str) -> list[str]:
    return [word.value for word in shell_words(value)]


def _indent(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    prefix = text[start:offset]
    return prefix[:len(prefix) - len(prefix.lstrip())]


_READERS = {"systemd": _systemd, "procfile": _procfile, "dockerfile": _dockerfile, "compose": _compose,
            "supervisor": _supervisor, "script": _script}


# ---------------------------------------------------------------------------------------------
# Editing one option


@dataclass(frozen=True)
class OptionEdit:
    start: int
    end: int
    new: str


def option_edit(source: CommandSource, name: str, value: str) -> OptionEdit:
    """The edit that makes the command run gunicorn with setting ``name`` = ``value``: the
    value of the last option that sets it replaced in place, else ``--flag value`` added
    right after the word that starts gunicorn, in the command's own form (shell words, JSON
    strings, YAML list items)."""
    if source.not_editable:
        raise ConfgenError(f"{source.label}: {source.not_editable}; change it by hand")
    spec = reader.SETTINGS[name]
    first, stop = source.gunicorn_words()
    target = None
    index = first
    while index < stop:
        word = source.words[index]
        index += 1
        if word.value == "--":
            break
        if not word.value.startswith("-"):
            continue
        found, flag, inline = reader.option_spec(word.value)
        if found is None or found.action in ("flag", "const"):
            continue
        if inline is not None:
            if found.name == name:
                target = (word, len(word.value) - len(inline))
            continue
        if index < stop:
            if found.name == name:
                target = (source.words[index], 0)
            index += 1
    flag = next((f for f in spec.flags if f.startswith("--")), spec.flags[0] if spec.flags else None)
    if target is None and flag is None:
        raise ConfgenError(f"{source.label}: gunicorn has no command-line option for {name}")
    return _write_option(source, first, target, flag, value)


def server_option_edit(source: CommandSource, flags: tuple[str, ...], value: str) -> OptionEdit:
    """The edit that makes the command run its app server (uvicorn, hypercorn, ...) with the
    option ``flags[0]`` = ``value``: the last ``--flag value`` or ``--flag=value`` of ``flags``
    rewritten, else ``flags[0] value`` added after the word that starts the server."""
    if source.not_editable:
        raise ConfgenError(f"{source.label}: {source.not_editable}; change it by hand")
    values = [w.value for w in source.words]
    found = find_server(values)
    if found is None:
        raise ConfgenError(f"{source.label}: no app server command found")
    first = stop = found[1]
    while stop < len(values) and not (source.words[stop].style == "shell" and values[stop] in SHELL_OPERATORS):
        stop += 1
    target = None
    for index in range(first, stop):
        flag, equals, _ = values[index].partition("=")
        if flag in flags and equals:
            target = (source.words[index], len(flag) + 1)
        elif values[index] in flags and index + 1 < stop:
            target = (source.words[index + 1], 0)
    return _write_option(source, first, target, flags[0], value)


def _write_option(source: CommandSource, first: int, target, flag: str, value: str) -> OptionEdit:
    """The value of ``target`` (word, characters of it kept) rewritten, or, without one,
    ``flag value`` added after the word at ``first - 1`` in the command's own form."""
    if target is not None:
        word, skip = target
        if skip:
            # --flag=value or -w4 in one word: the value part is rewritten with the word.
            return OptionEdit(word.start, word.end, _quoted(source, word, word.value[:skip] + value))
        return OptionEdit(word.start, word.end, _quoted(source, word, value))
    anchor = source.words[first - 1]
    if anchor.style == "json":
        return OptionEdit(anchor.end, anchor.end, f", {json.dumps(flag)}, {json.dumps(value)}")
    if anchor.style == "yaml":
        if source.block_list is not None:
            newline = "\r\n" if "\r\n" in source.text else "\n"
            items = "".join(f"{newline}{source.block_list}- {_yaml_item(v)}" for v in (flag, value))
            return OptionEdit(anchor.end, anchor.end, items)
        quote = source.text[anchor.start:anchor.start + 1]
        if quote in ("'", '"') and quote not in flag + value and "\\" not in flag + value:
            # Items written like their neighbours: ["uvicorn", "--flag", "65"].
            return OptionEdit(anchor.end, anchor.end, f", {quote}{flag}{quote}, {quote}{value}{quote}")
        return OptionEdit(anchor.end, anchor.end, f", {_yaml_item(flag)}, {_yaml_item(value)}")
    return OptionEdit(anchor.end, anchor.end, f" {flag} {_shell(value)}")


def _quoted(source: CommandSource, word: Word, value: str) -> str:
    written = source.text[word.start:word.end]
    if word.style == "json":
        return json.dumps(value)
    if word.style == "yaml":
        if written[:1] in ("'", '"'):
            return written[0] + value + written[0]
        return _yaml_item(value)
    return _shell(value)


def _shell(value: str) -> str:
    return value if _PLAIN_WORD.match(value) else shlex.quote(value)


def _yaml_item(value: str) -> str:
    """A YAML list item that reads back as the string ``value`` (65 would be a number)."""
    import yaml

    try:
        plain = _PLAIN_WORD.match(value) and value[:1] not in "@%" and yaml.safe_load(f"- {value}") == [value]
    except yaml.YAMLError:
        plain = False
    return value if plain else json.dumps(value)
