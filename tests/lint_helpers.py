"""Helpers shared by the lint tests: write a small config tree, lint it, look at the findings."""

from __future__ import annotations

import textwrap
from pathlib import Path

from confgen.lint.engine import lint
from confgen.lint.registry import LintResult


# The lint results of the running test, for its diagnostics snapshot (conftest's
# ``diagnostics_snapshot``); None while no snapshot is being taken.
RECORDED: list | None = None


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def lint_config(tmp_path: Path, nginx: str, *, gunicorn: str | None = None, files: dict[str, str] | None = None,
                main: str = "nginx.conf", app_command: str | None = None, **options) -> LintResult:
    """Lint ``nginx`` saved as ``main`` in tmp_path (with ``gunicorn`` beside it as
    gunicorn.conf.py, or ``app_command`` as a Procfile, and any other ``files``); options go to
    :func:`confgen.lint.engine.lint`."""
    tree = {main: nginx, **(files or {})}
    if gunicorn is not None:
        tree["gunicorn.conf.py"] = gunicorn
    if app_command is not None:
        tree["Procfile"] = f"web: {app_command}\n"
    write_tree(tmp_path, tree)
    options.setdefault("nginx_version", "1.22.1")
    # Every rule, whatever its group (hardening rules are opt-in): each test names the rules it checks.
    options.setdefault("select", ["ALL"])
    # And the pool advice for apps it cannot see (a note by default): tests of the default pass
    # rule_options themselves.
    asked = options.get("rule_options") or {}
    options["rule_options"] = {name: {"unknown-app": True} for name in ("upstream-no-keepalive",
                                                                        "proxy-pass-no-upstream")} | asked
    result = lint([str(tmp_path / main)], **options)
    if RECORDED is not None:
        RECORDED.append((tmp_path, result))
    return result


def rules_of(result: LintResult) -> list[str]:
    return [f.rule for f in result.findings]


def only(result: LintResult, name: str):
    """The findings of one rule."""
    return [f for f in result.findings if f.rule == name]


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the first line containing ``needle``: tests name lines by content."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# A whole config around an http-level body, so "full" rules have what they need and stay quiet.
def full(http_body: str, *, top: str = "worker_processes auto;\n") -> str:
    return top + "events { worker_connections 512; }\nhttp {\n" + textwrap.dedent(http_body) + "\n}\n"


def run_without_read_override(command: list[str], *, cwd=None, env=None):
    """``command`` as a process that cannot read files whatever their mode: as root, with the
    capabilities that let root ignore file modes dropped (capsh, from libcap2-bin); otherwise as
    the user itself. Skips the test where no such process can be made."""
    import os
    import shlex
    import shutil
    import subprocess

    import pytest

    if hasattr(os, "geteuid") and os.geteuid() == 0:
        capsh = shutil.which("capsh")
        if capsh is None:
            pytest.skip("running as root without capsh: root reads files whatever their mode")
        command = [capsh, "--drop=cap_dac_override,cap_dac_read_search", "--",
                   "-c", " ".join(shlex.quote(part) for part in command)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=cwd, env=env)
    if "Operation not permitted" in result.stderr and "capsh" in command[0]:
        pytest.skip("capsh cannot drop capabilities here")
    return result
