"""Rendering a plan through the Jinja templates, and writing the results without losing files."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Mapping

from confgen.render.profile import Profile, load_profile
from confgen.render.sizing import Plan, plan

OUTPUT_FILES = {"nginx.conf": "nginx.conf.j2", "gunicorn.conf.py": "gunicorn.conf.py.j2"}
# nginx's `http2 on` replaced `listen ... http2` in 1.25.1; ssl_reject_handshake came in 1.19.4.
HTTP2_DIRECTIVE_SINCE = (1, 25, 1)
SSL_REJECT_HANDSHAKE_SINCE = (1, 19, 4)


def render_profile(source: str | os.PathLike | Mapping[str, Any]) -> dict[str, str]:
    """Load, size and render a profile: output file name -> text."""
    return render_plan(plan(load_profile(source)))


def render_plan(the_plan: Plan) -> dict[str, str]:
    environment = _environment()
    context = _template_context(the_plan)
    return {name: environment.get_template(template).render(**context) for name, template in OUTPUT_FILES.items()}


def explain_table(source: str | os.PathLike | Mapping[str, Any]) -> str:
    rows = [("setting", "value", "reason")] + plan(load_profile(source)).rows()
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
    """Where an editor finds the profile schema: the installed file, else its published $id."""
    from confgen.render.profile import profile_schema, schema_path

    path = schema_path()
    return str(path) if path else profile_schema()["$id"]


def _template_context(the_plan: Plan) -> dict[str, Any]:
    profile: Profile = the_plan.profile
    version = profile.nginx_version
    return {
        "plan": the_plan,
        "source_name": Path(profile.source).name,
        "nginx_version": ".".join(map(str, version)),
        # Named only when the profile names it: the installed gunicorn must not change the output.
        "gunicorn_target": ".".join(map(str, profile.gunicorn_version)) if "gunicorn_version" in profile.raw else None,
        "server_name_list": " ".join(profile.server_names) or "_",
        "http2_directive": version >= HTTP2_DIRECTIVE_SINCE,
        "has_ssl_reject_handshake": version >= SSL_REJECT_HANDSHAKE_SINCE,
    }


@functools.lru_cache(maxsize=1)
def _environment():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pyrepr"] = repr
    return environment


def _template_source(name: str) -> str:
    from importlib import resources

    try:
        return resources.files("confgen.templates").joinpath(name).read_text("utf-8")
    except ModuleNotFoundError:  # a checkout that was never installed
        return (Path(__file__).resolve().parents[2] / "templates" / name).read_text("utf-8")
