"""Loading a YAML profile: safe parsing, JSON Schema validation, defaults, one line per problem.

The schema (``schemas/profile.schema.json``) is the reference users read and the one place that
holds the keys, their limits and their defaults; this module only applies it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from confgen.errors import ConfgenError
from confgen.units import parse_size
from confgen.gunicorn.versions import NEWEST_KNOWN_GUNICORN, installed_gunicorn_version
from confgen.nginx.versions import parse_version

# A profile is a few dozen nodes; anything far larger is an alias bomb or not a profile.
MAX_YAML_NODES = 10_000
MAX_PROFILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class App:
    module: str
    kind: str
    latency_ms: float
    timeout_s: int
    bind: str
    asgi_worker: str
    forwarded_allow_ips: tuple[str, ...] | None
    websockets: bool

    @property
    def binds_unix_socket(self) -> bool:
        return self.bind.startswith("/")


@dataclass(frozen=True)
class Tls:
    certificate: str
    certificate_key: str
    hsts_max_age: int


@dataclass(frozen=True)
class Static:
    url: str
    root: str
    expires_days: int


@dataclass(frozen=True)
class NginxSite:
    user: str
    pid: str
    error_log: str
    access_log: str
    mime_types: str
    http_port: int
    https_port: int


@dataclass(frozen=True)
class Profile:
    source: str
    name: str
    cpus: int
    expected_qps: float
    clients: int
    max_body_size: int
    avg_request_body_size: int
    avg_response_size: int
    app: App
    server_names: tuple[str, ...]
    upstreams: tuple[str, ...]
    tls: Tls | None
    trusted_proxies: tuple[str, ...]
    static: Static | None
    nginx: NginxSite
    nginx_version: tuple[int, int, int]
    gunicorn_version: tuple[int, int, int]
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


@lru_cache(maxsize=1)
def profile_schema() -> dict:
    """The profile JSON Schema shipped inside the package."""
    return json.loads(_schema_text())


def _schema_text() -> str:
    try:
        return resources.files("confgen.schemas").joinpath("profile.schema.json").read_text("utf-8")
    except ModuleNotFoundError:  # running from a checkout that was never installed
        return (Path(__file__).resolve().parents[2] / "schemas" / "profile.schema.json").read_text("utf-8")


def schema_path() -> Path | None:
    """The schema as a file on disk (for editors), when the package is installed as files."""
    try:
        candidate = Path(str(resources.files("confgen.schemas").joinpath("profile.schema.json")))
    except ModuleNotFoundError:
        candidate = Path(__file__).resolve().parents[2] / "schemas" / "profile.schema.json"
    return candidate if candidate.is_file() else None


def load_profile(source: str | os.PathLike | Mapping[str, Any], *, label: str = "<profile>") -> Profile:
    """Read, validate and complete a profile; ConfgenError with one line per problem.

    ``label`` names a mapping source in messages (a file is named by its path)."""
    if isinstance(source, Mapping):
        data, lines = dict(source), {}
    else:
        label = str(source)
        data, lines = _read_yaml(label)
    _validate(data, label, lines)
    return _build(data, label)


def _read_yaml(path: str) -> tuple[Any, dict[tuple, int]]:
    from confgen.files import read_regular_file

    # Non-blocking and regular files only: a FIFO or device given as a profile never hangs render.
    raw, problem = read_regular_file(path, MAX_PROFILE_BYTES)
    if problem == "is a directory":
        raise ConfgenError(f"{path}: is a directory, not a profile")
    if problem:
        raise ConfgenError(f"{path}: {problem}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfgenError(f"{path}: not UTF-8 text (byte {error.start})") from None
    try:
        node = yaml.compose(text, Loader=_ProfileLoader)
        if node is None:
            raise ConfgenError(f"{path}: empty profile; `confgen init` writes a starter one")
        _check_node_budget(node, path)
        data = _ProfileLoader(text).construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}" if mark else path
        problem = error.problem or error.context or "invalid YAML"
        raise ConfgenError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise ConfgenError(f"{path}: invalid YAML: {str(error).splitlines()[0]}") from None
    except RecursionError:
        raise ConfgenError(f"{path}: nested too deeply to be a profile") from None
    return data, _line_map(node)


class _ProfileLoader(yaml.SafeLoader):
    """Safe loading (no Python tags), refusing duplicate keys instead of keeping the last."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = True
        return super().construct_mapping(node, deep=deep)


