"""Linting as a project asks for it: the project's configuration (``[tool.confgen]`` or
``.confgen.toml``) supplies what the caller leaves unset, then its severity overrides and
per-file ignores are applied to the findings. The API's ``confgen.lint_project`` is this."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from confgen.lint.registry import LintResult
    from confgen.project_config import ProjectConfig


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
    contexts: list | None = None,
    behind: str | None = None,
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
        select=list(select) or list(config.default_select),
        # A selection on the command line replaces the file's selection, its ignores included.
        ignore=list(ignore) or ([] if select else list(config.ignore)),
        progress=progress,
        rule_options=config.rules,
        options_label=config.key_prefix,
        contexts=contexts,
        mapped=config.gunicorn_for,
        mapped_to=config.nginx_for,
        behind=_behind(behind) if behind else config.behind,
    )
    return engine.adjust_findings(result, severity=config.severity, ignored_for=config.ignored_for,
                                  min_severity=min_severity, config_label=str(config.path or ""))


def _behind(declared: str):
    """``--behind NAME`` or ``NAME:SECONDS`` (the idle timeout, where the balancer's is configurable)."""
    from confgen.errors import ConfgenError
    from confgen.hops import balancer_hop

    name, _, idle = declared.partition(":")
    try:
        seconds = float(idle) if idle else None
    except ValueError:
        raise ConfgenError(f"--behind {declared}: the idle timeout after ':' must be a number of seconds") from None
    return balancer_hop(name.strip(), idle_timeout=seconds, origin=f"--behind {declared}")
