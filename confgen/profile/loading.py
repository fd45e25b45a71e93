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
class Route:
    """One app behind nginx, reached by a URL prefix, with its own load and hosts. A profile
    with a single ``app`` has one route, path ``/``, named after the profile."""

    name: str
    path: str
    expected_qps: float
    app: App
    upstreams: tuple[str, ...]


@dataclass(frozen=True)
class Tls:
    certificate: str
    certificate_key: str
    hsts_max_age: int
    acme_webroot: str | None


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
    ipv6: bool
    upstream_keepalive_timeout: int


@dataclass(frozen=True)
class SecurityHeaders:
    frame_options: str | None
    referrer_policy: str


@dataclass(frozen=True)
class Systemd:
    user: str
    working_directory: str
    gunicorn: str


@dataclass(frozen=True)
class Behind:
    """The balancer in front of nginx (``behind``): a name of ``confgen.hops.PLATFORMS`` and the
    timers the profile says it is configured with (None: the platform's documented default)."""

    balancer: str
    idle_timeout_s: int | None
    request_timeout_s: int | None

    def hop(self):
        """The balancer as the chain model (and the linter's ``behind=``) sees it."""
        import dataclasses

        from confgen.hops import Timer, balancer_hop

        hop = balancer_hop(self.balancer, idle_timeout=self.idle_timeout_s, origin="profile behind.idle_timeout_s")
        if self.request_timeout_s is not None:
            hop = dataclasses.replace(hop, waits_for_next=Timer(self.request_timeout_s, "profile behind.request_timeout_s",
                                                                "request timeout"))
        return hop


# Balancers whose wait for a response is set apart from their idle timeout (AWS balancers use the
# idle timeout for both; Heroku's router gives up after a fixed 30 s).
REQUEST_TIMEOUT_CONFIGURABLE = ("gclb", "ingress-nginx", "haproxy", "gateway-api")


@dataclass(frozen=True)
class GatewayRef:
    """The Gateway an HTTPRoute attaches to (``kubernetes.gateway``)."""

    name: str
    namespace: str | None


@dataclass(frozen=True)
class Kubernetes:
    image: str
    nginx_image: str | None
    max_replicas: int | None
    ingress_class: str = "nginx"
    gateway: GatewayRef | None = None


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
    static: tuple[Static, ...]
    nginx: NginxSite
    routes: tuple[Route, ...]
    security_headers: SecurityHeaders
    canonical_host: str | None
    systemd: Systemd | None
    nginx_version: tuple[int, int, int]
    gunicorn_version: tuple[int, int, int]
    behind: Behind | None = None       # None: no balancer declared (or `none`: nginx is the edge)
    nginx_in_front: bool = True        # False (`nginx: false`): gunicorn straight behind the balancer
    replicas: int | None = None        # None: as many as the load needs (sizing.replicas)
    kubernetes: Kubernetes | None = None
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
    from confgen.profile.schema_check import certainly_valid

    if certainly_valid(data, profile_schema()):
        return  # jsonschema would find nothing; importing it costs more than the rest of a render
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
        if error.validator == "required":
            key = error.message.split("'")[1]
            problems.append(f"{where}: {'.'.join(map(str, path + (key,)))}: {_why_required(path, key)}")
            continue
        if error.validator == "not" and error.schema.get("not") == {}:  # a key another key replaces
            problems.append(f"{where}: {'.'.join(map(str, path))}: {error.schema['description']}")
            continue
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


def _why_required(parent: tuple, key: str) -> str:
    """A missing key's message: required, and what to put there and why, from its description."""
    schema = profile_schema()
    for part in parent:
        schema = _resolve(schema)
        schema = schema.get("items", {}) if isinstance(part, int) else schema.get("properties", {}).get(part, {})
    described = _resolve(_resolve(schema).get("properties", {}).get(key, {}))
    description = described.get("description")
    return "missing, and required" + (f": {description}" if description else "")


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
            value = filled[key]
            if isinstance(value, list) and "items" in subschema:
                filled[key] = [_with_defaults(_resolve(subschema["items"]), item) for item in value]
            else:
                filled[key] = _with_defaults(subschema, value)
    return filled


def _resolve(subschema: dict) -> dict:
    ref = subschema.get("$ref")
    if not ref:
        return subschema
    target = profile_schema()["$defs"][ref.rsplit("/", 1)[-1]]
    return {**target, **{k: v for k, v in subschema.items() if k != "$ref"}}


