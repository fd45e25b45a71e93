"""Reading gunicorn's configuration statically: ``gunicorn.conf.py`` through ``ast`` (never
imported, never run) and gunicorn command lines (Procfile, systemd ExecStart).

What cannot be known without running code is ``UNKNOWN``; rules that need such a value stay
silent rather than guess. gunicorn's own defaults fill every setting the file does not set.
"""

from __future__ import annotations

import ast
import operator
import os
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable

from confgen.errors import ConfgenError


class _Unknown:
    """A value that depends on the machine or the environment at run time."""

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

# gunicorn's defaults for the settings confgen reasons about (checked against the installed
# gunicorn's gunicorn.config by the tests), with their command-line flags and value types.
DEFAULTS: dict[str, Any] = {
    "bind": ["127.0.0.1:8000"],
    "workers": 1,
    "worker_class": "sync",
    "threads": 1,
    "worker_connections": 1000,
    "keepalive": 2,
    "timeout": 30,
    "graceful_timeout": 30,
    "max_requests": 0,
    "max_requests_jitter": 0,
    "forwarded_allow_ips": "127.0.0.1,::1",
    "proxy_allow_ips": "127.0.0.1,::1",
    "limit_request_line": 4094,
    "limit_request_fields": 100,
    "limit_request_field_size": 8190,
    "backlog": 2048,
    "preload_app": False,
    "wsgi_app": None,
}

_FLAGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "-b": ("bind", str), "--bind": ("bind", str),
    "-w": ("workers", int), "--workers": ("workers", int),
    "-k": ("worker_class", str), "--worker-class": ("worker_class", str),
    "--threads": ("threads", int),
    "--worker-connections": ("worker_connections", int),
    "--keep-alive": ("keepalive", int),
    "-t": ("timeout", int), "--timeout": ("timeout", int),
    "--graceful-timeout": ("graceful_timeout", int),
    "--max-requests": ("max_requests", int),
    "--max-requests-jitter": ("max_requests_jitter", int),
    "--forwarded-allow-ips": ("forwarded_allow_ips", str),
    "--limit-request-line": ("limit_request_line", int),
    "--limit-request-fields": ("limit_request_fields", int),
    "--limit-request-field_size": ("limit_request_field_size", int),
    "--limit-request-field-size": ("limit_request_field_size", int),
    "--backlog": ("backlog", int),
    "-c": ("config", str), "--config": ("config", str),
}
_BOOLEAN_FLAGS = {"--preload": "preload_app"}

_WORKER_CLASSES = {
    "sync": "sync", "gunicorn.workers.sync.syncworker": "sync",
    "gthread": "gthread", "gunicorn.workers.gthread.threadworker": "gthread",
    "asgi": "asgi", "gunicorn.workers.gasgi.asgiworker": "asgi",
    "uvicorn.workers.uvicornworker": "uvicorn", "uvicorn.workers.uvicornh11worker": "uvicorn",
    "uvicorn_worker.uvicornworker": "uvicorn", "uvicorn_worker.uvicornh11worker": "uvicorn",
    "gevent": "gevent", "gevent_wsgi": "gevent", "gevent_pywsgi": "gevent",
    "gunicorn.workers.ggevent.geventworker": "gevent",
    "eventlet": "eventlet", "tornado": "tornado",
}

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


@dataclass(frozen=True)
class Setting:
    name: str
    value: Any
    source: str  # "file" | "cli" | "default"
    file: str | None = None
    line: int | None = None
    note: str | None = None


