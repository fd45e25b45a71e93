"""confgen: render and lint nginx + gunicorn configs for Python web apps.

The Python API, which the ``confgen`` command is a thin layer over::

    import confgen
    files = confgen.render("profiles/fastapi-vps.yaml")   # {"nginx.conf": ..., "gunicorn.conf.py": ...}
    findings = confgen.lint(["deploy/nginx.conf"], gunicorn="deploy/gunicorn.conf.py")

Both raise ``ConfgenError`` for bad input; its ``lines`` are the one-line messages the CLI prints.
Modules are imported inside the functions so that ``import confgen`` stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from confgen.errors import ConfgenError

# The API's functions share their names with the packages that implement them (confgen.lint,
# confgen.render). Importing a subpackage sets it as an attribute of this package the first time
# only, so the (empty) packages are imported here, before the functions below take their names.
import confgen.lint  # noqa: E402,F401  isort: skip
import confgen.render  # noqa: E402,F401  isort: skip

if TYPE_CHECKING:
    from confgen.lint.registry import Finding, LintResult
    from confgen.project_config import ProjectConfig

__all__ = ["render", "lint", "lint_project", "ConfgenError"]


def render(profile: str | os.PathLike | Mapping[str, Any]) -> dict[str, str]:
    """Render a profile (a YAML path or an already-parsed mapping): file name -> text."""
    from confgen.render.rendering import render_profile

    return render_profile(profile)


def lint(paths: Sequence[str] | str, **options) -> list["Finding"]:
    """Lint nginx files; the options are those of :func:`lint_project`."""
    return lint_project(paths, **options).findings


def lint_project(
    paths: Sequence[str] | str,
    *,
    gunicorn: str | None = None,
    gunicorn_cmd: str | None = None,
    profile: str | None = None,
    root: str | None = None,
    nginx_version: str | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    min_severity: str = "info",
    config: "ProjectConfig | None" = None,
    progress=None,
) -> "LintResult":
    """Lint with the project's configuration applied: the nearest ``[tool.confgen]`` or
    ``.confgen.toml`` (or ``config``) supplies what the arguments leave unset; arguments win.
    Per-rule severity overrides and per-file ignores are applied to the findings, then
    ``min_severity`` drops findings below it (by each finding's own severity). ``progress``,
    if given, is called with (number, total, path) as each file is read."""
    from confgen.lint import engine
    from confgen.project_config import find_project_config

    paths = [paths] if isinstance(paths, str) else list(paths)
    first = next((p for p in paths if p != "-"), None)
    if config is None:
        config = find_project_config(os.path.dirname(os.path.abspath(first)) if first else None)
    if gunicorn is None and gunicorn_cmd is None and first is not None:
        pairing = config.gunicorn_for(first)
        if pairing is not None:
            gunicorn = str(pairing.config) if pairing.config else None
            gunicorn_cmd = pairing.cmd
    if root is None and config.root is not None and first is not None \
            and os.path.abspath(first) != os.path.abspath(config.root):
        root = str(config.root)
    result = engine.lint(
        paths,
        gunicorn=gunicorn,
        gunicorn_cmd=gunicorn_cmd,
        profile=profile,
        root=root,
        nginx_version=nginx_version or config.nginx_version,
        select=list(select) or list(config.select),
        # A selection on the command line replaces the file's selection, its ignores included.
        ignore=list(ignore) or ([] if select else list(config.ignore)),
        progress=progress,
    )
    return engine.adjust_findings(result, severity=config.severity, ignored_for=config.ignored_for,
                                  min_severity=min_severity, config_label=str(config.path or ""))
