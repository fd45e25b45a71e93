"""Reading nginx configs into the model, with crossplane behind this one module.

crossplane's lexer turns each file's text into tokens; this module builds the tree and follows
includes itself, so every directive carries the file and line it was written at (crossplane's
own parser can name the includer instead), and so crossplane's faults stay out of the model:

- its parser drops a statement that fails its context or argument check, and its directive table
  stops near nginx 1.17 (``http2``, ``quic``, ``keepalive_time`` ... would be "unknown"): its
  parser is not used, no directive is ever checked against a table;
- a missing final ``;`` or ``}``, or an unterminated quote, ends its token stream silently or with
  no line: an end-of-file sentinel is appended to the text, and the error names the file's last
  line, as nginx does;
- a comment on the last line without a newline is dropped: the text always ends with one;
- the bodies of OpenResty's ``*_by_lua_block`` directives are Lua, not nginx syntax (a ``}`` in a
  Lua string or comment would close nginx blocks early): a Lua-aware lexer takes the body whole
  as one argument, as OpenResty does;
- ``if ($a = b)`` lexes as ``($a``, ``=``, ``b)``: the parentheses are dropped, as nginx does.

Files are read here, never by crossplane: never a non-regular file (a FIFO or ``/dev/zero``
would block or never end), at most ``MAX_FILE_BYTES`` each, at most ``MAX_FILES`` files and
``MAX_DIRECTIVES`` directives in all (an include tree that fans out cannot explode), and include
cycles stop at the repeated file. Undecodable bytes are replaced, never a traceback. A file with a
syntax error contributes nothing (nginx would not start with it) and yields a problem with its
line; every other file is still loaded.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Generator, Iterable, Iterator, NamedTuple

import crossplane.lexer

from confgen.errors import ConfgenError
from confgen.files import locate_container_path, read_regular_file
from confgen.nginx.model import Block, Directive, NginxConfig, ParseProblem
from confgen.nginx.sniff import template_mark
from confgen.nginx.versions import DEFAULT_NGINX_VERSION, installed_nginx_version, parse_version

_INTERN_MAX = 64

MAX_FILES = 10_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DIRECTIVES = 2_000_000
STDIN_NAME = "<stdin>"
# Where nginx packages keep nginx.conf: a relative include missing beside a config kept in a repo
# (``include mime.types;``) is looked up there, where nginx itself would find it.
SYSTEM_CONF_DIRS = ("/etc/nginx", "/usr/local/nginx/conf", "/usr/local/etc/nginx", "/opt/homebrew/etc/nginx")
# Files every nginx ships beside nginx.conf; an include of one that is not on this machine is fine.
STOCK_FILES = {"mime.types", "fastcgi_params", "fastcgi.conf", "scgi_params", "uwsgi_params", "proxy_params",
               "koi-utf", "koi-win", "win-utf"}
# Debian's nginx-common ships these under /etc/nginx/snippets/.
DEBIAN_SNIPPETS = {"fastcgi-php.conf", "snakeoil.conf"}

_DUMP_MARKER = re.compile(r"^# configuration file (.+):\r?$", re.MULTILINE)
# What `nginx -T` prints before the first file ("nginx: the configuration file ... syntax is ok").
_DUMP_PREAMBLE = re.compile(r"^(?:\s*|nginx: .*)$")
# Ends every text handed to the lexer. It reaches the parser as a token of its own only when the
# lexer read the whole text; inside an unterminated quote or Lua block it never does.
_EOF = "\x00confgen-end-of-file\x00"

# OpenResty's directives whose block is Lua code (lua-nginx-module and stream-lua-nginx-module).
LUA_BLOCK_DIRECTIVES = frozenset(f"{phase}_by_lua_block" for phase in (
    "access", "balancer", "body_filter", "content", "exit_worker", "header_filter", "init", "init_worker",
    "log", "preread", "rewrite", "server_rewrite", "set", "ssl_certificate", "ssl_client_hello",
    "ssl_session_fetch", "ssl_session_store",
))

# The blocks a bare snippet is placed in, by the context it was written for (see place_in_context).
SYNTHETIC_CHAIN = {
    "server": (("http", ()), ("server", ())),
    "location": (("http", ()), ("server", ()), ("location", ("/",))),
}

# Top-level directives that tell which context a snippet was written for.
_MAIN_LEVEL = {"http", "events", "stream", "mail", "worker_processes", "worker_rlimit_nofile", "user", "pid",
               "load_module", "daemon", "master_process", "worker_cpu_affinity", "env", "thread_pool",
               "worker_shutdown_timeout", "lock_file", "pcre_jit", "ssl_engine", "timer_resolution",
               "working_directory", "worker_priority", "google_perftools_profiles", "quic_bpf"}
_HTTP_LEVEL = {"upstream", "map", "geo", "split_clients", "log_format", "proxy_cache_path", "limit_req_zone",
               "limit_conn_zone", "types", "variables_hash_max_size", "variables_hash_bucket_size",
               "server_names_hash_max_size", "server_names_hash_bucket_size", "fastcgi_cache_path",
               "uwsgi_cache_path", "scgi_cache_path", "js_import", "js_path", "perl_modules", "lua_package_path",
               "lua_shared_dict", "init_by_lua_block", "init_worker_by_lua_block"}
_SERVER_LEVEL = {"location", "listen", "server_name", "ssl_certificate", "ssl_certificate_key", "ssl_protocols",
                 "ssl_ciphers", "ssl_session_cache", "ssl_session_timeout", "ssl_prefer_server_ciphers",
                 "ssl_dhparam", "ssl_stapling", "ssl_reject_handshake", "http2", "http3", "quic"}
_UPSTREAM_LEVEL = {"keepalive", "least_conn", "ip_hash", "hash", "zone", "random", "keepalive_timeout",
                   "keepalive_requests", "keepalive_time", "ntlm", "sticky", "least_time", "queue", "resolver",
                   "resolver_timeout", "state", "backup"}

# Stands for the file, outside the tree, that includes a snippet linted on its own.
SNIPPET_INCLUDER = "<the file that includes this snippet>"


# ---------------------------------------------------------------------------------------------
# Entry points


def load_nginx(paths_or_text=None, *, nginx_version: str | None = None, root: str | None = None,
               text: str | None = None, name: str = STDIN_NAME) -> NginxConfig:
    """Load one nginx file (with its includes) into the model.

    ``paths_or_text`` is a path (or a one-element list of paths; for several files, call once
    per file). A string that holds a newline, ``{`` or ``;`` and names no file is taken as config
    text (stdin), as is ``text`` given explicitly; relative includes in text resolve against the
    current directory. ``nginx -T`` output, as text or saved in a file, is split back into its
    files so findings name the real ones. With ``root`` (the main nginx.conf), the root is loaded
    and ``focus_files`` names the given file as the config holds it, so a snippet is linted in
    place with the values it inherits; a snippet the root does not include is loaded on its own,
    with a note saying so. ``nginx_version`` defaults to the installed nginx's, else
    ``versions.DEFAULT_NGINX_VERSION``.
    """
    version = _target_version(nginx_version)
    if isinstance(paths_or_text, (list, tuple)):
        if len(paths_or_text) != 1:
            raise ConfgenError(f"load_nginx: give one file at a time, not {len(paths_or_text)}")
        paths_or_text = paths_or_text[0]
    if text is None and isinstance(paths_or_text, str) and _looks_like_text(paths_or_text):
        text = paths_or_text
    if text is not None:
        return _load_text(text, name, version)
    if paths_or_text is None:
        raise ConfgenError("load_nginx: give a file or text")
    path = os.fspath(paths_or_text)
    if root is None or _same_file(path, os.fspath(root)):
        return _load_path(path, version)
    config = _load_path(os.fspath(root), version)
    snippet = _real(path)
    placed = [shown for shown in config.files if _real(shown) == snippet]
    if placed:
        config.focus_files = placed
        return config
    alone = _load_path(path, version)
    alone.focus_files = [path]
    alone.notes.append(f"{path} is not included by {root}: linted on its own, without inherited values")
    return alone


def load_nginx_files(files: dict[str, str], main: str, *, nginx_version: str | None = None,
                     conf_dir: str = "/etc/nginx", complete_dirs: Iterable[str] = (),
                     shown_as: dict[str, str] | None = None, unplaced: Iterable[str] = ()) -> NginxConfig:
    """Load a config whose files are given, not read from this disk: the files a container
    sees (from a Kubernetes ConfigMap), by their paths in the container. ``main`` is among them.

    An include of a file not given is a file the image provides: a note, and rules about missing
    values stay silent where it stood, as for a missing include on disk. A glob in one of
    ``complete_dirs`` (a directory wholly mounted from the given files) matches only the given
    files; elsewhere the image's own files may match it too, and count as such an include.
    ``shown_as`` renames files for findings (a container path -> the manifest that holds it,
    whose text was given with every line in place). Directives of ``unplaced`` files have no
    column: their text was not given where the manifest holds it, so no fix may edit them."""
    loader = _Loader(_target_version(nginx_version), virtual=dict(files), disk=False, base_dir=conf_dir,
                     complete=False, complete_dirs={d.rstrip("/") for d in complete_dirs})
    config = loader.load(main)
    unplaced = set(unplaced)
    if unplaced:
        for directive in config.walk():
            if directive.file in unplaced:
                directive.column = 0
    if shown_as:
        _rename_files(config, shown_as)
    return config


def _rename_files(config: NginxConfig, shown_as: dict[str, str]) -> None:
    for directive in [config.root, *config.walk(), *config.unresolved_includes, *config.include_sites.values()]:
        directive.file = shown_as.get(directive.file, directive.file)
    config.include_sites = {(block, shown_as.get(file, file)): include
                            for (block, file), include in config.include_sites.items()}
    config.main_file = shown_as.get(config.main_file, config.main_file)
    config.files = list(dict.fromkeys(shown_as.get(f, f) for f in config.files))
    comments: dict[str, dict[int, str]] = {}
    for path, by_line in config.comments.items():
        comments.setdefault(shown_as.get(path, path), {}).update(by_line)
    config.comments = comments
    config.problems = [ParseProblem(p.kind, shown_as.get(p.file, p.file), p.line, p.message) for p in config.problems]
    for index, note in enumerate(config.notes):
        path, colon, rest = note.partition(":")
        if colon and path in shown_as:
            config.notes[index] = shown_as[path] + colon + rest


# Where a snippet linted on its own looks for the file that includes it: up to this many
# directories above it, to the nearest one that holds an nginx.conf or marks a project.
INCLUDER_SEARCH_LEVELS = 3
INCLUDER_SEARCH_FILES = 2000
INCLUDER_MAX_BYTES = 4 * 1024 * 1024  # a candidate includer larger than this is not read
_PROJECT_MARKERS = (".git", "pyproject.toml", ".confgen.toml", "nginx.conf")
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", "site-packages"}


def find_includer(snippet: str, *, nginx_version: str | None = None) -> str | None:
    """The file in the snippet's tree that includes it, best a whole nginx.conf; None if none.

    The tree is the nearest directory at or above the snippet (at most
    ``INCLUDER_SEARCH_LEVELS`` up) that holds an ``nginx.conf`` or marks a project (``.git``,
    ``pyproject.toml``, ``.confgen.toml``), else the snippet's own directory. Files that do not
    mention ``include`` are skipped unread beyond that check; the others are loaded as nginx
    would (relative includes against their own directory) and kept when they reach the snippet.
    """
    target = _real(snippet)
    top = _search_root(os.path.dirname(os.path.abspath(snippet)))
    found: list[tuple[bool, int, str]] = []
    for candidate in _candidate_files(top):
        if _real(candidate) == target or not _mentions_include(candidate):
            continue
        try:
            config = _load_path(candidate, _target_version(nginx_version))
        except ConfgenError:
            continue
        if any(_real(f) == target for f in config.files[1:]):
            found.append((not config.is_full, candidate.count(os.sep), candidate))
    if not found:
        return None
    chosen = min(found)[2]
    # Named as the user named the snippet: relative to the working directory if it was.
    return chosen if os.path.isabs(snippet) else os.path.relpath(chosen)


def _search_root(directory: str) -> str:
    current = directory
    for _ in range(INCLUDER_SEARCH_LEVELS + 1):
        if any(os.path.exists(os.path.join(current, marker)) for marker in _PROJECT_MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return directory


def _candidate_files(top: str) -> Iterator[str]:
    seen = 0
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.endswith((".py", ".pyc", ".md", ".txt", ".json", ".yml", ".yaml", ".toml", ".lock")):
                continue
            seen += 1
            if seen > INCLUDER_SEARCH_FILES:
                return
            yield os.path.join(folder, name)


def _mentions_include(path: str) -> bool:
    data, problem = read_regular_file(path, INCLUDER_MAX_BYTES)
    return problem is None and b"include" in data


def split_nginx_dump(text: str) -> dict[str, str] | None:
    """``nginx -T`` output -> {path: text}, main file first; None when it is not a dump.

    Only text that starts with a ``# configuration file ...:`` marker (after nginx's own
    ``nginx: ...`` status lines) is a dump, so a config with such a comment in it is not split.
    nginx ends each file's text with one extra newline, removed here so lines match the file.
    """
    markers = list(_DUMP_MARKER.finditer(text))
    if not markers or not all(_DUMP_PREAMBLE.match(line) for line in text[:markers[0].start()].splitlines()):
        return None
    files: dict[str, str] = {}
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        body = text[marker.end():end]
        body = body[1:] if body.startswith("\n") else body[2:] if body.startswith("\r\n") else body
        files.setdefault(marker.group(1), body[:-1] if body.endswith("\n") else body)
    return files


def infer_context(top: list[Directive] | None) -> str:
    """Which block a file's top-level directives belong in: "main" for a whole nginx.conf,
    "http" for conf.d/sites-enabled files of servers, "server" for shared locations and
    server-level settings, "upstream" for server lists, "location" for loose directives such as a
    shared ``proxy_set_header`` file."""
    directives = list(top or ())
    names = {d.name for d in directives}
    if not names or names & _MAIN_LEVEL:
        return "main"
    blocks = {d.name for d in directives if d.is_block}
    if "server" in blocks or names & _HTTP_LEVEL:
        return "http"
    if names & _SERVER_LEVEL:
        return "server"
    if "server" in names and names <= {"server"} | _UPSTREAM_LEVEL:
        return "upstream"
    return "location"


# ---------------------------------------------------------------------------------------------
# Loading


def _target_version(nginx_version) -> tuple[int, int, int]:
    text = nginx_version or installed_nginx_version() or DEFAULT_NGINX_VERSION
    try:
        return parse_version(str(text))
    except ValueError as error:
        raise ConfgenError(f"nginx version: {error}") from None


def _looks_like_text(value: str) -> bool:
    return ("\n" in value or "{" in value or ";" in value) and not os.path.exists(value)


def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _same_file(a: str, b: str) -> bool:
    return _real(a) == _real(b)


def _load_text(text: str, name: str, version) -> NginxConfig:
    dump = split_nginx_dump(text)
    if dump:
        return _load_dump(dump, version)
    # A stdin config includes relative to where confgen runs, the closest thing to a prefix.
    return _Loader(version, virtual={name: text}, base_dir="").load(name)


def _load_dump(files: dict[str, str], version) -> NginxConfig:
    """A dump holds every file nginx read: includes resolve among them, never on this disk
    (the dump may come from another machine)."""
    main = next(iter(files))
    config = _Loader(version, virtual=dict(files), disk=False, base_dir=os.path.dirname(main)).load(main)
    config.texts = dict(files)
    return config


def _load_path(path: str, version) -> NginxConfig:
    text, problem = _read_regular_file(path)
    if problem:
        raise ConfgenError(f"{path}: {problem}")
    dump = split_nginx_dump(text)
    if dump:
        return _load_dump(dump, version)
    loader = _Loader(version, virtual={path: text}, base_dir=os.path.dirname(path))
    del text  # the loader drops the text once parsed
    return loader.load(path)


def _read_regular_file(path: str) -> tuple[str | None, str | None]:
    """(text, None) or (None, why not)."""
    data, problem = read_regular_file(path, MAX_FILE_BYTES)
    if problem:
        return None, problem
    # nginx reads bytes; a stray Latin-1 byte in a comment must not stop the lint.
    return data.decode("utf-8", errors="replace"), None


class _IncludedFile(NamedTuple):
    """Where build() reads one file an include names."""
    target: str
    line: int
    written: str
    column: int = 0


# _Loader.parsed marks a file whose directives are already in the tree (see build()).
_IN_TREE = object()


@dataclass(eq=False, repr=False)  # one per load, never compared or shown: not worth generating
class _Loader:
    version: tuple
    virtual: dict[str, str]      # files not read from disk: the main text, stdin, a dump's files
    base_dir: str                # what relative includes resolve against (nginx's conf prefix)
    disk: bool = True            # whether includes may read the filesystem (not for a dump)
    # Whether ``virtual`` holds every file nginx reads (a dump), so a missing include is an
    # error; not so for a container's files, where the image provides the rest.
    complete: bool = True
    complete_dirs: set[str] = field(default_factory=set)  # directories wholly in ``virtual``
    problems: list[ParseProblem] = field(default_factory=list)
    comments: dict[str, dict[int, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Includes of files the deployment provides (see include_targets), with their parents.
    unresolved: list[Directive] = field(default_factory=list)
    # Includes of nginx's stock tables (uwsgi_params, mime.types, ...) found nowhere: known contents.
    stock: list[Directive] = field(default_factory=list)
    # Each include that was read: (id of the block it stood in, the file read) -> the include.
    include_sites: dict[tuple[int, str], Directive] = field(default_factory=dict)
    # Missing includes (path, line, as written, resolved), judged when the tree is read.
    missing: list[tuple[str, int, str, str]] = field(default_factory=list)
    # The directories included files were found in.
    included_dirs: set[str] = field(default_factory=set)
    directive_count: int = 0
    parsed_count: int = 0
    too_many_files: bool = False
    # Per file read: its directives not yet placed, _IN_TREE, or None (a syntax error).
    parsed: dict[str, list | object | None] = field(default_factory=dict)
    # Per file included more than once: its directives as written, copied for each include.
    templates: dict[str, list | None] = field(default_factory=dict)
    identities: dict[str, str] = field(default_factory=dict)
    # Files that hold a template's markup: path -> (line, the marker) (see NginxConfig.unrendered).
    unrendered: dict[str, tuple[int, str]] = field(default_factory=dict)

    def load(self, main: str) -> NginxConfig:
        root = Directive("main", [], main, 0, None, Block())
        # The main file is never read again (an include of it is a cycle): its text goes as
        # soon as it is parsed, so that it is not held at the peak beside the tree.
        text, self.virtual[main] = self.virtual[main], ""
        top = self.parse_file(main, text)
        del text
        if top is not None:
            self.build(top, root, main)
        self.judge_missing()
        config = NginxConfig(root=root, main_file=main, nginx_version=self.version,
                             files=self.files, problems=self.problems, comments=self.comments,
                             notes=self.notes, unresolved_includes=self.unresolved,
                             stock_includes=self.stock, include_sites=self.include_sites,
                             unrendered=self.unrendered)
        config.context = infer_context(root.block)
        if config.context in SYNTHETIC_CHAIN:
            self.place_in_context(config)
        return config

    def place_in_context(self, config: NginxConfig) -> None:
        """A bare snippet (``location`` blocks, or directives that belong in a location) is
        placed in the blocks it would be included in, so every rule for that context sees it
        where nginx would: under synthetic ``http`` / ``server`` / ``location /`` blocks (at line
        1 of the snippet's file, where findings about them point). What those blocks hold besides the snippet is unknown, so they carry
        a synthetic unresolved include: rules about a missing or default value stay silent."""
        root = config.root
        chain: list[Directive] = []
        for name, args in SYNTHETIC_CHAIN[config.context]:
            block = Directive(name, list(args), config.main_file, 1, chain[-1] if chain else root, Block())
            if chain:
                chain[-1].block.append(block)
            chain.append(block)
        innermost = chain[-1]
        for child in root.block or ():
            child.parent = innermost
            innermost.block.append(child)
        root.block = Block([chain[0]])
        for (block, file), include in list(config.include_sites.items()):
            if block == id(root):
                include.parent = innermost
                config.include_sites[(id(innermost), file)] = config.include_sites.pop((block, file))
        self.unresolved.append(Directive("include", [SNIPPET_INCLUDER], config.main_file, 1,
                                         innermost, None))

    def problem(self, kind: str, path: str, line: int | None, message: str) -> None:
        self.problems.append(ParseProblem(kind, path, line, message))

    def parse_file(self, path: str, text: str) -> list[Directive] | None:
        """The top-level directives of one file, or None when it has a syntax error (recorded
        as a problem with its line)."""
        self.files.append(path)
        top, comments = self.parse(path, text)
        if comments:
            self.comments[path] = comments
        self.parsed[path] = top
        return top

    def parse(self, path: str, text: str) -> tuple[list[Directive] | None, dict[int, str]]:
        mark = template_mark(text)
        if mark is not None:
            if path not in self.unrendered:
                self.unrendered[path] = mark
                self.notes.append(f"{path}:{mark[0]}: a template ({mark[1]}), not nginx syntax until it is "
                                  f"rendered: not linted; lint the file it renders to")
            return None, {}
        try:
            parsed = parse_text(text, path, budget=MAX_DIRECTIVES - self.parsed_count)
        except SyntaxProblem as error:
            self.problem(error.kind, path, error.line, error.message)
            return None, {}
        self.parsed_count += parsed.count
        return parsed.directives, parsed.comments

    def read(self, path: str) -> tuple[str | None, str | None]:
        if path in self.virtual:
            return self.virtual[path], None
        if not self.disk:
            return None, "no such file (not in the nginx -T output)"
        return _read_regular_file(path)

    def wholly_given(self, directory: str) -> bool:
        """Whether every file in ``directory`` is in ``virtual`` (it lies in a mounted directory)."""
        directory = directory.rstrip("/")
        return any(directory == whole or directory.startswith(whole + "/") for whole in self.complete_dirs)

    def exists(self, path: str) -> bool:
        return path in self.virtual or (self.disk and os.path.lexists(path))

    def glob(self, pattern: str) -> list[str]:
        """Matches sorted as nginx's glob(3) sorts them (byte order in the C locale)."""
        found = {path for path in self.virtual if _glob_match(pattern, path)}
        if self.disk:
            found.update(glob.glob(pattern))
        return sorted(found)

    def deployed_path(self, written: str) -> str | None:
        """For an absolute include under nginx's conf directory (``/etc/nginx/conf.d/*.conf``) in
        a tree linted from elsewhere (a repository): the same path in the tree, under the main
        file's directory, when the tree ships it (the image copies it there); "" when it does
        not; None for any other include, or when the tree is that directory itself (this
        machine's own config)."""
        if not self.disk or not os.path.isabs(written):
            return None
        prefix = next((p for p in SYSTEM_CONF_DIRS if written.startswith(p + "/")), None)
        if prefix is None or not self.base_dir:
            return None
        base, root = _real(self.base_dir), _real(prefix)
        if base == root or base.startswith(root + os.sep):
            return None    # this machine's own config (or a file of it linted alone)
        candidate = self.tree_equivalent(written)
        if glob.has_magic(candidate):
            return candidate if os.path.isdir(os.path.dirname(candidate)) else ""
        return candidate if self.exists(candidate) else ""

    def tree_equivalent(self, written: str) -> str:
        """Where the tree keeps what nginx's conf directory holds at ``written``."""
        prefix = next(p for p in SYSTEM_CONF_DIRS if written.startswith(p + "/"))
        return os.path.join(self.base_dir, written[len(prefix) + 1:])

    def checkout_copy(self, written: str) -> str | None:
        """The tree's file an absolute include into the deployment's checkout of the repository
        means (``include /var/www/app/etc/nginx/locations.conf;`` for the tree's
        ``etc/nginx/locations.conf``): the end of the path, two parts at least, below the main
        file's directory or one of its nearest ancestors. None for a glob, a dump, or a path
        whose end the tree does not hold."""
        if not self.disk or not os.path.isabs(written) or glob.has_magic(written):
            return None
        return locate_container_path(written, [self.base_dir or "."], min_parts=2)

    def system_file(self, relative: str) -> str | None:
        if os.path.isabs(relative) or not self.disk:
            return None
        for conf_dir in SYSTEM_CONF_DIRS:
            candidate = os.path.join(conf_dir, relative)
            if os.path.isfile(candidate):
                return candidate
        return None

    def build(self, top: list[Directive], root: Directive, main: str) -> None:
        """Place the main file's directives under ``root``, following includes. Iterative (a
        frame per open block or included file), so neither deep nesting nor long include chains
        can exhaust Python's stack. An included file's directives are spliced where the include
        stood, with the includer's block as parent, as nginx does.

        The directives a file parsed into are placed themselves the first time (no copy: the
        peak memory of a big config is its tree, once); a file included again is parsed anew
        once, and that pristine parse is copied for every further include."""
        frames: list[tuple[Iterator, Directive, str, tuple[str, ...], bool]] = [
            (iter(top), root, main, (self.identity(main),), True)]
        while frames:
            pending, parent, path, chain, in_place = frames[-1]
            written = next(pending, None)
            if written is None:
                frames.pop()
                continue
            if isinstance(written, _IncludedFile):
                # Read when reached, so files are read (and problems found) in nginx's order: an
                # included file's own includes before the next file its includer's glob matched.
                included, first_use = self.read_included(written, path, chain)
                if written.target in self.unrendered:
                    # What the rendered file will set is unknown: rules about missing values stay
                    # silent where it is included.
                    self.unresolved.append(Directive("include", [written.written], path, written.line, parent, None))
                if included is not None:
                    frames.append((iter(included), parent, written.target,
                                   chain + (self.identity(written.target),), first_use))
                    self.include_sites.setdefault((id(parent), written.target), Directive(
                        "include", [written.written], path, written.line, parent, None, written.column))
                continue
            if written.name == "include" and written.block is None:
                frames.append((iter(self.include_targets(written, path, parent)), parent, path, chain, in_place))
                continue
            self.directive_count += 1
            if self.directive_count > MAX_DIRECTIVES:
                self.problem("too-large", path, written.line,
                             f"more than {MAX_DIRECTIVES} directives after includes; the rest were not read")
                return
            children = written.block
            if in_place:
                directive = written
                directive.parent = parent
                if children is not None:
                    directive.block = Block()
            else:
                # The args are shared with the template: directives are read, never changed,
                # after loading.
                directive = Directive(written.name, written.args, written.file, written.line, parent,
                                      None if children is None else Block(), written.column)
            parent.block.append(directive)
            if children is not None:
                frames.append((iter(children), directive, path, chain, in_place))

    def identity(self, path: str) -> str:
        """What makes two paths the same file for cycle detection (a snippet included by every
        location is resolved once)."""
        if path in self.virtual and not self.disk:
            return path
        if path not in self.identities:
            self.identities[path] = _real(path)
        return self.identities[path]

    def include_targets(self, include: Directive, path: str, parent: Directive | None = None) -> list[_IncludedFile]:
        """The files an include names, in nginx's order, as placeholders for build(). A file
        that is neither in the linted tree nor on this machine is a fact about the machine the
        config will run on (a server-local ``snippets/ssl-site.conf``, a file the container
        writes under /run), whether written relative or absolute: one note, and a record of the
        block it stood in (rules about missing values stay silent there). So is one under nginx's
        conf directory (``/etc/nginx/conf.d/*.conf``) when the tree is linted from elsewhere: the
        tree's copy is read (the same path under the main file's directory, what an image copies
        there), and this machine's own files are never taken for the deployment's (nginx's stock
        tables excepted). It is an error only
        where the tree shows it should be there (see expected_in_tree), judged once the whole
        tree is read. (``include-not-found``'s ``strict`` option reports the others too.)"""
        line = include.line
        if len(include.args) != 1:
            self.problem("syntax-error", path, line, 'invalid number of arguments in "include" directive')
            return []
        written = include.args[0]
        # nginx resolves relative includes against its conf prefix (the main file's directory),
        # not against the including file.
        pattern = written if os.path.isabs(written) else os.path.join(self.base_dir, written)
        deployed = self.deployed_path(written)
        if deployed is not None and os.path.basename(written) not in STOCK_FILES:
            # The deployment's /etc/nginx is the tree's copy; this machine's files there are not it.
            pattern = deployed or self.tree_equivalent(written)
            if not deployed:
                self.unresolved.append(Directive(include.name, include.args, include.file, include.line, parent, None))
                self.missing.append((path, line, written, pattern))
                return []
        if glob.has_magic(pattern):
            targets = self.glob(pattern)  # a glob that matches nothing is fine for nginx
            if not self.disk and not self.complete and not self.wholly_given(os.path.dirname(pattern)):
                # The image's own files in that directory match it too: what they set is unknown.
                self.unresolved.append(Directive(include.name, include.args, include.file, include.line, parent, None))
                self.notes.append(f'{path}:{line}: include "{written}" may also match files of the image, which '
                                  f'the manifests do not show; rules about missing values stay silent where it applies')
            self.included_dirs.update(_real(os.path.dirname(target) or ".") for target in targets)
            return [_IncludedFile(target, line, written, include.column) for target in targets]
        if self.exists(pattern):
            self.included_dirs.add(_real(os.path.dirname(pattern) or "."))
            return [_IncludedFile(pattern, line, written, include.column)]
        found = self.system_file(written)
        if found:
            return [_IncludedFile(found, line, written, include.column)]
        checkout = self.checkout_copy(written)
        if checkout:
            self.notes.append(f'{path}:{line}: include "{written}" read from {checkout}, the tree\'s file at the '
                              f'end of that path (the deployment includes it from its checkout of the tree)')
            self.included_dirs.add(_real(os.path.dirname(checkout) or "."))
            return [_IncludedFile(checkout, line, written, include.column)]
        if os.path.basename(pattern) in STOCK_FILES:
            # nginx's own type and parameter tables, as nginx ships them: where one stood is kept.
            self.stock.append(Directive(include.name, include.args, include.file, include.line, parent, None))
            return []
        # Whatever the file would set is unknown here, error or not.
        self.unresolved.append(Directive(include.name, include.args, include.file, include.line, parent, None))
        self.missing.append((path, line, written, pattern))   # judged once every include is read
        return []

    def judge_missing(self) -> None:
        """Each missing include, once the whole tree is read: an error where the tree shows the
        file should be there, else the note that the deployment provides it."""
        for path, line, written, pattern in self.missing:
            why = self.expected_in_tree(pattern)
            if why:
                self.problem("include-not-found", path, line, f'include "{written}": no such file ({pattern}), {why}')
            else:
                where = "is not in the manifests" if not self.disk else "is not in the linted tree"
                self.notes.append(f'{path}:{line}: include "{written}" {where}: taken as provided by '
                                  f'the deployment; rules about missing values stay silent where it applies'
                                  + _stock_look_alike(written))

    def expected_in_tree(self, pattern: str) -> str | None:
        """Why a missing file should have been in the linted tree, or None: always in a dump;
        else when its directory exists below the main file's (the tree ships ``conf.d/`` but not
        this file in it), or is the main file's own directory and the config includes other
        files from it. That directory alone shows nothing: on the server it is /etc/nginx, where
        local files live beside nginx.conf."""
        if not self.disk:
            return "and the nginx -T output holds every file nginx read" if self.complete else None
        tree = _real(self.base_dir or os.getcwd())
        directory = _real(os.path.dirname(pattern) or ".")
        if directory == tree:
            return "beside the main file, where the tree keeps the other files it includes" \
                if tree in self.included_dirs else None
        if os.path.commonpath([tree, directory]) == tree and os.path.isdir(directory):
            return "in a directory the linted tree ships"
        return None

    def read_included(self, include: _IncludedFile, path: str, chain: tuple[str, ...]
                      ) -> tuple[list[Directive] | None, bool]:
        """(directives of one included file, whether they are placed themselves), or
        (None, False) with a problem when it is not read."""
        target, line, written = include.target, include.line, include.written
        if self.identity(target) in chain:
            self.problem("include-cycle", path, line,
                         f'include "{written}": {target} includes itself through {len(chain)} file(s); not followed')
            return None, False
        if target in self.parsed:
            if self.parsed[target] is not _IN_TREE:
                return self.take(target), True
            if target not in self.templates:
                self.templates[target] = self.reread(target, path, include)
            return self.templates[target], False
        if len(self.files) >= MAX_FILES:
            if not self.too_many_files:
                self.too_many_files = True
                self.problem("too-large", path, line, f"more than {MAX_FILES} files; {target} and the rest were not read")
            return None, False
        text, problem = self.read(target)
        if problem:
            self.unreadable(include, path, problem)
            return None, False
        self.parse_file(target, text)
        return self.take(target), True

    def take(self, target: str) -> list[Directive] | None:
        """A file's parsed directives, to be placed in the tree (from now on it is copied)."""
        top = self.parsed[target]
        if top is not None:
            self.parsed[target] = _IN_TREE
        return top

    def reread(self, target: str, path: str, include: _IncludedFile) -> list[Directive] | None:
        """A file included again: its directives as written (the first parse is in the tree)."""
        text, problem = self.read(target)
        if problem:
            self.unreadable(include, path, problem)
            return None
        return self.parse(target, text)[0]

    def unreadable(self, include: _IncludedFile, path: str, problem: str) -> None:
        kind = "include-not-found" if problem.startswith("no such file") else "include-unreadable"
        self.problem(kind, path, include.line, f'include "{include.written}": {include.target}: {problem}')


def _stock_look_alike(written: str) -> str:
    """`` (nginx ships uwsgi_params, not uswgi_params: misspelled?)`` for a missing file named
    almost like one of nginx's stock files; else nothing."""
    import difflib

    name = os.path.basename(written)
    if name in DEBIAN_SNIPPETS:
        return ""
    close = difflib.get_close_matches(name, sorted(STOCK_FILES), n=1, cutoff=0.8)
    return f" (nginx ships {close[0]}, not {name}: misspelled?)" if close and close[0] != name else ""


def _glob_match(pattern: str, path: str) -> bool:
    """glob(3) semantics for a dump's paths: wildcards never cross a ``/``."""
    pattern_parts, path_parts = pattern.split("/"), path.split("/")
    return len(pattern_parts) == len(path_parts) and all(
        fnmatch.fnmatchcase(part, wanted) for part, wanted in zip(path_parts, pattern_parts))


# ---------------------------------------------------------------------------------------------
# Lexing and statements


class SyntaxProblem(Exception):
    def __init__(self, message: str, line: int | None, kind: str = "syntax-error"):
        super().__init__(message)
        self.message, self.line, self.kind = message, line, kind


class ParsedFile(NamedTuple):
    directives: list[Directive]   # the top-level ones, naming the file, without a parent yet
    comments: dict[int, str]      # line -> comment text without "#"
    count: int                    # directives at every depth


def parse_text(text: str, path: str, *, budget: int = MAX_DIRECTIVES) -> ParsedFile:
    """One file's text, parsed. SyntaxProblem with nginx's message and line when it does not
    parse, or (kind "too-large") when it holds more than ``budget`` directives: the cap applies
    while parsing, so an enormous file never becomes an enormous tree."""
    eof_line = text.count("\n") + 1  # the line nginx names for "unexpected end of file"
    tokens = lex(text)
    try:
        return parse_tokens(tokens, path, eof_line=eof_line, budget=budget, text=text)
    finally:
        tokens.close()  # an early stop must not leave the lexer (and its lock) suspended


def lex(text: str, start: int = 0) -> Generator[tuple[str, int, bool, int, int], None, None]:
    """crossplane's tokens for a text, with Lua blocks taken whole, one at a time (neither the
    tokens of a big file nor a copy of its text are held at once), each with where it is:
    ``(token, line, quoted, begin, end)``, offsets into ``text``. From ``start`` (a statement's
    first character), lines count from 1 there.

    crossplane gives tokens and lines, not offsets, but the offsets follow from its rules: a
    token starts at the first non-blank character after the previous one ends (blanks and the
    text of comments are the only things it skips, and comments are tokens too); an unquoted
    token is its raw text (escapes kept as written), so it ends ``len(token)`` later; a quoted
    one lost its two quotes and the backslash of each escaped quote (the only way its quote
    character gets inside); a Lua body lost its braces and is followed by a ``;`` that is not
    in the text (an empty span where the body ends)."""
    search, size = _NON_BLANK.search, len(text)
    cursor, after_lua = start, False
    with _lua_lexers():
        for token, line, quoted in crossplane.lexer._lex_file_object(_runs(text, start)):
            found = search(text, cursor)
            begin = found.start() if found is not None else size
            if quoted:
                opener = text[begin] if begin < size else ""
                if opener == "{":
                    end, after_lua = begin + len(token) + 2, True
                else:
                    end = begin + len(token) + token.count(opener) + 2
            elif after_lua and token == ";":
                begin = end = cursor
                after_lua = False
            else:
                # (min: a backslash that ends the text escapes the newline the sentinel adds)
                end = min(begin + len(token), size)
            cursor = end
            if token[:1] == "#" and not quoted and text.startswith("\\\n", end):
                cursor += 2  # an escaped newline ends a comment and is taken with it
            yield token, line, quoted, begin, end


_NON_BLANK = re.compile(r"\S")
_SENTINEL = "\n" + _EOF + "\n"

# What crossplane's lexer is fed instead of single characters: runs it treats exactly as it treats
# their characters one by one, so it loops once per run (on a 144k-line config: crossplane's lexer
# 2.82 s -> 0.78 s, lex() with its offsets 3.32 s -> 1.27 s, the same tokens). It tests each item
# with ``isspace()``, ``== '#'``, quote and ``{ } ;`` comparisons, ``endswith('\n')`` (its line
# count) and ``token[-1]``, and joins a backslash with the item after it. So: an escape pair as one
# item (what it would make of it); a run of blanks without a newline (``\s`` is exactly
# ``str.isspace``), but the first blank after other text or an escape pair alone (a ``${...`` that
# ends at a blank takes that one blank into its token; cutting a run where it need not be cut
# changes nothing); a newline alone (one line each, and a comment ends before it, as its trailing
# blanks stay in it); a run of characters that are none of blank, ``{ } ; " ' #`` or backslash;
# any other alone.
# tests/test_nginx_lexer.py checks the tokens against crossplane fed one character at a time.
_RUN = re.compile(r"""\\.|(?:(?<=\S)|(?<=\\\s))[^\S\n]|[^\S\n]+|\n|[^\s{};"'#\\]+|.""", re.DOTALL)
_RUNS_PER_CALL = 65536  # characters cut into runs at once (at a line end): a bounded list


def _runs(text: str, start: int) -> Iterator[list[str]]:
    """``text[start:]`` then the end sentinel, as crossplane-equivalent runs, a chunk at a time
    (never a copy of the whole text). Chunks end just after a newline, so no escape pair is cut."""
    size = len(text)
    while start < size:
        end = text.find("\n", start + _RUNS_PER_CALL)
        end = size if end < 0 else end + 1
        yield _RUN.findall(text, start, end)
        start = end
    yield _RUN.findall(_SENTINEL)


def parse_tokens(tokens: Iterable[tuple[str, int, bool, int, int]], path: str, *, eof_line: int | None = None,
                 budget: int = MAX_DIRECTIVES, text: str = "") -> ParsedFile:
    """Tokens -> the file's directives (blocks hold their children) and comments. Iterative, so deep nesting cannot exhaust the stack; no directive table, so newer
    directives (http2, quic, keepalive_time) are just directives, and a statement is never
    dropped for its context or argument count."""
    top: list[Directive] = []
    stack = [top]
    comments: dict[int, str] = {}
    tokens = iter(tokens)
    last_line = 1
    finished = False
    count = 0
    scanned = line_start = 0

    def end_of_file(expecting: str) -> SyntaxProblem:
        # Without the sentinel the lexer stopped early: a quote or Lua block swallowed the rest.
        hint = "" if finished else " (is a quote or a Lua block not closed?)"
        return SyntaxProblem(f"unexpected end of file, expecting {expecting}{hint}", eof_line or last_line)

    for token, line, quoted, begin, _ in tokens:
        if token == _EOF and not quoted:
            finished = True
            break
        last_line = line
        if not quoted and token == "}":
            if len(stack) == 1:
                raise SyntaxProblem('unexpected "}"', line)
            stack.pop()
            continue
        if not quoted and token.startswith("#"):
            comments[line] = token[1:]
            continue
        if not quoted and token in ("{", ";"):
            raise SyntaxProblem(f'unexpected "{token}"', line)
        args: list[str] = []
        terminator = None
        for argument, arg_line, arg_quoted, _, _ in tokens:
            if argument == _EOF and not arg_quoted:
                finished = True
                break
            last_line = arg_line
            if not arg_quoted and argument in ("{", ";", "}"):
                terminator = (argument, arg_line)
                break
            if not arg_quoted and argument.startswith("#"):
                comments[arg_line] = argument[1:]
            else:
                # Configs repeat the same short arguments ($host, on, 1.1) thousands of times.
                args.append(sys.intern(argument) if len(argument) <= _INTERN_MAX else argument)
        if terminator is None:
            raise end_of_file('";" or "}"')
        if terminator[0] == "}":
            # nginx names the "}" line; the hint says which directive lost its ";".
            raise SyntaxProblem(f'unexpected "}}" (no ";" after "{token}" on line {line})', terminator[1])
        count += 1
        if count > budget:
            raise SyntaxProblem(f"more than {MAX_DIRECTIVES} directives in all; this file was not read", line, "too-large")
        if token == "if":
            _strip_if_parentheses(args)
        # An exact-size copy: a list grown by append() keeps spare room.
        # The column, not the offset: nearly always a small int (shared, no memory of its own).
        # The line's start is found from the last one (a scan back to it from each directive
        # would be quadratic on a long line). crossplane counts an escaped newline that starts
        # a name before it places the name, so its line is not the name's: no column then.
        newline = text.rfind("\n", scanned, begin)
        if newline >= 0:
            line_start = newline + 1
        scanned = begin
        column = begin - line_start + 1 if text and not token.startswith("\\\n") else 0
        directive = Directive(sys.intern(token), args[:], path, line, None,
                              Block() if terminator[0] == "{" else None, column)
        stack[-1].append(directive)
        if directive.block is not None:
            stack.append(directive.block)
    if not finished:
        raise end_of_file('";" or "}"')
    if len(stack) > 1:
        raise end_of_file('"}"')
    return ParsedFile(top, comments, count)


def _strip_if_parentheses(args: list[str]) -> None:
    """``if ($a = b)`` lexes as "($a", "=", "b)": drop the parentheses as nginx does."""
    if args and args[0].startswith("(") and args[-1].endswith(")"):
        args[0] = args[0][1:].lstrip()
        args[-1] = args[-1][:-1].rstrip()
        args[:] = [a for i, a in enumerate(args) if a or 0 < i < len(args) - 1]


_LUA_LOCK = threading.Lock()


@contextlib.contextmanager
def _lua_lexers():
    """crossplane looks its external lexers up in a module-level table; ours are put there only
    while this module lexes, so crossplane behaves as shipped for anyone else in the process."""
    with _LUA_LOCK:
        table = crossplane.lexer.EXTERNAL_LEXERS
        saved = dict(table)
        table.update({name: _lex_lua_block for name in LUA_BLOCK_DIRECTIVES})
        try:
            yield
        finally:
            table.clear()
            table.update(saved)


class _Chars:
    """crossplane's (run, line) stream (see _runs) as single characters (an escape pair stays one
    item, as crossplane makes it), with push-back, for looking ahead in Lua."""

    def __init__(self, runs):
        self.runs = runs
        self.back: list[tuple[str, int]] = []

    def next(self) -> tuple[str, int] | None:
        if self.back:
            return self.back.pop()
        item = next(self.runs, None)
        if item is None or len(item[0]) == 1 or item[0][0] == "\\":
            return item
        run, line = item  # no newline inside a run of several characters: one line for all
        self.back.extend((char, line) for char in reversed(run[1:]))
        return run[0], line

    def push(self, item: tuple[str, int]) -> None:
        self.back.append(item)


def _lex_lua_block(chars, directive: str):
    """Tokens for a ``*_by_lua_block`` body: the Lua code as one quoted argument, then ";".

    Braces count only outside Lua strings ('...', "..."), long brackets ([[...]], [==[...]==])
    and comments (-- to the end of the line, --[[...]]), which is where OpenResty counts them.
    crossplane hands escapes over as one item (``\\'``), so an escaped quote never ends a string.
    """
    stream = _Chars(chars)
    item = stream.next()
    if directive == "set_by_lua_block":  # the one with an argument: the variable it sets
        while item is not None and item[0].isspace():
            item = stream.next()
        variable, line = "", item[1] if item else 0
        while item is not None and not item[0].isspace() and item[0] != "{":
            variable += item[0]
            item = stream.next()
        yield (variable, line, False)
    while item is not None and item[0].isspace():
        item = stream.next()
    if item is None:
        return  # end of file: the parser reports it
    if item[0] != "{":
        raise SyntaxProblem(f'"{directive}" must be followed by a Lua block in "{{ }}"', item[1])
    start_line, body, depth = item[1], [], 1
    while True:
        item = stream.next()
        if item is None:
            raise SyntaxProblem(f'unexpected end of file in the Lua block of "{directive}"', start_line)
        char, line = item
        if char == "-":
            following = stream.next()
            if following and following[0] == "-":
                body.append("--")
                _consume_lua_comment(stream, body)
                continue
            if following:
                stream.push(following)
        elif char == "[":
            opening: list[str] = []
            level = _long_bracket_level(stream, opening)
            body.append("[")
            body.extend(opening)
            if level is not None:
                _consume_long_bracket(stream, body, level)
            continue
        elif char in ("'", '"'):
            body.append(char)
            _consume_lua_string(stream, body, char)
            continue
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                yield ("".join(body), start_line, True)
                yield (";", line, False)
                return
        body.append(char)


def _long_bracket_level(stream: _Chars, consumed: list[str]) -> int | None:
    """After a "[": the level of a long bracket ("[[" 0, "[==[" 2), or None (chars pushed back)."""
    seen = []
    item = stream.next()
    while item is not None and item[0] == "=":
        seen.append(item)
        item = stream.next()
    if item is not None and item[0] == "[":
        consumed.extend("=" * len(seen) + "[")
        return len(seen)
    if item is not None:
        stream.push(item)
    for pushed in reversed(seen):
        stream.push(pushed)
    return None


def _consume_long_bracket(stream: _Chars, body: list[str], level: int) -> None:
    closing = "]" + "=" * level + "]"
    tail = ""
    while (item := stream.next()) is not None:
        body.append(item[0])
        tail = (tail + item[0])[-len(closing):]
        if tail == closing:
            return


def _consume_lua_comment(stream: _Chars, body: list[str]) -> None:
    item = stream.next()
    if item is not None and item[0] == "[":
        prefix: list[str] = []
        level = _long_bracket_level(stream, prefix)
        body.append("[")
        body.extend(prefix)
        if level is not None:
            _consume_long_bracket(stream, body, level)
            return
        item = stream.next()
    while item is not None:
        body.append(item[0])
        if item[0].endswith("\n"):
            return
        item = stream.next()


def _consume_lua_string(stream: _Chars, body: list[str], quote: str) -> None:
    while (item := stream.next()) is not None:
        body.append(item[0])
        if item[0] == quote or item[0] == "\n":
            return
