"""Reading gunicorn's configuration statically: ``gunicorn.conf.py`` through ``ast`` (never
imported, never run) and gunicorn command lines (Procfile, systemd ExecStart, shell scripts).

What cannot be known without running code is ``UNKNOWN``; rules that need such a value stay
silent rather than guess. gunicorn's own defaults fill every setting the file does not set, and
values are converted and checked the way gunicorn's validators do it when it loads the file.
"""

from __future__ import annotations

import ast
import bisect
import ipaddress
import operator
import os
import re
import string
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from confgen.errors import ConfgenError
from confgen.files import locate_container_path
from confgen.shell import COMPUTED, SHELL_OPERATORS, assign, assignment, expand, set_variables, shell_words


class _Unknown:
    """A value that depends on the machine, the environment or code that only runs on the server."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()

MAX_FILE_BYTES = 1024 * 1024

# Every setting of gunicorn 27 (checked against the installed gunicorn by the tests): the kind of
# value its validator accepts, how its command-line option takes a value, and its flags. The
# reader needs all of them, not only those rules use: a file variable is a setting only when
# gunicorn knows the name, and skipping an option correctly needs to know whether it takes a value.
#   kinds:   int (validate_pos_int), bool, str, list (of str), dict, addrs (comma-separated IPs),
#            class (worker/logger class), hook (a callable), other (validated some other way)
#   actions: - (takes a value), flag (store_true), const (store_const), append (repeatable),
#            optional (the value may be omitted)
_SETTINGS_TABLE = """
config                              str    -         -c --config
wsgi_app                            str    -
bind                                list   append    -b --bind
backlog                             int    -         --backlog
workers                             int    -         -w --workers
worker_class                        class  -         -k --worker-class
threads                             int    -         --threads
worker_connections                  int    -         --worker-connections
max_requests                        int    -         --max-requests
max_requests_jitter                 int    -         --max-requests-jitter
timeout                             int    -         -t --timeout
graceful_timeout                    int    -         --graceful-timeout
keepalive                           int    -         --keep-alive
limit_request_line                  int    -         --limit-request-line
limit_request_fields                int    -         --limit-request-fields
limit_request_field_size            int    -         --limit-request-field_size
reload                              bool   flag      --reload
reload_engine                       other  -         --reload-engine
reload_extra_files                  other  append    --reload-extra-file
spew                                bool   flag      --spew
check_config                        bool   flag      --check-config
print_config                        bool   flag      --print-config
preload_app                         bool   flag      --preload
sendfile                            bool   const     --no-sendfile
reuse_port                          bool   flag      --reuse-port
chdir                               str    -         --chdir
daemon                              bool   flag      -D --daemon
raw_env                             list   append    -e --env
pidfile                             str    -         -p --pid
worker_tmp_dir                      str    -         --worker-tmp-dir
user                                other  -         -u --user
group                               other  -         -g --group
umask                               int    -         -m --umask
initgroups                          bool   flag      --initgroups
tmp_upload_dir                      str    -
secure_scheme_headers               dict   -
forwarded_allow_ips                 addrs  -         --forwarded-allow-ips
accesslog                           str    -         --access-logfile
disable_redirect_access_to_syslog   bool   flag      --disable-redirect-access-to-syslog
access_log_format                   str    -         --access-logformat
errorlog                            str    -         --error-logfile --log-file
loglevel                            str    -         --log-level
capture_output                      bool   flag      --capture-output
logger_class                        class  -         --logger-class
logconfig                           str    -         --log-config
logconfig_dict                      dict   -
logconfig_json                      str    -         --log-config-json
syslog_addr                         str    -         --log-syslog-to
syslog                              bool   flag      --log-syslog
syslog_prefix                       str    -         --log-syslog-prefix
syslog_facility                     str    -         --log-syslog-facility
enable_stdio_inheritance            bool   flag      -R --enable-stdio-inheritance
statsd_host                         other  -         --statsd-host
dogstatsd_tags                      str    -         --dogstatsd-tags
statsd_prefix                       str    -         --statsd-prefix
enable_backlog_metric               bool   flag      --enable-backlog-metric
proc_name                           str    -         -n --name
default_proc_name                   str    -
pythonpath                          str    -         --pythonpath
paste                               str    -         --paste --paster
on_starting                         hook   -
on_reload                           hook   -
when_ready                          hook   -
pre_fork                            hook   -
post_fork                           hook   -
post_worker_init                    hook   -
worker_int                          hook   -
worker_abort                        hook   -
pre_exec                            hook   -
pre_request                         hook   -
post_request                        hook   -
child_exit                          hook   -
worker_exit                         hook   -
nworkers_changed                    hook   -
on_exit                             hook   -
ssl_context                         hook   -
proxy_protocol                      other  optional  --proxy-protocol
proxy_allow_ips                     addrs  -         --proxy-allow-from
protocol                            str    -         --protocol
uwsgi_allow_ips                     addrs  -         --uwsgi-allow-from
keyfile                             str    -         --keyfile
certfile                            str    -         --certfile
ssl_version                         other  -         --ssl-version
cert_reqs                           int    -         --cert-reqs
ca_certs                            str    -         --ca-certs
suppress_ragged_eofs                bool   flag      --suppress-ragged-eofs
do_handshake_on_connect             bool   flag      --do-handshake-on-connect
ciphers                             str    -         --ciphers
http_protocols                      other  -         --http-protocols
http2_cleartext                     other  -         --http2-cleartext
http2_max_concurrent_streams        other  -         --http2-max-concurrent-streams
http2_initial_window_size           other  -         --http2-initial-window-size
http2_max_frame_size                other  -         --http2-max-frame-size
http2_max_header_list_size          int    -         --http2-max-header-list-size
raw_paste_global_conf               list   append    --paste-global
permit_obsolete_folding             bool   flag      --permit-obsolete-folding
strip_header_spaces                 bool   flag      --strip-header-spaces
permit_unconventional_http_method   bool   flag      --permit-unconventional-http-method
permit_unconventional_http_version  bool   flag      --permit-unconventional-http-version
casefold_http_method                bool   flag      --casefold-http-method
forwarder_headers                   other  -         --forwarder-headers
header_map                          other  -         --header-map
asgi_loop                           other  -         --asgi-loop
asgi_lifespan                       other  -         --asgi-lifespan
asgi_disconnect_grace_period        int    -         --asgi-disconnect-grace-period
websocket_max_message_size          int    -         --websocket-max-message-size
http_parser                         other  -         --http-parser
root_path                           str    -         --root-path
dirty_apps                          list   append    --dirty-app
dirty_workers                       int    -         --dirty-workers
dirty_timeout                       int    -         --dirty-timeout
dirty_threads                       int    -         --dirty-threads
dirty_graceful_timeout              int    -         --dirty-graceful-timeout
on_dirty_starting                   hook   -
dirty_post_fork                     hook   -
dirty_worker_init                   hook   -
dirty_worker_exit                   hook   -
control_socket                      str    -         --control-socket
control_socket_mode                 int    -         --control-socket-mode
control_socket_disable              bool   flag      --no-control-socket
"""


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: str
    action: str
    flags: tuple[str, ...]


SETTINGS: dict[str, SettingSpec] = {
    row[0]: SettingSpec(row[0], row[1], row[2], tuple(row[3:]))
    for row in (line.split() for line in _SETTINGS_TABLE.strip().splitlines())
}
_OPTIONS: dict[str, SettingSpec] = {flag: spec for spec in SETTINGS.values() for flag in spec.flags}
_LONG_OPTIONS = sorted(flag for flag in _OPTIONS if flag.startswith("--"))
# What a valueless option stores: store_true stores True, --no-sendfile stores False.
_FLAG_VALUES = {"flag": True, "const": False}
# What an option whose value may be omitted stores without one (its argparse const).
_OPTIONAL_VALUES = {"proxy_protocol": "auto"}
# Options whose command-line type is int(x, 0), so 0o22 and 0x1ff are accepted there too.
_AUTO_INT_OPTIONS = {"umask", "control_socket_mode"}

# gunicorn's defaults for the settings whose default does not depend on the machine (chdir, user,
# group, control_socket and the hooks do): checked against the installed gunicorn by the tests.
DEFAULTS: dict[str, Any] = {
    "wsgi_app": None,
    "bind": ["127.0.0.1:8000"],
    "backlog": 2048,
    "workers": 1,
    "worker_class": "sync",
    "threads": 1,
    "worker_connections": 1000,
    "max_requests": 0,
    "max_requests_jitter": 0,
    "timeout": 30,
    "graceful_timeout": 30,
    "keepalive": 2,
    "limit_request_line": 4094,
    "limit_request_fields": 100,
    "limit_request_field_size": 8190,
    "reload": False,
    "preload_app": False,
    "reuse_port": False,
    "daemon": False,
    "raw_env": [],
    "pidfile": None,
    "worker_tmp_dir": None,
    "umask": 0,
    "secure_scheme_headers": {"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"},
    "forwarded_allow_ips": "127.0.0.1,::1",
    "accesslog": None,
    "errorlog": "-",
    "loglevel": "info",
    "capture_output": False,
    "proc_name": None,
    "proxy_protocol": "off",
    "proxy_allow_ips": "127.0.0.1,::1",
    "keyfile": None,
    "certfile": None,
    "http_protocols": "h1",
    "asgi_loop": "auto",
    "asgi_lifespan": "auto",
    "root_path": "",
}
# Defaults gunicorn takes from the server's environment when gunicorn.config is imported.
_DEFAULT_VARIABLES = {"workers": "WEB_CONCURRENCY", "forwarded_allow_ips": "FORWARDED_ALLOW_IPS", "bind": "PORT"}
_DEFAULT_NOTES = {
    "workers": "gunicorn's default unless $WEB_CONCURRENCY is set where it runs",
    "forwarded_allow_ips": "gunicorn's default unless $FORWARDED_ALLOW_IPS is set where it runs",
}

_WORKER_CLASSES = {
    "sync": "sync", "gunicorn.workers.sync.syncworker": "sync",
    "gthread": "gthread", "gunicorn.workers.gthread.threadworker": "gthread",
    "asgi": "asgi", "gunicorn.workers.gasgi.asgiworker": "asgi",
    "uvicorn.workers.uvicornworker": "uvicorn", "uvicorn.workers.uvicornh11worker": "uvicorn",
    "uvicorn_worker.uvicornworker": "uvicorn", "uvicorn_worker.uvicornh11worker": "uvicorn",
    "gevent": "gevent", "gevent_wsgi": "gevent", "gevent_pywsgi": "gevent",
    "gunicorn.workers.ggevent.geventworker": "gevent", "gunicorn.workers.ggevent.geventpywsgiworker": "gevent",
    "eventlet": "eventlet", "gunicorn.workers.geventlet.eventletworker": "eventlet",
    "tornado": "tornado", "gunicorn.workers.gtornado.tornadoworker": "tornado",
}

# Bounds on what the evaluator computes, so arithmetic in a hostile file cannot take all memory or
# time: ``(1,) * 10**9`` or ``x = x ** 64`` repeated would otherwise run for minutes or exhaust RAM.
# Real settings are small numbers and short strings; anything past these is UNKNOWN.
MAX_VALUE_ITEMS = 100_000         # characters or items in one computed str, bytes, list or tuple
MAX_TOTAL_ITEMS = 5_000_000       # all computed strings and sequences of one file together
MAX_INT_BITS = 1024
_SEQUENCES = (str, bytes, list, tuple)
_SCALARS = (str, int, float, bool, type(None))
# A %-format or str.format width or precision that would pad the result to megabytes.
_WIDE_FORMAT = re.compile(r"%[^a-zA-Z%]*(?:\*|\d{6,})")
_WIDE_FORMAT_SPEC = re.compile(r"\d{6,}|[{}]")

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
            ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}

_CPU_COUNT = {"multiprocessing.cpu_count", "os.cpu_count", "os.process_cpu_count", "os.sched_getaffinity",
              "psutil.cpu_count"}
_ENV_LOOKUPS = {"os.environ.get", "os.getenv", "os.environ.setdefault"}
_CONVERSIONS: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "str": str, "bool": bool, "abs": abs}
_STR_METHODS = {"strip", "lstrip", "rstrip", "lower", "upper", "split", "join", "format"}
# Names through which code can bind any module variable: after them every variable may have changed.
_DYNAMIC_NAMES = {"exec", "eval", "globals", "vars", "locals", "setattr", "execfile"}
_BUSY_LINE = re.compile(r"[(@]|:=|\b(?:" + "|".join(_DYNAMIC_NAMES) + r"|__dict__|modules)\b")


@dataclass(frozen=True)
class Setting:
    name: str
    value: Any
    source: str  # "file" | "cli" | "default"
    file: str | None = None
    line: int | None = None
    note: str | None = None
    # Where its value is written, for an edit: (start, end, text) in the file's text, when it is
    # a literal assigned at the top level of a gunicorn.conf.py; None when computed or elsewhere.
    span: tuple[int, int, str] | None = None


@dataclass
class GunicornConfig:
    path: str | None = None
    settings: dict[str, Setting] = field(default_factory=dict)
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    app: str | None = None  # the module:app named on a command line
    # Why every setting not set explicitly is UNKNOWN rather than gunicorn's default: the file did
    # `from x import *` or `exec(...)`, or the command line names a config file through a variable.
    unset_unknown: str | None = None
    # The file the command line came from (a confgen.gunicorn.sources.CommandSource), so a
    # fix edits the flag where it is written.
    command: Any = None
    # Why the file could not be read statically at all (a syntax error): then no setting is
    # known, not even a default, and the rules that need the app side stay silent.
    unreadable: str | None = None
    # Where a setting the file does not assign is added: the offset of the end of the line of
    # its last top-level setting assignment (None: at the end of the file).
    append_at: int | None = None
    # Why a fix cannot edit the file (it is a value inside a manifest); None: it can.
    not_editable: str | None = None

    def setting(self, name: str) -> Setting:
        if self.unreadable is not None and name in SETTINGS:
            return Setting(name, UNKNOWN, "default", note=self.unreadable)
        if name in self.settings:
            return self.settings[name]
        if self.unset_unknown and name in SETTINGS:
            return Setting(name, UNKNOWN, "default", note=self.unset_unknown)
        variable = _DEFAULT_VARIABLES.get(name)
        env_files = getattr(self.command, "env_files", None)
        env = getattr(self.command, "env", None) or {}
        if name == "bind" and "PORT" in env:
            # gunicorn's bind default is 0.0.0.0:$PORT when PORT is set (gunicorn/config.py, Bind).
            port = env["PORT"]
            return Setting(name, UNKNOWN if port is None or not str(port).isdigit() else [f"0.0.0.0:{port}"],
                           "default", note=f"gunicorn's default with $PORT set by {self.command.label}")
        if variable is not None and env_files:
            return Setting(name, UNKNOWN, "default", note=f"gunicorn's default unless ${variable} is set in "
                                                          f"{', '.join(env_files)}, which is not read here")
        return Setting(name, DEFAULTS.get(name), "default", note=_DEFAULT_NOTES.get(name))

    def get(self, name: str) -> Any:
        return self.setting(name).value

    def computed(self, label: str) -> list[str]:
        """A note for each setting a command line gives a value the shell computes when it runs
        (``--workers $((2*$(nproc)+1))``): unknown here, so the rules that need it say nothing."""
        where = self.command.label if self.command is not None else label
        return [f"{where}: {setting.name} is unknown ({setting.note}): the rules that need it are skipped"
                for setting in self.settings.values()
                if setting.value is UNKNOWN and setting.source == "cli" and COMPUTED in (setting.note or "")]

    @property
    def worker_class(self) -> Any:
        """Normalized: sync, gthread, asgi, uvicorn, gevent, eventlet, tornado, or the dotted
        path. gunicorn runs a sync worker (``sync`` or a class named ``...SyncWorker``) with
        threads > 1 as gthread."""
        raw = self.get("worker_class")
        if not isinstance(raw, str):
            return UNKNOWN
        raw = raw.strip()
        key = raw.lower()
        normal = _WORKER_CLASSES.get(key.removeprefix("egg:gunicorn#"), raw)
        if raw == "sync" or raw.endswith("SyncWorker"):
            threads = self.get("threads")
            if not isinstance(threads, int):
                return UNKNOWN
            if threads > 1:
                return "gthread"
        return normal

    @property
    def keeps_alive(self) -> Any:
        """Whether the worker keeps connections open between requests (sync never does)."""
        worker = self.worker_class
        return UNKNOWN if worker is UNKNOWN else worker != "sync"

    @property
    def binds(self) -> Any:
        value = self.get("bind")
        if isinstance(value, str):
            return [value.strip()]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return [v.strip() for v in value]
        return UNKNOWN

    @property
    def binds_unix_socket(self) -> Any:
        binds = self.binds
        if binds is UNKNOWN:
            return UNKNOWN
        return bool(binds) and all(b.startswith("unix:") for b in binds)


# ---------------------------------------------------------------------------------------------
# gunicorn.conf.py


def read_gunicorn_file(path: str | os.PathLike) -> GunicornConfig:
    """Read a gunicorn.conf.py without running it."""
    return _read_file(os.fspath(path), environ={})


def read_gunicorn_text(source: str, path: str, *, environ: dict[str, str] | None = None,
                       not_editable: str | None = None) -> GunicornConfig:
    """Read a gunicorn.conf.py given as text (a ConfigMap's value, its lines placed at the
    manifest's), reported as ``path``; ``not_editable`` says why a fix cannot edit it there."""
    config = _read_source(source, path, environ or {})
    config.not_editable = not_editable
    return config


def _read_file(path: str, environ: dict[str, str]) -> GunicornConfig:
    """``environ``: variables the command line sets for gunicorn, which the file's environment
    lookups then see."""
    from confgen.files import read_text_file

    # Read as nginx files are: a FIFO or device named as the gunicorn config never blocks the lint.
    return _read_source(read_text_file(path, MAX_FILE_BYTES), path, environ)


def _read_source(source: str, path: str, environ: dict[str, str]) -> GunicornConfig:
    config = GunicornConfig(path=path)
    try:
        # The compiler warns on stderr about odd literals ("\d", 8include); the lint reports
        # findings, not the compiler's noise, and must not print into a pre-commit or CI log.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        config.problems.append((error.lineno, f"syntax error: {error.msg}"))
        config.unreadable = f"{path}:{error.lineno}: a syntax error"
        return config
    except (RecursionError, MemoryError, ValueError) as error:
        config.problems.append((None, f"cannot be read statically: {type(error).__name__}"))
        config.unreadable = f"{path}: cannot be read statically"
        return config
    try:
        evaluator = _Evaluator(config, environ)
        evaluator.literals, config.append_at = _literal_assignments(tree, source)
        evaluator.run(tree, source)
    except (RecursionError, MemoryError):
        # ast.parse accepts nesting that a recursive walk of the tree cannot follow.
        config.settings.clear()
        config.unset_unknown = "the file nests too deeply to be read statically"
        config.problems.append((None, "cannot be read statically: nested too deeply"))
    return config


def _literal_assignments(tree: ast.Module, source: str) -> tuple[dict[str, tuple[int, tuple[int, int, str]]], int | None]:
    """(setting -> (line, span of its value) for ``name = <literal>`` at the top level, the
    offset where a new setting goes). Offsets index ``source`` (ast counts columns in UTF-8
    bytes; they are converted to characters)."""
    lines = source.split("\n")
    starts = [0]
    for text in lines[:-1]:
        starts.append(starts[-1] + len(text) + 1)

    def offset(line: int, byte_column: int) -> int:
        return starts[line - 1] + len(lines[line - 1].encode("utf-8")[:byte_column].decode("utf-8", "ignore"))

    found: dict[str, tuple[int, tuple[int, int, str]]] = {}
    append_at = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name) or target.id not in SETTINGS:
            continue
        end = offset(node.end_lineno, node.end_col_offset)
        append_at = end + len(lines[node.end_lineno - 1]) - (end - starts[node.end_lineno - 1])
        if append_at > 0 and source[append_at - 1:append_at] == "\r":
            append_at -= 1
        number = value.operand if isinstance(value, ast.UnaryOp) and isinstance(value.op, (ast.USub, ast.UAdd)) \
            else None
        if isinstance(value, ast.Constant) or isinstance(number, ast.Constant) and isinstance(number.value, (int, float)):
            start, stop = offset(value.lineno, value.col_offset), offset(value.end_lineno, value.end_col_offset)
            found[target.id] = (node.lineno, (start, stop, source[start:stop]))
        else:
            found.pop(target.id, None)
    return found, append_at


