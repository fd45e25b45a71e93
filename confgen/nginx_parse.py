"""Reading nginx configs into the model, with crossplane behind this one module.

crossplane lexes and parses one file at a time here; this module follows includes itself so that
every directive carries the file and line it was written at, and works around crossplane's faults:
its context and argument checks drop statements (both are off), its directive table stops near
nginx 1.17 (unknown directives are never reported), a missing final ``;`` or ``}`` comes with no
line (the file's last line is used), and a file with a syntax error yields nothing (the error is a
problem; every other file is still read). Includes are bounded: no non-regular files, no cycles,
at most ``MAX_FILES`` files of at most ``MAX_FILE_BYTES`` each.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field

import crossplane
import crossplane.errors
import crossplane.lexer

from confgen.errors import ConfgenError
from confgen.nginx_model import Directive, NginxConfig, ParseProblem
from confgen.versions import DEFAULT_NGINX_VERSION, installed_nginx_version, parse_version

MAX_FILES = 10_000
MAX_FILE_BYTES = 64 * 1024 * 1024
STDIN_NAME = "<stdin>"
SYSTEM_CONF_DIRS = ("/etc/nginx", "/usr/local/nginx/conf", "/usr/local/etc/nginx", "/opt/homebrew/etc/nginx")
# Files every nginx ships beside nginx.conf; an include of one that is not on this machine is fine.
STOCK_FILES = {"mime.types", "fastcgi_params", "fastcgi.conf", "scgi_params", "uwsgi_params", "proxy_params",
               "koi-utf", "koi-win", "win-utf"}
_DUMP_MARKER = re.compile(r"^# configuration file (.+):$", re.MULTILINE)

# Top-level directives that tell which context a snippet was written for.
_HTTP_LEVEL = {"server", "upstream", "map", "geo", "split_clients", "log_format", "proxy_cache_path",
               "limit_req_zone", "limit_conn_zone", "include_http", "types", "resolver_timeout"}
_MAIN_LEVEL = {"http", "events", "stream", "mail", "worker_processes", "worker_rlimit_nofile", "user", "pid",
               "load_module", "daemon", "master_process", "worker_cpu_affinity", "env"}
_SERVER_LEVEL = {"location", "listen", "server_name", "ssl_certificate", "ssl_certificate_key", "return"}
_UPSTREAM_LEVEL = {"keepalive", "least_conn", "ip_hash", "hash", "zone", "random", "keepalive_timeout",
                   "keepalive_requests", "keepalive_time", "ntlm", "sticky"}


def load_nginx(paths_or_text, *, nginx_version: str | None = None, root: str | None = None,
               text: str | None = None, name: str = STDIN_NAME) -> NginxConfig:
    """Load one nginx file (with its includes) into the model.

    ``paths_or_text`` is a path (or a one-element list of paths); a string that holds a newline,
    ``{`` or ``;`` and names no file is taken as config text (stdin). ``text`` passes text
    explicitly. An ``nginx -T`` dump is split back into its files. With ``root`` (the main
    nginx.conf), the root is loaded and ``focus_files`` names the given file, so the snippet is
    linted in place with inherited values.
    """
    version = parse_version(nginx_version or installed_nginx_version() or DEFAULT_NGINX_VERSION)
    if isinstance(paths_or_text, (list, tuple)):
        if len(paths_or_text) != 1:
            raise ConfgenError("load_nginx: give one file at a time")
        paths_or_text = paths_or_text[0]
    if text is None and isinstance(paths_or_text, str) and _looks_like_text(paths_or_text):
        text = paths_or_text
    if text is not None:
        dump = split_nginx_dump(text)
        if dump:
            return _load_dump(dump, version)
        with _TextFile(text) as path:
            config = _Loader(version, display={path: name}).load(path)
            config.main_file = name
            return config
    path = os.fspath(paths_or_text)
    if root is not None:
        config = _Loader(version).load(os.fspath(root))
        config.focus_files = [path]
        return config
    return _Loader(version).load(path)


def split_nginx_dump(text: str) -> dict[str, str] | None:
    """``nginx -T`` output -> {path: text}, main file first; None when it is not a dump."""
    markers = list(_DUMP_MARKER.finditer(text))
    if not markers:
        return None
    files: dict[str, str] = {}
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        files.setdefault(marker.group(1), text[marker.end() + 1:end])
    return files


def _looks_like_text(value: str) -> bool:
    return ("\n" in value or "{" in value or ";" in value) and not os.path.exists(value)


def _load_dump(files: dict[str, str], version) -> NginxConfig:
    """Lint a dump as the files it came from: write them under a temp root that mirrors their
    absolute paths (includes resolve), and name findings with the original paths."""
    with tempfile.TemporaryDirectory(prefix="confgen-dump-") as scratch:
        display = {}
        for original, body in files.items():
            target = os.path.join(scratch, original.lstrip("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(body)
            display[target] = original
        main = os.path.join(scratch, next(iter(files)).lstrip("/"))
        loader = _Loader(version, display=display, include_root=scratch)
        return loader.load(main)


class _TextFile:
    """Config text in a temp file, because crossplane lexes files."""

    def __init__(self, text: str):
        self.text = text

    def __enter__(self) -> str:
        handle, self.path = tempfile.mkstemp(prefix="confgen-", suffix=".conf")
        with os.fdopen(handle, "w", encoding="utf-8", errors="replace") as stream:
            stream.write(self.text)
        return self.path

    def __exit__(self, *exc) -> None:
        os.unlink(self.path)


@dataclass
class _Loader:
    version: tuple
    display: dict[str, str] = field(default_factory=dict)  # real path -> name shown in findings
    include_root: str | None = None  # for dumps: absolute includes live under this directory
    problems: list[ParseProblem] = field(default_factory=list)
    comments: dict[str, dict[int, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    _parsed: dict[str, list | None] = field(default_factory=dict)

    def load(self, main: str) -> NginxConfig:
        self.base_dir = os.path.dirname(os.path.abspath(main))
        root = Directive("main", [], self.shown(main), 0, None, [])
        problem = self.unreadable(main)
        if problem:
            raise ConfgenError(f"{main}: {problem}")
        statements = self.parse_file(main)
        if statements is not None:
            self.build(statements, root, main, (os.path.realpath(main),))
        config = NginxConfig(root=root, main_file=self.shown(main), nginx_version=self.version,
                             files=self.files, problems=self.problems, comments=self.comments)
        config.context = infer_context(root.block)
        return config

    def shown(self, path: str) -> str:
        return self.display.get(path, path)

    def unreadable(self, path: str) -> str | None:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return "no such file"
        except OSError as error:
            return f"cannot read: {error.strerror}"
        if stat.S_ISDIR(info.st_mode):
            return "is a directory"
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file (a device, FIFO or socket is never read)"
        if info.st_size > MAX_FILE_BYTES:
            return f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"
        if not os.access(path, os.R_OK):
            return "cannot read: permission denied"
        return None

    def parse_file(self, path: str) -> list | None:
        """Statements of one file (cached: a snippet included by many servers is parsed once),
        or None when it has a syntax error (recorded as a problem with its line)."""
        if path in self._parsed:
            return self._parsed[path]
        if self.shown(path) not in self.files:
            self.files.append(self.shown(path))
        try:
            statements = parse_tokens(crossplane.lexer.lex(path))
        except SyntaxProblem as error:
            self.problem("syntax-error", path, error.line, error.message)
            statements = None
        except crossplane.errors.NgxParserBaseException as error:
            self.problem("syntax-error", path, error.lineno or _last_line(path), error.strerror)
            statements = None
        except (OSError, UnicodeError) as error:
            self.problem("syntax-error", path, None, f"cannot read: {error}")
            statements = None
        self._parsed[path] = statements
        return statements

    def system_file(self, relative: str) -> str | None:
        """A relative include missing beside the main file, found in the installed nginx's conf
        directory, where nginx itself resolves it (configs kept in a repo include mime.types)."""
        if os.path.isabs(relative) or self.include_root:
            return None
        for conf_dir in SYSTEM_CONF_DIRS:
            candidate = os.path.join(conf_dir, relative)
            if os.path.isfile(candidate):
                return candidate
        return None

    def problem(self, kind: str, path: str, line: int | None, message: str) -> None:
        self.problems.append(ParseProblem(kind, self.shown(path), line, message))

    def build(self, statements: list, parent: Directive, path: str, stack: tuple[str, ...]) -> None:
        shown = self.shown(path)
        for statement in statements:
            name = statement["directive"]
            if name == "#":
                file_comments = self.comments.setdefault(shown, {})
                line = statement["line"]
                file_comments[line] = (file_comments[line] + " " if line in file_comments else "") + statement["comment"]
                continue
            if name == "include" and "block" not in statement:
                self.include(statement, parent, path, stack)
                continue
            directive = Directive(name, list(statement["args"]), shown, statement["line"], parent,
                                  [] if "block" in statement else None)
            parent.block.append(directive)
            if "block" in statement:
                self.build(statement["block"], directive, path, stack)

    def include(self, statement: dict, parent: Directive, path: str, stack: tuple[str, ...]) -> None:
        line = statement["line"]
        if len(statement["args"]) != 1:
            self.problem("syntax-error", path, line, "include takes exactly one file or pattern")
            return
        pattern = statement["args"][0]
        if os.path.isabs(pattern) and self.include_root:
            pattern = os.path.join(self.include_root, pattern.lstrip("/"))
        elif not os.path.isabs(pattern):
            # nginx resolves relative includes against its conf directory: the main file's.
            pattern = os.path.join(self.base_dir, pattern)
        if glob.has_magic(pattern):
            targets = sorted(glob.glob(pattern))
        else:
            targets = [pattern]
            if not os.path.lexists(pattern):
                found = self.system_file(statement["args"][0])
                if found:
                    targets = [found]
                elif os.path.basename(pattern) in STOCK_FILES:
                    return  # nginx's own type and parameter tables: nothing a rule reads
                else:
                    self.problem("include-not-found", path, line, f"include {statement['args'][0]}: no such file")
                    return
        for target in targets:
            if len(self.files) >= MAX_FILES and self.shown(target) not in self.files:
                self.problem("syntax-error", path, line, f"more than {MAX_FILES} included files; the rest were not read")
                return
            real = os.path.realpath(target)
            if real in stack:
                self.problem("include-cycle", path, line, f"include {statement['args'][0]}: {self.shown(target)} "
                                                           f"includes itself (through {len(stack)} file(s)); not followed")
                continue
            problem = self.unreadable(target)
            if problem:
                if glob.has_magic(pattern) and problem == "is a directory":
                    continue  # nginx's glob skips directories too
                kind = "include-not-found" if problem == "no such file" else "syntax-error"
                self.problem(kind, path, line, f"include {self.shown(target)}: {problem}")
                continue
            statements = self.parse_file(target)
            if statements is not None:
                self.build(statements, parent, target, stack + (real,))


class SyntaxProblem(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message, self.line = message, line


def parse_tokens(tokens) -> list[dict]:
    """crossplane's lexer tokens -> statements shaped like crossplane's payload (directive,
    line, args, block, comments as "#"). Iterative, so deep nesting cannot exhaust the stack;
    no directive table, so newer directives (http2, quic, keepalive_time) are just directives,
    and a statement is never dropped for its context or argument count."""
    top: list[dict] = []
    stack = [top]
    tokens = iter(tokens)
    last_line = 1
    for token, line, quoted in tokens:
        last_line = line
        if not quoted and token == "}":
            if len(stack) == 1:
                raise SyntaxProblem('unexpected "}"', line)
            stack.pop()
            continue
        if not quoted and token.startswith("#"):
            stack[-1].append({"directive": "#", "line": line, "comment": token[1:]})
            continue
        if not quoted and token in ("{", ";"):
            raise SyntaxProblem(f'unexpected "{token}"', line)
        statement = {"directive": token, "line": line, "args": []}
        comments = []
        terminator = None
        for argument, arg_line, arg_quoted in tokens:
            last_line = arg_line
            if not arg_quoted and argument in ("{", ";", "}"):
                terminator = argument
                break
            if not arg_quoted and argument.startswith("#"):
                comments.append({"directive": "#", "line": arg_line, "comment": argument[1:]})
            else:
                statement["args"].append(argument)
        if terminator is None:
            raise SyntaxProblem(f'unexpected end of file, expecting ";" or "}}" after "{token}"', last_line)
        if terminator == "}":
            raise SyntaxProblem(f'directive "{token}" is not terminated by ";"', line)
        if token == "if":
            _strip_if_parentheses(statement["args"])
        stack[-1].append(statement)
        stack[-1].extend(comments)
        if terminator == "{":
            statement["block"] = []
            stack.append(statement["block"])
    if len(stack) > 1:
        raise SyntaxProblem('unexpected end of file, expecting "}"', last_line)
    return top


def _strip_if_parentheses(args: list[str]) -> None:
    """`if ($a = b)` lexes as "($a", "=", "b)": drop the parentheses as nginx does."""
    if args and args[0].startswith("(") and args[-1].endswith(")"):
        args[0] = args[0][1:].lstrip()
        args[-1] = args[-1][:-1].rstrip()
        args[:] = [a for i, a in enumerate(args) if a or 0 < i < len(args) - 1]


def infer_context(top: list[Directive] | None) -> str:
    """Which block a file's top-level directives belong in: "main" for a whole nginx.conf,
    "http" for conf.d/sites-enabled files of servers, "server" for shared locations,
    "upstream" for server lists, "location" for loose directives."""
    names = {d.name for d in top or ()}
    if not names or names & _MAIN_LEVEL:
        return "main"
    blocks = {d.name for d in top or () if d.is_block}
    if "server" in blocks or names & (_HTTP_LEVEL - {"server"}):
        return "http"
    if names & _SERVER_LEVEL:
        return "server"
    if "server" in names and names <= {"server"} | _UPSTREAM_LEVEL:
        return "upstream"
    return "location"


def _last_line(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return max(1, handle.read().count(b"\n") + 0) or 1
    except OSError:
        return 1


def _clean_error(message: str, path: str) -> str:
    """crossplane appends " in <file>:<line>" to messages; the finding carries both already."""
    return re.sub(r"\s+in\s+\S+:\d+$", "", message.replace(path, os.path.basename(path)))
