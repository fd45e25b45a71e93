"""confgen: render and lint nginx + gunicorn configs for Python web apps.

The Python API, which the ``confgen`` command is a thin layer over::

    import confgen
    files = confgen.render_profile("profiles/fastapi-vps.yaml")   # {"nginx.conf": ..., "gunicorn.conf.py": ...}
    findings = confgen.lint_files(["deploy/nginx.conf"], gunicorn="deploy/gunicorn.conf.py")
    result = confgen.measure_logs(["access.log"], nginx_conf="nginx.conf")

The functions' names differ from the packages that implement them (``confgen.render``,
``confgen.lint``, ``confgen.measure`` are packages, imported as such).

Both raise ``ConfgenError`` for bad input; its ``lines`` are the one-line messages the CLI prints.
Modules are imported inside the functions so that ``import confgen`` stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from confgen.errors import ConfgenError

if TYPE_CHECKING:
    from confgen.lint.registry import Finding, LintResult
    from confgen.lint.fixes.apply import FixRun
    from confgen.measure.measuring import MeasureResult

__all__ = ["render_profile", "lint_files", "lint_project", "fix", "measure_logs", "ConfgenError"]


def render_profile(profile: str | os.PathLike | Mapping[str, Any], *, verify: bool = False) -> dict[str, str]:
    """Render a profile (a YAML path or an already-parsed mapping): file name -> text.

    The output is parsed back and linted with the profile first (``verify``: also the real
    ``nginx -t`` and ``gunicorn --check-config``); a finding at warning or above raises
    ConfgenError (exit code 1) instead of returning configs confgen's own linter rejects."""
    from confgen.render.checked import render_checked

    return render_checked(profile, verify=verify)[0]


def lint_files(paths: Sequence[str] | str, **options) -> list["Finding"]:
    """Lint nginx files; the options are those of :func:`lint_project`."""
    return lint_project(paths, **options).findings


def fix(paths: Sequence[str] | str, *, unsafe: bool = False, **options) -> "FixRun":
    """The fixes for what :func:`lint_project` (same options) finds, every pass (a fix can make
    another possible), without writing anything: ``.fixed`` (findings), ``.passes`` (each with
    its ``.edits``: file, start, end, old, new, rule), ``.unfixable`` (finding, reason),
    ``.diff()`` and ``.new_texts()`` (exactly what ``confgen lint --fix`` writes). ``unsafe``
    also takes fixes that change behaviour a user may rely on.
    ``confgen.lint.fixes.apply.write(run)`` writes them, all files or none."""
    from confgen.lint.fixes.apply import fix as plan_fixes

    return plan_fixes([paths] if isinstance(paths, str) else list(paths), unsafe=unsafe, **options)


def lint_project(paths: Sequence[str] | str, **options) -> "LintResult":
    """Lint with the project's configuration applied (the nearest ``[tool.confgen]`` or
    ``.confgen.toml``, or ``config=``); see :func:`confgen.lint.project.lint_project` for the options."""
    from confgen.lint.project import lint_project as lint_with_config

    return lint_with_config(paths, **options)


def measure_logs(logs: Sequence[str] | str = (), **options) -> "MeasureResult":
    """A profile measured from nginx access logs (paths, rotated sets, ``-`` for stdin) and/or
    saved states (``merge=[...]``). Options: nginx_conf, log_format, since, until, profile,
    merge, save_state, progress; the result holds ``profile_text``, ``measurements`` (key, value,
    how, sample, distribution) and ``to_json()``."""
    from confgen.measure.measuring import measure_logs as measure_from_logs

    return measure_from_logs([logs] if isinstance(logs, str) else list(logs), **options)