def _build(data: dict, label: str) -> Profile:
    filled = _with_defaults(profile_schema(), data)
    gunicorn_version = filled.get("gunicorn_version") or installed_gunicorn_version() or NEWEST_KNOWN_GUNICORN
    target_gunicorn = parse_version(_major_minor(gunicorn_version))
    problems: list[str] = []
    if "routes" in filled:
        routes = tuple(_route(r["name"], r["path"], r["expected_qps"], r["app"], r.get("upstreams", []))
                       for r in filled["routes"])
        where = "routes"
    else:
        routes = (_route(filled["name"], "/", filled["expected_qps"], filled["app"], filled["upstreams"]),)
        where = "app"
    for index, route in enumerate(routes):
        at = f"routes.{index}.app" if where == "routes" else "app"
        if route.app.kind == "asgi" and route.app.asgi_worker == "gunicorn" and target_gunicorn < (24, 0, 0):
            problems.append(f"{label}: {at}.asgi_worker: gunicorn's native asgi worker needs gunicorn >= 24, "
                            f"the target is {gunicorn_version}")
    problems += _route_conflicts(routes, label)
    for index, route in enumerate(routes):
        at = f"routes.{index}.app.bind" if where == "routes" else "app.bind"
        if route.upstreams and not route.app.binds_unix_socket:
            host, _, port = route.app.bind.rpartition(":")
            ports = sorted({u.rsplit(":", 1)[1] for u in route.upstreams})
            if host.strip("[]") in ("127.0.0.1", "::1", "localhost") or port not in ports:
                problems.append(f"{label}: {at}: {route.app.bind} cannot be reached by nginx at "
                                f"{', '.join(route.upstreams)}: bind 0.0.0.0:{ports[0]} (or leave bind out)")
    static = filled.get("static") or []
    static = [static] if isinstance(static, dict) else static
    statics = tuple(Static(**_with_defaults(profile_schema()["$defs"]["static_files"], s)) for s in static)
    taken = {r.path for r in routes}
    for index, item in enumerate(statics):
        if item.url in taken:
            problems.append(f"{label}: static.{index}.url: {item.url} is already routed (a route or another static prefix)")
        taken.add(item.url)
    systemd = Systemd(**filled["systemd"]) if filled.get("systemd") else None
    if systemd is not None:
        for route in routes:
            if not route.app.binds_unix_socket or route.upstreams:
                problems.append(f"{label}: systemd: needs the app on this machine behind a unix socket "
                                f"(app.bind {route.app.bind!r} is a TCP address)")
                break
    behind = _behind(filled.get("behind"), filled["trusted_proxies"], label, problems)
    nginx_in_front = filled["nginx"] is not False
    if filled["nginx"] is True:
        problems.append(f"{label}: nginx: true is not a setting: leave nginx out (nginx in front), give its "
                        f"settings, or false (no nginx)")
    elif not nginx_in_front:
        problems += _without_nginx(filled, data, behind, routes, target_gunicorn, label)
    if problems:
        raise ConfgenError(*problems)
    headers = filled["security_headers"]
    tls = dict(filled["tls"]) if filled.get("tls") else None
    if tls is not None:
        tls["acme_webroot"] = tls["acme_webroot"] or None
    first = routes[0]
    return Profile(
        source=label,
        name=filled["name"],
        cpus=filled["cpus"],
        # The whole site's load: the routes' shares added up; per-route sizing uses each share.
        expected_qps=float(sum(r.expected_qps for r in routes)),
        clients=filled["clients"],
        max_body_size=parse_size(filled["max_body_size"]),
        avg_request_body_size=parse_size(filled["avg_request_body_size"]),
        avg_response_size=parse_size(filled["avg_response_size"]),
        app=first.app,
        server_names=tuple(filled["server_names"]),
        upstreams=first.upstreams,
        tls=Tls(**tls) if tls else None,
        trusted_proxies=tuple(filled["trusted_proxies"]),
        static=statics,
        nginx=NginxSite(**(filled["nginx"] if nginx_in_front else _with_defaults(profile_schema()["properties"]["nginx"], {}))),
        nginx_in_front=nginx_in_front,
        routes=routes,
        security_headers=SecurityHeaders(frame_options=None if headers["frame_options"] == "off" else headers["frame_options"],
                                         referrer_policy=headers["referrer_policy"]),
        canonical_host=filled.get("canonical_host"),
        systemd=systemd,
        nginx_version=parse_version(filled["nginx_version"]),
        gunicorn_version=target_gunicorn,
        behind=behind,
        replicas=filled.get("replicas"),
        kubernetes=_kubernetes(filled["kubernetes"]) if filled.get("kubernetes") else None,
        raw=data,
    )


def _kubernetes(spelled: dict) -> Kubernetes:
    gateway = spelled.get("gateway")
    return Kubernetes(**{"nginx_image": None, "max_replicas": None, **spelled,
                         "gateway": GatewayRef(name=gateway["name"], namespace=gateway.get("namespace"))
                         if gateway else None})