@dataclass(frozen=True)
class _Reference:
    """What an import binds: a module or an object in one, known by its dotted path only."""

    path: str


@dataclass(frozen=True)
class _Binding:
    value: Any
    line: int
    notes: tuple[str, ...] = ()


class _Evaluator:
    """Follows a gunicorn.conf.py's top level without running it: literals, arithmetic on known
    numbers, earlier names, f-strings, %, str.format and concatenation, env lookups with a
    default, min/max/int/str, conditions on known values. Anything else is UNKNOWN, and so is
    every name a statement might have rebound in a way not followed here."""

    def __init__(self, config: GunicornConfig, environ: dict[str, str]):
        self.config = config
        self.environ = environ
        self.names: dict[str, _Binding] = {}
        self.notes: list[str] = []          # what the expression being evaluated depends on
        self.budget = MAX_TOTAL_ITEMS       # items left for computed strings and sequences
        self.global_in_functions: set[str] = set()
        self.busy_lines: list[int] = []
        self.literals: dict[str, tuple[int, tuple[int, int, str]]] = {}  # see _literal_assignments

    def run(self, tree: ast.Module, source: str) -> None:
        if re.search(r"\bglobal\b", source):
            self.global_in_functions = {name for node in ast.walk(tree) if isinstance(node, ast.Global)
                                        for name in node.names}
        # Lines where a call, := or a way to rebind anything may be: after() walks only the
        # statements that span one, so a long file of plain assignments is read in linear time.
        self.busy_lines = [number for number, text in enumerate(source.splitlines(), 1) if _BUSY_LINE.search(text)]
        self.block(tree.body)
        for name, binding in self.names.items():
            if name in SETTINGS:
                self.config.settings[name] = self.checked(name, binding)

    # --- statements -------------------------------------------------------------------------

    def block(self, body: list[ast.stmt]) -> None:
        for node in body:
            self.statement(node)

    def statement(self, node: ast.stmt) -> None:
        self.notes = []
        if isinstance(node, ast.Assign):
            value = self.value(node.value)
            for target in node.targets:
                self.assign(target, value, node.lineno)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.value(node.value), node.lineno)
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                # An unbound name here is a NameError when gunicorn loads the file: its defaults
                # are not variables of the file.
                current = self.lookup(node.target.id)
                combined = self.binary(type(node.op), current, self.value(node.value))
                self.assign(node.target, combined, node.lineno)
        elif isinstance(node, ast.If):
            taken = self.condition(node.test)
            if taken is UNKNOWN:
                self.branches([node.body, node.orelse])
            else:
                self.block(node.body if taken else node.orelse)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            self.try_statement(node)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            # A context manager such as contextlib.suppress can end the body early and go on.
            self.forget(node.items, node.lineno)
            self.branches([[], node.body])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self.import_statement(node)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.names.pop(target.id, None)  # gone from the module: gunicorn's default again
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            # Hooks are functions gunicorn calls later; their bodies never change a setting. What
            # runs now is decorators, default values and a class body.
            self.forget([node], node.lineno)
            self.names[node.name] = _Binding(UNKNOWN, node.lineno)
            if node.decorator_list:
                self.called_unknown_code(node.lineno)  # a decorator is called with the function
            if isinstance(node, ast.ClassDef):
                for name in _class_globals(node):  # `global x` in a class body assigns x right now
                    self.names[name] = _Binding(UNKNOWN, node.lineno)
        else:
            # Loops, match and anything else: whatever they may bind is unknown afterwards.
            self.forget([node], node.lineno)
        self.after(node)

    def after(self, node: ast.stmt) -> None:
        """What any statement may do besides its own binding: rebind a name with :=, run file
        functions that assign globals, or rebind everything through exec or globals()."""
        first = bisect.bisect_left(self.busy_lines, node.lineno)
        if first == len(self.busy_lines) or self.busy_lines[first] > (node.end_lineno or node.lineno):
            return
        parts = [node] if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else \
            [*node.decorator_list, *_defaults(node)]
        for expression in _module_level_nodes(parts):
            if isinstance(expression, ast.NamedExpr) and isinstance(expression.target, ast.Name):
                self.names[expression.target.id] = _Binding(UNKNOWN, node.lineno)
            elif isinstance(expression, ast.Call) and not self.is_known_call(expression):
                self.called_unknown_code(node.lineno)
            elif self.rebinds_anything(expression):
                self.everything_unknown(node.lineno, f"line {node.lineno} can rebind any variable "
                                                     f"({ast.unparse(expression)[:40]})")

    def is_known_call(self, call: ast.Call) -> bool:
        if isinstance(call.func, ast.Attribute) and call.func.attr in _STR_METHODS:
            return True
        return self.call_name(call.func) in _KNOWN_CALLS

    def rebinds_anything(self, expression: ast.AST) -> bool:
        """exec(), globals(), vars(), setattr(), a module's __dict__, sys.modules: ways to bind any
        module variable that no reader can follow."""
        if isinstance(expression, ast.Name):
            return expression.id in _DYNAMIC_NAMES and expression.id not in self.names
        if isinstance(expression, ast.Attribute):
            return expression.attr == "__dict__" or self.call_name(expression) == "sys.modules"
        return False

    def called_unknown_code(self, line: int) -> None:
        """A call the reader does not follow may run a function of the file that assigns its
        globals; only the names some function declares ``global`` can change that way."""
        for name in self.global_in_functions:
            self.names[name] = _Binding(UNKNOWN, line, (f"a function called on line {line} may set it",))

    def everything_unknown(self, line: int, why: str) -> None:
        self.names = {name: _Binding(UNKNOWN, line, (why,)) for name in self.names}
        self.config.unset_unknown = why

    def assign(self, target: ast.expr, value: Any, line: int) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = _Binding(value, line, tuple(dict.fromkeys(self.notes)) if self.notes else ())
        elif isinstance(target, (ast.Tuple, ast.List)):
            starred = any(isinstance(e, ast.Starred) for e in target.elts)
            fits = isinstance(value, (tuple, list)) and len(value) == len(target.elts) and not starred
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Starred):
                    element = element.value
                self.assign(element, value[index] if fits else UNKNOWN, line)
        # Attribute and subscript targets change objects, not module variables.

    def branches(self, bodies: list[list[ast.stmt]]) -> None:
        """Run each possible path from the same start; afterwards a name is known only when
        every path leaves it with the same value."""
        start = self.names
        outcomes = []
        for body in bodies:
            self.names = dict(start)
            self.block(body)
            outcomes.append(self.names)
        self.names = _merge(outcomes)

    def try_statement(self, node: ast.Try) -> None:
        start = self.names
        self.names = dict(start)
        self.block(node.body)
        self.block(node.orelse)
        outcomes = [self.names]
        # A handler runs after any part of the body did: what the body binds is unknown there.
        interrupted = dict(start)
        for name in _bound_names(node.body):
            interrupted[name] = _Binding(UNKNOWN, node.lineno)
        for handler in node.handlers:
            self.names = dict(interrupted)
            if handler.name:
                self.names[handler.name] = _Binding(UNKNOWN, handler.lineno)
            self.block(handler.body)
            outcomes.append(self.names)
        self.names = _merge(outcomes)
        self.block(node.finalbody)

    def import_statement(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.everything_unknown(node.lineno, f"`from {node.module} import *` on line {node.lineno} "
                                                     "may set it")
                continue
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                path = f"{module}.{alias.name}" if module and not module.endswith(".") else module + alias.name
            else:
                path = alias.name if alias.asname else alias.name.split(".")[0]
            self.names[alias.asname or alias.name.split(".")[0]] = _Binding(_Reference(path), node.lineno)

    def forget(self, nodes: Iterable[ast.AST], line: int) -> None:
        for name in _bound_names(nodes):
            self.names[name] = _Binding(UNKNOWN, line)

    def condition(self, test: ast.expr) -> Any:
        """The truth of an ``if`` test when it is certain: a value from an env default or any
        other assumption decides nothing."""
        self.notes = []
        value = self.value(test)
        if value is UNKNOWN or self.notes or isinstance(value, _Reference):
            return UNKNOWN
        try:
            return bool(value)
        except Exception:  # noqa: BLE001 - a value whose truth cannot be taken is no certainty
            return UNKNOWN

    # --- the value of a setting as gunicorn would take it --------------------------------------

    def checked(self, name: str, binding: _Binding) -> Setting:
        """The Setting for a variable, converted as gunicorn's validator converts it; a value
        gunicorn refuses becomes a problem (gunicorn exits on it) and UNKNOWN."""
        value = binding.value
        note = "; ".join(binding.notes) or None
        if value is not UNKNOWN:
            value, refusal = _validate(SETTINGS[name], value)
            if refusal:
                self.config.problems.append((binding.line, f"{name}: {refusal}; gunicorn refuses to start"))
        line, span = self.literals.get(name, (None, None))
        return Setting(name, value, "file", self.config.path, binding.line, note,
                       span if line == binding.line else None)

    # --- expressions ------------------------------------------------------------------------

    def lookup(self, name: str) -> Any:
        binding = self.names.get(name)
        if binding is None:
            return UNKNOWN
        self.notes.extend(binding.notes)
        return binding.value

    def value(self, node: ast.expr) -> Any:
        try:
            return self._value(node)
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError, RecursionError,
                MemoryError):
            return UNKNOWN

    def _value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, (ast.List, ast.Tuple)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                return UNKNOWN
            items = [self.value(e) for e in node.elts]
            if any(i is UNKNOWN or isinstance(i, _Reference) for i in items):
                return UNKNOWN
            return self.charge(items if isinstance(node, ast.List) else tuple(items))
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                return UNKNOWN
            pairs = [(self.value(k), self.value(v)) for k, v in zip(node.keys, node.values)]
            if any(x is UNKNOWN or isinstance(x, _Reference) for pair in pairs for x in pair):
                return UNKNOWN
            return dict(pairs)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return self.binary(type(node.op), self.value(node.left), self.value(node.right))
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BoolOp):
            return self.bool_op(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            test = self.value(node.test)
            if test is UNKNOWN or isinstance(test, _Reference):
                chosen = [self.value(node.body), self.value(node.orelse)]
                return chosen[0] if _same(chosen[0], chosen[1]) else UNKNOWN
            return self.value(node.body if test else node.orelse)
        if isinstance(node, ast.JoinedStr):
            return self.f_string(node)
        if isinstance(node, ast.Attribute):
            base = self.value(node.value)
            return _Reference(f"{base.path}.{node.attr}") if isinstance(base, _Reference) else UNKNOWN
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        return UNKNOWN

    def unary(self, node: ast.UnaryOp) -> Any:
        operand = self.value(node.operand)
        if operand is UNKNOWN or isinstance(operand, _Reference):
            return UNKNOWN
        if isinstance(node.op, ast.Not):
            return not operand
        if not isinstance(operand, (int, float)):
            return UNKNOWN
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
        return ~operand if isinstance(operand, int) else UNKNOWN

    def bool_op(self, node: ast.BoolOp) -> Any:
        """``a or b``: the first truthy value; an unknown operand decides nothing after it."""
        result = UNKNOWN
        for operand in node.values:
            result = self.value(operand)
            if result is UNKNOWN or isinstance(result, _Reference):
                return UNKNOWN
            if bool(result) == isinstance(node.op, ast.Or):
                return result
        return result

    def compare(self, node: ast.Compare) -> Any:
        left = self.value(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.value(right_node)
            if left is UNKNOWN or right is UNKNOWN or isinstance(left, _Reference) or isinstance(right, _Reference):
                return UNKNOWN
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def f_string(self, node: ast.JoinedStr) -> Any:
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
            elif isinstance(part, ast.FormattedValue) and part.format_spec is None and part.conversion == -1:
                inner = self.value(part.value)
                if inner is UNKNOWN or not isinstance(inner, _SCALARS):
                    return UNKNOWN  # the repr of a nested list can be far larger than the list
                parts.append(str(inner))
            else:
                return UNKNOWN
        if sum(len(part) for part in parts) > MAX_VALUE_ITEMS:
            return UNKNOWN
        return self.charge("".join(parts))

    def subscript(self, node: ast.Subscript) -> Any:
        if self.call_name(node.value) == "os.environ":
            key = self.value(node.slice)
            if isinstance(key, str) and key in self.environ:
                return self.command_line_variable(key)
            self.notes.append(f"from environment variable {key if isinstance(key, str) else '?'}, no default")
            return UNKNOWN
        container, index = self.value(node.value), self.value(node.slice)
        if isinstance(container, (*_SEQUENCES, dict)) and isinstance(index, (int, str)) and index is not UNKNOWN:
            return container[index]
        return UNKNOWN

    def binary(self, op: type, left: Any, right: Any) -> Any:
        """Also for ``x op= y``, outside value()'s guard: never raises."""
        if op not in _BINARY or left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if isinstance(left, _Reference) or isinstance(right, _Reference) or not _bounded(op, left, right):
            return UNKNOWN
        try:
            return self.charge(_BINARY[op](left, right))
        except (TypeError, ValueError, ArithmeticError):
            return UNKNOWN

    def charge(self, value: Any) -> Any:
        """``value``, counted against the file's budget; UNKNOWN once a value or the file's values
        together are too large to be a setting."""
        if isinstance(value, _SEQUENCES):
            if len(value) > MAX_VALUE_ITEMS or len(value) > self.budget:
                return UNKNOWN
            self.budget -= len(value)
        elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            return UNKNOWN
        return value

    def call_name(self, func: ast.expr) -> str:
        """The dotted name a call goes to, through the file's imports (``from os import environ``,
        ``import multiprocessing as mp``); a builtin name the file does not rebind is itself."""
        if isinstance(func, ast.Name):
            binding = self.names.get(func.id)
            if binding is None:
                return func.id
            return binding.value.path if isinstance(binding.value, _Reference) else ""
        if isinstance(func, ast.Attribute):
            base = self.call_name(func.value)
            return f"{base}.{func.attr}" if base else ""
        return ""

    def call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Attribute) and node.func.attr in _STR_METHODS:
            receiver = self.value(node.func.value)
            if isinstance(receiver, str):
                return self.str_method(receiver, node)
        name = self.call_name(node.func)
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            return UNKNOWN
        keywords = {k.arg: k.value for k in node.keywords}
        args = node.args
        if name in _CPU_COUNT:
            self.notes.append("depends on the CPU count")
            return UNKNOWN
        if name in _ENV_LOOKUPS and args and len(args) <= 2 and set(keywords) <= {"default"}:
            return self.env_lookup(args[0], args[1] if len(args) > 1 else keywords.get("default"),
                                   has_default=len(args) > 1 or "default" in keywords)
        if name == "len" and len(args) == 1 and not keywords:
            inner = self.value(args[0])
            return len(inner) if isinstance(inner, (*_SEQUENCES, dict)) else UNKNOWN
        if keywords:
            return UNKNOWN
        if name in _CONVERSIONS and len(args) == 1:
            inner = self.value(args[0])
            if inner is UNKNOWN or not isinstance(inner, _SCALARS):
                return UNKNOWN
            return self.charge(_CONVERSIONS[name](inner))
        if name in ("min", "max") and args:
            values = [self.value(a) for a in args]
            if any(v is UNKNOWN or isinstance(v, _Reference) for v in values):
                return UNKNOWN
            return (min if name == "min" else max)(*values)
        return UNKNOWN

    def env_lookup(self, key_node: ast.expr, default_node: ast.expr | None, has_default: bool) -> Any:
        """A variable's value where gunicorn runs is not known here: the default is taken, with a
        note, unless the command line sets the variable."""
        key = self.value(key_node)
        if isinstance(key, str) and key in self.environ:
            return self.command_line_variable(key)
        name = key if isinstance(key, str) else "?"
        if not has_default:
            self.notes.append(f"from environment variable {name}, no default")
            return UNKNOWN
        self.notes.append(f"the default of environment variable {name}")
        return self.value(default_node) if default_node is not None else None

    def command_line_variable(self, key: str) -> Any:
        """The value the command line (or the script lines before it) gives variable ``key``;
        UNKNOWN when it is set where its value cannot be read."""
        value = self.environ[key]
        if value is None:
            self.notes.append(f"${key} set on the command line where its value cannot be read")
            return UNKNOWN
        self.notes.append(f"${key}={value} on the command line")
        return value

    def str_method(self, receiver: str, node: ast.Call) -> Any:
        method = node.func.attr
        if node.keywords and method != "format":
            return UNKNOWN
        args = [self.value(a) for a in node.args]
        if any(a is UNKNOWN or isinstance(a, _Reference) for a in args):
            return UNKNOWN
        if method == "join":
            items = args[0] if len(args) == 1 else None
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
                return UNKNOWN
            if sum(len(i) for i in items) + len(receiver) * len(items) > MAX_VALUE_ITEMS:
                return UNKNOWN
            return self.charge(receiver.join(items))
        if method == "format":
            return self.format(receiver, args, node.keywords)
        if not all(isinstance(a, str) or a is None for a in args):
            return UNKNOWN
        return self.charge(getattr(receiver, method)(*args))

    def format(self, template: str, args: list[Any], keywords: list[ast.keyword]) -> Any:
        kwargs = {k.arg: self.value(k.value) for k in keywords}
        if any(k is None for k in kwargs) or not all(isinstance(v, _SCALARS) for v in [*args, *kwargs.values()]):
            return UNKNOWN
        for _, field_name, spec, _ in string.Formatter().parse(template):
            if field_name is None:
                continue
            # Attribute and index lookups ("{0.__class__}") and wide padding are not followed.
            if not re.fullmatch(r"\w*", field_name) or (spec and _WIDE_FORMAT_SPEC.search(spec)):
                return UNKNOWN
        result = template.format(*args, **kwargs)
        return self.charge(result) if len(result) <= MAX_VALUE_ITEMS else UNKNOWN


# Calls the evaluator follows: none of them can run a function of the file.
_KNOWN_CALLS = _CPU_COUNT | _ENV_LOOKUPS | set(_CONVERSIONS) | {"min", "max", "len"}


def _validate(spec: SettingSpec, value: Any) -> tuple[Any, str | None]:
    """(value as gunicorn keeps it, None) or (UNKNOWN, why gunicorn refuses it). Shapes are kept
    as written (a str bind stays a str) except where the kind of the value changes: "45" -> 45."""
    kind = spec.kind
    if isinstance(value, _Reference):
        # An imported class is what gunicorn loads; any other imported object is not followed.
        return (value.path, None) if kind == "class" else (UNKNOWN, None)
    if kind == "int":
        if isinstance(value, str):
            try:
                value = int(value, 0)
            except ValueError:
                return UNKNOWN, f"{value!r} is not an integer"
        elif not isinstance(value, int):
            return UNKNOWN, f"{value!r} is not an integer"
        value = int(value)  # True counts as 1, as in gunicorn
        return (value, None) if value >= 0 else (UNKNOWN, f"{value} is negative")
    if kind == "bool":
        if value is None or isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true", None
        return UNKNOWN, f"{value!r} is not a boolean"
    if kind in ("str", "class"):
        if value is None or isinstance(value, str):
            return (value.strip() if isinstance(value, str) else value), None
        return UNKNOWN, f"{value!r} is not a string"
    if kind == "list":
        items = [value] if isinstance(value, str) else value
        if value and not (isinstance(items, (list, tuple)) and all(isinstance(i, str) for i in items)):
            return UNKNOWN, f"{value!r} is not a list of strings"
        return value, None
    if kind == "dict":
        return (value, None) if isinstance(value, dict) else (UNKNOWN, f"{value!r} is not a dict")
    if kind == "addrs":
        if not isinstance(value, str):
            return UNKNOWN, f"{value!r} is not a comma-separated string"
        for address in (a.strip() for a in value.split(",") if a.strip()):
            if address != "*":
                try:
                    ipaddress.ip_network(address)
                except ValueError as error:
                    return UNKNOWN, f"{address!r} is not an IP address or network ({error})"
        return value, None
    return value, None


def _same(left: Any, right: Any) -> bool:
    """Equal and of the same type: 1, 1.0 and True are different settings values."""
    if left is UNKNOWN or right is UNKNOWN:
        return False
    return type(left) is type(right) and left == right


def _merge(outcomes: list[dict[str, _Binding]]) -> dict[str, _Binding]:
    merged: dict[str, _Binding] = {}
    for name in dict.fromkeys(n for outcome in outcomes for n in outcome):
        bindings = [outcome.get(name) for outcome in outcomes]
        first = bindings[0]
        if all(b is first for b in bindings):
            merged[name] = first
            continue
        present = [b for b in bindings if b is not None]
        line = max(b.line for b in present)
        if len(present) == len(bindings) and all(_same(b.value, first.value) for b in present):
            merged[name] = _Binding(first.value, line, tuple(dict.fromkeys(n for b in present for n in b.notes)))
        else:
            merged[name] = _Binding(UNKNOWN, line, ("set only on some paths through if/try/with",))
    return merged


def _defaults(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[ast.expr]:
    """What a def or class statement evaluates when it runs, besides decorators."""
    if isinstance(node, ast.ClassDef):
        return [*node.bases, *(k.value for k in node.keywords), *node.body]  # a class body runs now
    return [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]


def _class_globals(node: ast.ClassDef) -> set[str]:
    return {name for child in _module_level_nodes(node.body) if isinstance(child, ast.Global)
            for name in child.names}


def _module_level_nodes(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node that runs at module level: not inside function or lambda bodies."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend([*node.decorator_list, *_defaults(node)])
        elif isinstance(node, ast.Lambda):
            stack.extend([*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)])
        else:
            stack.extend(ast.iter_child_nodes(node))


def _bound_names(nodes: Iterable[ast.AST]) -> set[str]:
    """The module variables a statement can bind: assignment, loop and with targets, imports,
    except and match captures, := and def/class names. Function bodies bind locals; a class
    body binds class attributes."""
    names: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
            stack.extend([*node.decorator_list, *_defaults(node)])
            continue
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            stack.extend([*node.decorator_list, *node.bases, *(k.value for k in node.keywords)])
            continue
        if isinstance(node, ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return names


def _bounded(op: type, left: Any, right: Any) -> bool:
    """Whether ``left op right`` stays small enough to compute: checked before computing, since
    the multiplying operators can ask for gigabytes in one step."""
    if op is ast.Mult:
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, _SEQUENCES):
                return isinstance(count, int) and len(sequence) * max(count, 0) <= MAX_VALUE_ITEMS
        if isinstance(left, int) and isinstance(right, int):
            return left.bit_length() + right.bit_length() <= MAX_INT_BITS
    if op is ast.Pow and isinstance(right, (int, float)) and abs(right) > 1:
        if isinstance(left, int) and isinstance(right, int) and right > 0:
            return left.bit_length() * right <= MAX_INT_BITS
        return abs(right) <= 64  # floats overflow to an error, never grow
    if op is ast.Mod and isinstance(left, (str, bytes)):
        pattern = left if isinstance(left, str) else left.decode("latin-1")
        return not _WIDE_FORMAT.search(pattern)
    return True


# ---------------------------------------------------------------------------------------------
# Command lines

def read_gunicorn_cmd(cmd: str, base: GunicornConfig | None = None, cwd: str | None = None,
                      variables: dict[str, str | None] | None = None) -> GunicornConfig:
    """Read a gunicorn command line as a Procfile, a systemd ExecStart or a shell script runs it
    (``exec``, ``VAR=x``, ``env``, ``python -m gunicorn``, ``cd /app && gunicorn ...``).

    As in gunicorn, options override ``GUNICORN_CMD_ARGS``, which overrides the config file:
    ``base`` when given, else the ``-c`` file (relative to ``cwd``), else ``gunicorn.conf.py`` in
    ``cwd`` when ``cwd`` is given. Options gunicorn does not have are skipped; shell variables
    take their ``${VAR:-default}`` (noted) or are UNKNOWN, and so is a value the shell computes
    when it runs (``--workers $((2*$(nproc)+1))``). ``variables``: those the command starts
    with (set by its script's lines before it), None for one whose value cannot be read."""
    environ, words = _gunicorn_words(cmd, variables)
    options, app, config_file = _parse_options(words, environ, "the command line")
    env_options: dict[str, Setting] = {}
    if environ.get("GUNICORN_CMD_ARGS") is not None:
        env_words = _split(environ["GUNICORN_CMD_ARGS"])
        env_options, _, env_config = _parse_options(env_words, environ, "GUNICORN_CMD_ARGS")
        config_file = config_file or env_config

    if base is None:
        base = _config_file(config_file, environ, cwd)
    settings = dict(base.settings)
    if environ:
        # The file's environment lookups were read without the variables this command line sets.
        for name, setting in settings.items():
            if setting.note and any(f"variable {variable}" in setting.note for variable in environ):
                settings[name] = Setting(name, UNKNOWN, setting.source, setting.file, setting.line,
                                         f"{setting.note}, which the command line sets")
    settings.update(env_options)
    settings.update(options)
    return GunicornConfig(path=base.path, settings=settings, problems=list(base.problems), app=app,
                          unset_unknown=base.unset_unknown, not_editable=base.not_editable)


def config_file_named(cmd: str) -> Any:
    """The config file a gunicorn command line names (``-c``, or in GUNICORN_CMD_ARGS it sets),
    None when it names none, UNKNOWN when a shell variable computes it."""
    environ, words = _gunicorn_words(cmd)
    config_file = _parse_options(words, environ, "the command line")[2]
    if config_file is None and environ.get("GUNICORN_CMD_ARGS") is not None:
        config_file = _parse_options(_split(environ["GUNICORN_CMD_ARGS"]), environ, "GUNICORN_CMD_ARGS")[2]
    return config_file


def _config_file(config_file: Any, environ: dict[str, str], cwd: str | None) -> GunicornConfig:
    if config_file is UNKNOWN:
        return GunicornConfig(unset_unknown="the config file's name depends on a shell variable")
    if config_file is None:
        default = os.path.join(cwd, "gunicorn.conf.py") if cwd else None
        if default and os.path.isfile(default):
            return _read_file(default, environ)
        return GunicornConfig()
    if config_file.startswith("python:"):
        return GunicornConfig(unset_unknown=f"settings come from the module {config_file[7:]}, not read")
    path = config_file.removeprefix("file:")
    return _read_file(locate_container_path(path, [cwd or os.getcwd()]) or os.path.join(cwd or os.getcwd(), path),
                      environ)


def _split(cmd: str) -> list[str]:
    try:
        return [word.value for word in shell_words(cmd, strict=True) if word.value.strip()]
    except ValueError as error:
        raise ConfgenError(f"--gunicorn-cmd: cannot split the command line: {error}") from None


# Variables whose words are read one by one (each expanded then): one that cannot be known
# leaves only its own setting unknown, not the others the variable sets.
WORD_BY_WORD = ("GUNICORN_CMD_ARGS",)


def _gunicorn_words(cmd: str, variables: dict[str, str | None] | None = None
                    ) -> tuple[dict[str, str | None], list[str]]:
    """(variables the shell sets for gunicorn, gunicorn's own arguments). The line is cut into
    shell commands at ``&&``, ``;``, ``|``...; gunicorn's is the last one that starts it
    (``pip install gunicorn && gunicorn ...``). Without one, the whole line is options.
    ``variables``: those the command starts with (the lines of its script before it); None
    for one set where its value cannot be read, as for an assignment the shell computes."""
    words = _split(cmd)
    segments: list[list[str]] = [[]]
    for word in words:
        if word in SHELL_OPERATORS:
            segments.append([])
        else:
            segments[-1].append(word)
    environ: dict[str, str | None] = dict(variables or {})
    found: tuple[dict[str, str | None], list[str]] | None = None
    for segment in segments:
        if set_variables(segment, environ, raw=WORD_BY_WORD):
            continue  # `export VAR=x &&`, `VAR=x;`, `: "${VAR:=x}"`: set for the commands after it
        local = dict(environ)
        for index, word in enumerate(segment):
            start = _gunicorn_start(segment, index)
            if start is not None:
                found = local, segment[start:]
                break
            if " " in word and "gunicorn" in word and index and segment[index - 1] == "-c":
                found = _gunicorn_words(word, environ)  # sh -c 'gunicorn ...'
                break
            named = assignment(word)
            if named is not None:
                assign(local, *named, raw=WORD_BY_WORD)  # `VAR=x gunicorn ...`: for that command
    return found if found is not None else (dict(variables or {}), words)


def _gunicorn_start(words: list[str], index: int) -> int | None:
    """Where gunicorn's own arguments begin when ``words[index]`` starts gunicorn."""
    word = words[index]
    if os.path.basename(word) == "gunicorn":  # also ExecStart=-/srv/venv/bin/gunicorn
        return index + 1
    if re.fullmatch(r"python[\d.]*", os.path.basename(word)):
        after = index + 1
        while after < len(words) and words[after].startswith("-") and words[after] != "-m":
            after += 1
        if after + 1 < len(words) and words[after] == "-m" and words[after + 1] == "gunicorn":
            return after + 2
    return None


# What confgen.gunicorn.sources needs to find an option where a command file writes it.
gunicorn_start = _gunicorn_start


def _parse_options(words: list[str], environ: dict[str, str],
                   origin: str) -> tuple[dict[str, Setting], str | None, Any]:
    """gunicorn's argparse rules: ``--opt value``, ``--opt=value``, ``-w4``, unambiguous prefixes
    of long options, the last of a repeated option wins except for appending ones (bind)."""
    options: dict[str, Setting] = {}
    positional: list[str] = []
    config_file: Any = None
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-") or word == "-":
            positional.append(word)
            continue
        if word == "--":
            positional.extend(words[index:])
            break
        spec, flag, inline = _option(word)
        if spec is None:
            continue  # not a gunicorn option: skipped, as confgen cannot know what it takes
        if spec.action in _FLAG_VALUES:
            options[spec.name] = Setting(spec.name, _FLAG_VALUES[spec.action], "cli", note=f"{flag} on {origin}")
            continue
        if inline is None:
            if spec.action == "optional" and (index >= len(words) or words[index].startswith("-")):
                options[spec.name] = Setting(spec.name, _OPTIONAL_VALUES[spec.name], "cli", note=f"{flag} on {origin}")
                continue
            if index >= len(words):
                raise ConfgenError(f"--gunicorn-cmd: {flag} needs a value")
            inline = words[index]
            index += 1
        raw, notes = _expand(inline, environ)
        if spec.name == "config":
            config_file = raw
            continue
        value = _convert(spec, flag, raw)
        note = "; ".join([f"{flag} on {origin}", *notes])
        if spec.action == "append":
            previous = options.get(spec.name)
            earlier = previous.value if previous is not None else []
            value = UNKNOWN if UNKNOWN in (earlier, value) else [*earlier, value]
        options[spec.name] = Setting(spec.name, value, "cli", note=note)
    app = next((p for p in positional if ":" in p), positional[0] if positional else None)
    return options, app, config_file


def _option(word: str) -> tuple[SettingSpec | None, str, str | None]:
    """(setting, option as written, value given in the same word or None)."""
    if word.startswith("--"):
        flag, equals, inline = word.partition("=")
        if flag not in _OPTIONS:
            matches = [option for option in _LONG_OPTIONS if option.startswith(flag)]
            if len({_OPTIONS[m].name for m in matches}) != 1:
                return None, flag, None
            flag = matches[0]
        return _OPTIONS[flag], flag, inline if equals else None
    flag = word[:2]
    spec = _OPTIONS.get(flag)
    if spec is None:
        return None, flag, None
    return spec, flag, (word[2:] or None) if spec.action not in _FLAG_VALUES else None


def _expand(word: str, environ: dict[str, str | None]) -> tuple[Any, list[str]]:
    """A word with its shell variables expanded (confgen.shell.expand): from the command line's
    assignments, else from a ``${VAR:-default}`` (noted); UNKNOWN when a variable has neither, or
    the shell computes the value when it runs (``$((2*$(nproc)+1))``)."""
    value, notes = expand(word, environ)
    return (UNKNOWN if value is None else value), notes


def _convert(spec: SettingSpec, flag: str, raw: Any) -> Any:
    """An option's value as gunicorn's argparse type and validator make it."""
    if raw is UNKNOWN:
        return UNKNOWN
    if spec.kind == "int":
        if spec.name in _AUTO_INT_OPTIONS and re.match(r"0\d", raw):
            raw = raw.replace("0", "0o", 1)   # gunicorn's auto_int: `--umask 0022` is octal
        try:
            value = int(raw, 0 if spec.name in _AUTO_INT_OPTIONS else 10)
        except ValueError:
            raise ConfgenError(f"--gunicorn-cmd: {flag} {raw!r} is not a number") from None
        if value < 0:
            raise ConfgenError(f"--gunicorn-cmd: {flag} {raw!r} is negative")
        return value
    return raw.strip() if spec.kind in ("str", "class", "list", "addrs") else raw


option_spec = _option