@dataclass
class GunicornConfig:
    path: str | None = None
    settings: dict[str, Setting] = field(default_factory=dict)
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    app: str | None = None  # the module:app named on a command line

    def setting(self, name: str) -> Setting:
        if name in self.settings:
            return self.settings[name]
        return Setting(name, DEFAULTS.get(name), "default")

    def get(self, name: str) -> Any:
        return self.setting(name).value

    @property
    def worker_class(self) -> Any:
        """Normalized: sync, gthread, asgi, uvicorn, gevent, eventlet, tornado, or the dotted
        path; gunicorn itself runs ``sync`` with threads > 1 as gthread."""
        raw = self.get("worker_class")
        if not isinstance(raw, str):
            return UNKNOWN
        normal = _WORKER_CLASSES.get(raw.strip().lower().replace("egg:gunicorn#", ""), raw.strip())
        if normal == "sync":
            threads = self.get("threads")
            if threads is UNKNOWN:
                return UNKNOWN
            if isinstance(threads, int) and threads > 1:
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
            return [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        return UNKNOWN

    @property
    def binds_unix_socket(self) -> Any:
        binds = self.binds
        if binds is UNKNOWN:
            return UNKNOWN
        return bool(binds) and all(b.startswith("unix:") for b in binds)


def read_gunicorn_file(path: str | os.PathLike) -> GunicornConfig:
    """Read a gunicorn.conf.py without running it."""
    path = os.fspath(path)
    try:
        if os.path.isdir(path):
            raise ConfgenError(f"{path}: is a directory, not a gunicorn config")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfgenError(f"{path}: no such file") from None
    except OSError as error:
        raise ConfgenError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfgenError(f"{path}: larger than {MAX_FILE_BYTES} bytes; not a gunicorn config")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfgenError(f"{path}: not UTF-8 text (byte {error.start})") from None
    config = GunicornConfig(path=path)
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        config.problems.append((error.lineno, f"syntax error: {error.msg}"))
        return config
    except (RecursionError, MemoryError, ValueError) as error:
        config.problems.append((None, f"cannot be read statically: {type(error).__name__}"))
        return config
    _Evaluator(config).run(tree)
    return config


def read_gunicorn_cmd(cmd: str, base: GunicornConfig | None = None, cwd: str | None = None) -> GunicornConfig:
    """Read a gunicorn command line (``exec``, ``VAR=x``, ``python -m gunicorn``, a Procfile's
    ``web:`` prefix are understood). Its options override ``base`` and any ``-c`` file, as in
    gunicorn. Options confgen does not know are skipped."""
    try:
        words = shlex.split(cmd, comments=False)
    except ValueError as error:
        raise ConfgenError(f"--gunicorn-cmd: cannot split the command line: {error}") from None
    words = _strip_launcher(words)
    options: dict[str, Setting] = {}
    config_file = None
    app = None
    index = 0
    while index < len(words):
        word = words[index]
        flag, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if flag in _BOOLEAN_FLAGS:
            options[_BOOLEAN_FLAGS[flag]] = Setting(_BOOLEAN_FLAGS[flag], True, "cli")
        elif flag in _FLAGS or (word[:2] in _FLAGS and len(word) > 2 and not word.startswith("--")):
            if flag not in _FLAGS:  # -w4, -kgthread
                flag, inline = word[:2], word[2:]
            name, convert = _FLAGS[flag]
            if inline:
                raw = inline
            elif index + 1 < len(words):
                index += 1
                raw = words[index]
            else:
                raise ConfgenError(f"--gunicorn-cmd: {flag} needs a value")
            try:
                value = convert(raw)
            except ValueError:
                raise ConfgenError(f"--gunicorn-cmd: {flag} {raw!r} is not a number") from None
            if name == "config":
                config_file = raw
            elif name == "bind":
                previous = options.get("bind")
                binds = (previous.value if previous else []) + [value]
                options["bind"] = Setting("bind", binds, "cli", note="from the command line")
            else:
                options[name] = Setting(name, value, "cli", note="from the command line")
        elif not word.startswith("-") and ":" in word or (not word.startswith("-") and app is None and "." in word):
            app = word
        index += 1
    if config_file and base is None:
        file_path = config_file.removeprefix("python:")
        base = read_gunicorn_file(os.path.join(cwd or os.getcwd(), file_path))
    merged = GunicornConfig(path=base.path if base else None,
                            settings={**(base.settings if base else {}), **options},
                            problems=list(base.problems) if base else [], app=app)
    return merged


def _strip_launcher(words: list[str]) -> list[str]:
    """Drop what comes before gunicorn's own options: Procfile label, exec, env, VAR=x, python -m."""
    index = 0
    while index < len(words):
        word = words[index]
        base = os.path.basename(word)
        if word.endswith(":") and index == 0 or word in ("exec", "env") or ("=" in word and not word.startswith("-")):
            index += 1
        elif base.startswith("python") and index + 2 < len(words) and words[index + 1] == "-m":
            index += 3 if words[index + 2] == "gunicorn" else 2
            if words[index - 1] == "gunicorn":
                break
        elif base == "gunicorn":
            index += 1
            break
        else:
            break
    return words[index:]


class _Evaluator:
    """Evaluates a gunicorn.conf.py's top level without running it: literals, arithmetic on
    known numbers, earlier names, f-strings and concatenation, env lookups with a default,
    min/max/int/str. Anything else is UNKNOWN."""

    def __init__(self, config: GunicornConfig):
        self.config = config
        self.names: dict[str, Any] = {}
        self.lines: dict[str, int] = {}
        self.notes: dict[str, str] = {}
        self._pending_note: str | None = None

    def run(self, tree: ast.Module) -> None:
        for node in tree.body:
            self.statement(node, certain=True)
        for name, value in self.names.items():
            if name in DEFAULTS or name in _SETTING_NAMES:
                line = self.lines.get(name)
                self.config.settings[name] = Setting(name, value, "file", self.config.path, line, self.notes.get(name))

    def statement(self, node: ast.stmt, certain: bool) -> None:
        self._pending_note = None
        if isinstance(node, ast.Assign):
            value = self.value(node.value)
            for target in node.targets:
                self.assign(target, value, node.lineno, certain)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, self.value(node.value), node.lineno, certain)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            current = self.names.get(node.target.id, DEFAULTS.get(node.target.id, UNKNOWN))
            combined = self.binary(type(node.op), current, self.value(node.value))
            self.assign(node.target, combined, node.lineno, certain)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            # A value set in a branch may or may not be set: unknown beats wrong.
            for child in ast.walk(node):
                if isinstance(child, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and child is not node:
                    targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                    for target in targets:
                        self.assign(target, UNKNOWN, child.lineno, certain=False)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.names[node.name] = UNKNOWN  # server hooks are functions: never called here

    def assign(self, target: ast.expr, value: Any, line: int, certain: bool) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = value if certain else UNKNOWN
            self.lines[target.id] = line
            if self._pending_note:
                self.notes[target.id] = self._pending_note
            else:
                self.notes.pop(target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value if isinstance(value, (tuple, list)) and len(value) == len(target.elts) else None
            for index, element in enumerate(target.elts):
                self.assign(element, values[index] if values is not None else UNKNOWN, line, certain)

    def value(self, node: ast.expr) -> Any:
        try:
            return self._value(node)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, RecursionError, MemoryError):
            return UNKNOWN

    def _value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(e) for e in node.elts]
            return UNKNOWN if any(i is UNKNOWN for i in items) else (items if isinstance(node, ast.List) else tuple(items))
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                return UNKNOWN
            pairs = [(self.value(k), self.value(v)) for k, v in zip(node.keys, node.values)]
            return UNKNOWN if any(UNKNOWN in (k, v) for k, v in pairs) else dict(pairs)
        if isinstance(node, ast.Name):
            return self.names.get(node.id, {"True": True, "False": False, "None": None}.get(node.id, UNKNOWN))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return self.binary(type(node.op), self.value(node.left), self.value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.value(node.operand)
            return -operand if isinstance(operand, (int, float)) and not isinstance(operand, bool) else UNKNOWN
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.Constant):
                    parts.append(str(part.value))
                elif isinstance(part, ast.FormattedValue) and part.format_spec is None and part.conversion == -1:
                    inner = self.value(part.value)
                    if inner is UNKNOWN:
                        return UNKNOWN
                    parts.append(str(inner))
                else:
                    return UNKNOWN
            return "".join(parts)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript) and _dotted(node.value) == "os.environ":
            return UNKNOWN
        return UNKNOWN

    def binary(self, op: type, left: Any, right: Any) -> Any:
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if op is ast.Pow and isinstance(right, (int, float)) and abs(right) > 64:
            return UNKNOWN  # no 10 ** 10 ** 10 in a config reader
        if op is ast.Mult and (isinstance(left, (str, list)) or isinstance(right, (str, list))):
            count = right if isinstance(left, (str, list)) else left
            if not isinstance(count, int) or count > 10_000:
                return UNKNOWN
        return _BINARY[op](left, right)

    def call(self, node: ast.Call) -> Any:
        name = _dotted(node.func)
        args = node.args
        if node.keywords:
            return UNKNOWN
        if name in ("multiprocessing.cpu_count", "os.cpu_count", "cpu_count"):
            return UNKNOWN
        if name in ("os.environ.get", "os.getenv", "environ.get", "getenv") and args:
            key = self.value(args[0])
            if len(args) > 1:
                default = self.value(args[1])
                if isinstance(key, str):
                    self._pending_note = f"the default of environment variable {key}"
                return default
            return UNKNOWN
        if name in ("int", "float", "str", "bool") and len(args) == 1:
            inner = self.value(args[0])
            return UNKNOWN if inner is UNKNOWN else {"int": int, "float": float, "str": str, "bool": bool}[name](inner)
        if name in ("min", "max") and args:
            values = [self.value(a) for a in args]
            if any(v is UNKNOWN for v in values):
                return UNKNOWN
            return (min if name == "min" else max)(*values)
        return UNKNOWN


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


_SETTING_NAMES = {"raw_env", "user", "group", "umask", "certfile", "keyfile", "reload", "daemon", "pidfile",
                  "accesslog", "errorlog", "loglevel", "proxy_protocol", "secure_scheme_headers", "chdir",
                  "worker_tmp_dir", "reuse_port", "sendfile", "asgi_loop", "asgi_lifespan"}
