"""Rendering a plan through the Jinja templates, and writing the results without losing files."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Mapping

from confgen import cache
from confgen.profile.log_format import LOG_FORMAT, LOG_FORMAT_NAME
from confgen.profile.loading import Profile, load_profile
from confgen.profile.sizing import Plan, RoutePlan, plan, trusted_hop
from confgen.render.stamp import stamp

NGINX_FILE = "nginx.conf"
# nginx's `http2 on` replaced `listen ... http2` in 1.25.1; ssl_reject_handshake came in 1.19.4.
HTTP2_DIRECTIVE_SINCE = (1, 25, 1)
SSL_REJECT_HANDSHAKE_SINCE = (1, 19, 4)


def render_profile(source: str | os.PathLike | Mapping[str, Any]) -> dict[str, str]:
    """Load, size and render a profile: output file name -> text."""
    return render_plan(plan(load_profile(source)))


def render_plan(the_plan: Plan) -> dict[str, str]:
    """nginx.conf (unless the profile has none), then per route its gunicorn config (and systemd
    units when asked for)."""
    environment = _environment()
    context = _template_context(the_plan)
    files = {NGINX_FILE: environment.get_template("nginx.conf.j2").render(**context)} \
        if the_plan.profile.nginx_in_front else {}
    for route_plan in the_plan.routes:
        names = route_file_names(the_plan, route_plan)
        route_context = {**context, "route": route_plan, "file_name": names["gunicorn"], "config_name": names["gunicorn"]}
        files[names["gunicorn"]] = environment.get_template("gunicorn.conf.py.j2").render(**route_context)
        systemd = the_plan.profile.systemd
        if systemd is not None:
            socket_path = route_plan.profile.app.bind
            parts = Path(socket_path).parts
            units = {**route_context, "systemd": systemd, "socket_path": socket_path,
                     "socket_unit": names["socket"], "service_unit": names["service"],
                     "nginx_user": the_plan.profile.nginx.user,
                     # /run/<dir>/x.sock: the service's RuntimeDirectory is <dir>, owned by its user.
                     "runtime_directory": parts[2] if len(parts) > 3 and parts[1] == "run" else None}
            files[names["socket"]] = environment.get_template("gunicorn.socket.j2").render(**units)
            files[names["service"]] = environment.get_template("gunicorn.service.j2").render(**units)
    return {name: stamp(text) for name, text in files.items()}


def route_file_names(the_plan: Plan, route_plan: RoutePlan) -> dict[str, str]:
    """gunicorn.conf.py (+ gunicorn.service/.socket) for a single app; with several routes,
    each route's files carry its name: gunicorn-api.conf.py, gunicorn-api.service, ..."""
    stem = "gunicorn" if len(the_plan.routes) == 1 else f"gunicorn-{route_plan.route.name}"
    return {"gunicorn": f"{stem}.conf.py", "service": f"{stem}.service", "socket": f"{stem}.socket"}


def explain_table(source: str | os.PathLike | Mapping[str, Any]) -> str:
    return format_rows(plan(load_profile(source)).rows())


def format_rows(rows: list[tuple[str, str, str]]) -> str:
    """(setting, value, reason) rows as the --explain table."""
    rows = [("setting", "value", "reason")] + rows
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{s:<{widths[0]}}  {v:<{widths[1]}}  {r}" for s, v, r in rows]
    lines.insert(1, "-" * (widths[0] + widths[1] + 4 + max(len(row[2]) for row in rows)))
    return "\n".join(lines)


def starter_profile(*, name: str, cpus: int, kind: str, module: str, file_name: str) -> str:
    """The text `confgen init` writes, checked against the schema before it is returned."""
    text = _environment().get_template("profile.yaml.j2").render(
        name=name, cpus=cpus, kind=kind, module=module, file_name=file_name, schema_url=schema_location())
    import yaml

    load_profile(yaml.safe_load(text), label="confgen init")
    return text


def schema_location() -> str:
    """The schema's published address (its $id), for the profile's editor line: the same on every
    machine, unlike the installed file's path inside one machine's site-packages."""
    from confgen.profile.loading import profile_schema

    return profile_schema()["$id"]


def canonical_names(profile: Profile) -> tuple[list[str], list[tuple[str, str]]]:
    """(names the site serves, [(alternate, canonical)]) under ``canonical_host``: every exact
    name's www./apex pair is split into the canonical one, served, and the other, redirected."""
    if profile.canonical_host is None:
        return list(profile.server_names), []
    served: list[str] = []
    redirects: list[tuple[str, str]] = []
    for name in profile.server_names:
        if name.startswith(("*.", ".")):
            served.append(name)
            continue
        apex = name.removeprefix("www.")
        canonical, alternate = (apex, f"www.{apex}") if profile.canonical_host == "apex" else (f"www.{apex}", apex)
        if canonical not in served:
            served.append(canonical)
        if (alternate, canonical) not in redirects:
            redirects.append((alternate, canonical))
    return served, redirects


def _template_context(the_plan: Plan) -> dict[str, Any]:
    profile: Profile = the_plan.profile
    version = profile.nginx_version
    served, redirects = canonical_names(profile)
    return {
        "plan": the_plan,
        "source_name": Path(profile.source).name,
        "nginx_version": ".".join(map(str, version)),
        # Named only when the profile names it: the installed gunicorn must not change the output.
        "gunicorn_target": ".".join(map(str, profile.gunicorn_version)) if "gunicorn_version" in profile.raw else None,
        "served_names": served,
        "canonical_redirects": redirects,
        "redirected_names": [alternate for alternate, _ in redirects],
        "trusted_hop": trusted_hop(profile) if profile.trusted_proxies else None,
        "websockets": any(route.app.websockets for route in profile.routes),
        "log_format_name": LOG_FORMAT_NAME,
        "log_format": LOG_FORMAT,
        "http2_directive": version >= HTTP2_DIRECTIVE_SINCE,
        "has_ssl_reject_handshake": version >= SSL_REJECT_HANDSHAKE_SINCE,
    }


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        bytecode_cache=_bytecode_cache(jinja2),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pyrepr"] = repr
    return environment


def read_only_cache() -> None:
    """From now on this process reads the user's cache (compiled templates included) but never
    writes to it: `render --check` and `render-check` promise to write nothing at all."""
    cache.read_only()
    _environment.cache_clear()


def _bytecode_cache(jinja2):
    """Jinja's own on-disk cache of compiled templates, in the user's cache directory
    (confgen.cache), one folder per Jinja version: a render then skips compiling nginx.conf.j2
    (~45 ms). Jinja keys each entry by the template's text, so an edited template is compiled
    anew. None when caching is off or that directory cannot be used."""
    directory = cache.directory(f"jinja-{jinja2.__version__}")
    if directory is None:
        return None

    class ReadableCache(jinja2.FileSystemBytecodeCache):
        def dump_bytecode(self, bucket) -> None:
            if cache.writable():
                super().dump_bytecode(bucket)

    return ReadableCache(directory)


def _template_source(name: str) -> str:
    from importlib import resources

    try:
        return resources.files("confgen.templates").joinpath(name).read_text("utf-8")
    except ModuleNotFoundError:  # a checkout that was never installed
        return (Path(__file__).resolve().parents[2] / "templates" / name).read_text("utf-8")