def _behind(declared, trusted_proxies, label: str, problems: list[str]) -> Behind | None:
    """``behind`` as a Behind (None for none or unset); what the platform does not allow is a problem."""
    from confgen.hops import PLATFORMS

    if declared is None or declared == "none" or (isinstance(declared, dict) and declared["balancer"] == "none"):
        return None
    spelled = declared if isinstance(declared, dict) else {"balancer": declared}
    behind = Behind(balancer=spelled["balancer"], idle_timeout_s=spelled.get("idle_timeout_s"),
                    request_timeout_s=spelled.get("request_timeout_s"))
    platform = PLATFORMS[behind.balancer]
    if behind.idle_timeout_s is not None and not platform.idle_configurable:
        problems.append(f"{label}: behind.idle_timeout_s: {platform.label}'s idle timeout is fixed at "
                        f"{platform.idle_to_next:g}s ({platform.source}); leave it out")
    if behind.idle_timeout_s is None and platform.idle_to_next is None:
        problems.append(f"{label}: behind: {platform.label} has no default idle timeout ({platform.source}): "
                        f"give behind: {{balancer: {behind.balancer}, idle_timeout_s: N}} as its configuration sets it")
    if behind.request_timeout_s is not None and behind.balancer not in REQUEST_TIMEOUT_CONFIGURABLE:
        why = "is its idle timeout (set idle_timeout_s)" if behind.balancer.startswith("aws-") else "cannot be configured"
        problems.append(f"{label}: behind.request_timeout_s: {platform.label}'s wait for a response {why}; leave "
                        f"request_timeout_s out")
    if not trusted_proxies:
        problems.append(f"{label}: behind: {platform.label} in front needs trusted_proxies (its addresses): nginx "
                        f"believes X-Forwarded-For/-Proto from them only, else every client is the balancer and "
                        f"every request plain http")
    return behind


# gunicorn reads networks (CIDR) in forwarded_allow_ips from 24.1.0 on (its changelog, PR #3449).
FORWARDED_NETWORKS_SINCE = (24, 1, 0)


def _without_nginx(filled: dict, data: dict, behind: Behind | None, routes, gunicorn: tuple, label: str) -> list[str]:
    """What ``nginx: false`` cannot serve: no balancer in front (clients would reach gunicorn,
    which buffers nothing), and every key that configures nginx."""
    problems = []
    if behind is None:
        problems.append(f"{label}: nginx: false needs behind (the balancer in front): clients must not reach "
                        f"gunicorn directly, it does not buffer slow clients")
    for key, what in (("tls", "TLS ends at the balancer"), ("static", "no nginx serves the files"),
                      ("routes", "one app behind the balancer"), ("upstreams", "gunicorn runs where it is rendered"),
                      ("systemd", "the socket-activated pair is nginx's"), ("canonical_host", "nginx redirects"),
                      ("kubernetes", "the pod runs nginx beside the app")):
        if filled.get(key):
            problems.append(f"{label}: {key}: not with nginx: false ({what})")
    bind = (data.get("app") or {}).get("bind") if isinstance(data.get("app"), dict) else None
    if bind is None or str(bind).startswith(("/", "unix:")):
        problems.append(f"{label}: app.bind: with nginx: false the balancer reaches gunicorn over the network: "
                        f"give host:port (e.g. 0.0.0.0:8000)")
    networks = [p for p in filled["trusted_proxies"] if "/" in p and not p.endswith(("/32", "/128"))]
    if networks and gunicorn < FORWARDED_NETWORKS_SINCE:
        problems.append(f"{label}: trusted_proxies: gunicorn {'.'.join(map(str, gunicorn[:2]))} trusts single "
                        f"addresses only (networks such as {networks[0]} need gunicorn >= 24.1): list the "
                        f"balancer's addresses, or target a newer gunicorn")
    return problems


def _route(name: str, path: str, expected_qps, app_data: dict, upstreams) -> Route:
    app = dict(app_data)
    # gunicorn spells a socket "unix:/run/app.sock"; the profile accepts that and the bare path.
    app["bind"] = app.get("bind", f"/run/{name}/gunicorn.sock").removeprefix("unix:")
    if upstreams and app["bind"].startswith("/"):
        port = upstreams[0].rsplit(":", 1)[1]
        app["bind"] = f"0.0.0.0:{port}"
    app["forwarded_allow_ips"] = tuple(app["forwarded_allow_ips"]) if app.get("forwarded_allow_ips") is not None else None
    return Route(name=name, path=path, expected_qps=float(expected_qps), app=App(**app), upstreams=tuple(upstreams))


def _route_conflicts(routes: tuple[Route, ...], label: str) -> list[str]:
    """Routes need distinct names (upstream blocks, file names), paths and local sockets."""
    problems = []
    for attribute, what in (("name", "name"), ("path", "path")):
        seen: set[str] = set()
        for index, route in enumerate(routes):
            value = getattr(route, attribute)
            if value in seen:
                problems.append(f"{label}: routes.{index}.{what}: {value!r} is used by an earlier route; each route needs its own")
            seen.add(value)
    # Where nginx reaches each route's gunicorn: its upstreams, else its own bind.
    endpoints: set[str] = set()
    for index, route in enumerate(routes):
        own = set(route.upstreams) if route.upstreams else {route.app.bind}
        shared = sorted(own & endpoints)
        if shared:
            key = "upstreams" if route.upstreams else "app.bind"
            problems.append(f"{label}: routes.{index}.{key}: {', '.join(shared)} is another route's app server; "
                            f"two gunicorns cannot listen on one address")
        endpoints |= own
    return problems


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