def _check_node_budget(root: yaml.Node, path: str) -> None:
    """Refuse alias bombs: count nodes as if aliases were expanded, memoised per node."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        sizes[key] = MAX_YAML_NODES + 1  # a node that contains itself is over budget
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        else:
            total = 1
        sizes[key] = min(total, MAX_YAML_NODES + 1)
        return sizes[key]

    if size(root) > MAX_YAML_NODES:
        raise ConfgenError(f"{path}: expands to more than {MAX_YAML_NODES} YAML nodes (an alias bomb?)")


def _line_map(root: yaml.Node) -> dict[tuple, int]:
    """YAML path (tuple of keys and indexes) -> 1-based line, for error messages."""
    lines: dict[tuple, int] = {}
    stack: list[tuple[tuple, yaml.Node]] = [((), root)]
    visited: set[int] = set()
    while stack:
        path, node = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    child = path + (key_node.value,)
                    lines.setdefault(child, key_node.start_mark.line + 1)
                    stack.append((child, value_node))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                stack.append((path + (index,), item))
    return lines


def _validate(data: Any, label: str, lines: dict[tuple, int]) -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(profile_schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            problems.extend(_unknown_keys(error, label, lines))
            continue
        path = tuple(error.absolute_path)
        # A missing key has no line of its own: point at the mapping that lacks it.
        line = lines.get(path) or _nearest_line(path, lines)
        where = f"{label}:{line}" if line else label
        yaml_path = ".".join(str(part) for part in path)
        problems.append(f"{where}: {yaml_path + ': ' if yaml_path else ''}{_describe(error)}")
    if problems:
        raise ConfgenError(*problems)


def _unknown_keys(error, label: str, lines: dict[tuple, int]) -> list[str]:
    """One line per unknown key, at the key's own line, with the closest allowed key."""
    import difflib

    allowed = sorted(error.schema.get("properties", {}))
    parent = tuple(error.absolute_path)
    problems = []
    for key in sorted(set(error.instance) - set(allowed), key=str):
        line = lines.get(parent + (key,)) or _nearest_line(parent + (key,), lines)
        where = f"{label}:{line}" if line else label
        yaml_path = ".".join(str(part) for part in parent + (key,))
        guess = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {guess[0]!r}?" if guess else f"allowed keys: {', '.join(allowed)}"
        problems.append(f"{where}: {yaml_path}: unknown key; {hint}")
    return problems


def _nearest_line(path: tuple, lines: dict[tuple, int]) -> int | None:
    while path:
        path = path[:-1]
        if path in lines:
            return lines[path]
    return lines.get(())


def _describe(error) -> str:
    """jsonschema's message, made short and free of the whole instance where that is long."""
    if error.validator == "pattern":
        description = error.schema.get("description")
        return f"{_short(error.instance)} is not allowed here" + (f" ({description})" if description else "")
    if error.validator == "oneOf" and "size" in str(error.schema.get("description", "")).lower():
        return f"{_short(error.instance)} is not a size: {error.schema['description']}"
    if error.validator in ("oneOf", "anyOf") and error.schema.get("description"):
        return f"{_short(error.instance)} is not valid: {error.schema['description']}"
    if error.validator == "type" and isinstance(error.instance, (dict, list)):
        return f"expected {error.validator_value}, got a {type(error.instance).__name__}"
    return error.message if len(error.message) < 200 else error.message[:197] + "..."


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _with_defaults(schema: dict, data: Any) -> Any:
    """Fill the schema's `default`s into a validated document (recursively for objects)."""
    if not isinstance(data, dict):
        return data
    filled = dict(data)
    for key, subschema in schema.get("properties", {}).items():
        subschema = _resolve(subschema)
        if key not in filled and "default" in subschema:
            filled[key] = json.loads(json.dumps(subschema["default"]))
        if key in filled:
            filled[key] = _with_defaults(subschema, filled[key])
    return filled


def _resolve(subschema: dict) -> dict:
    ref = subschema.get("$ref")
    if not ref:
        return subschema
    target = profile_schema()["$defs"][ref.rsplit("/", 1)[-1]]
    return {**target, **{k: v for k, v in subschema.items() if k != "$ref"}}


def _build(data: dict, label: str) -> Profile:
    filled = _with_defaults(profile_schema(), data)
    app = dict(filled["app"])
    app.setdefault("bind", f"/run/{filled['name']}/gunicorn.sock")
    if filled["upstreams"] and app["bind"].startswith("/"):
        port = filled["upstreams"][0].rsplit(":", 1)[1]
        app["bind"] = f"0.0.0.0:{port}"
    if app.get("forwarded_allow_ips") is not None:
        app["forwarded_allow_ips"] = tuple(app["forwarded_allow_ips"])
    else:
        app["forwarded_allow_ips"] = None
    gunicorn_version = filled.get("gunicorn_version") or installed_gunicorn_version() or NEWEST_KNOWN_GUNICORN
    problems = []
    if app["kind"] == "asgi" and app["asgi_worker"] == "gunicorn" and parse_version(_major_minor(gunicorn_version)) < (24, 0, 0):
        problems.append(f"{label}: app.asgi_worker: gunicorn's native asgi worker needs gunicorn >= 24, the target is {gunicorn_version}")
    if problems:
        raise ConfgenError(*problems)
    return Profile(
        source=label,
        name=filled["name"],
        cpus=filled["cpus"],
        expected_qps=float(filled["expected_qps"]),
        clients=filled["clients"],
        max_body_size=parse_size(filled["max_body_size"]),
        avg_request_body_size=parse_size(filled["avg_request_body_size"]),
        avg_response_size=parse_size(filled["avg_response_size"]),
        app=App(**app),
        server_names=tuple(filled["server_names"]),
        upstreams=tuple(filled["upstreams"]),
        tls=Tls(**filled["tls"]) if filled.get("tls") else None,
        trusted_proxies=tuple(filled["trusted_proxies"]),
        static=Static(**filled["static"]) if filled.get("static") else None,
        nginx=NginxSite(**filled["nginx"]),
        nginx_version=parse_version(filled["nginx_version"]),
        gunicorn_version=parse_version(_major_minor(gunicorn_version)),
        raw=data,
    )


def _major_minor(version: str) -> str:
    """Package versions may carry suffixes (27.0.1.post1, 24.0rc1): keep the numeric head."""
    parts = []
    for part in str(version).split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        parts.append(str(int(digits[:4])))
        if not part.isdigit():
            break
    return ".".join(parts) or NEWEST_KNOWN_GUNICORN
