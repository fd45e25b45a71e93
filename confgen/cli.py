"""The ``confgen`` command: a thin click layer over the Python API.

Heavy modules (jsonschema, jinja2, crossplane) are imported inside the commands that need them,
so ``confgen lint`` in a pre-commit hook does not pay for the renderer and vice versa.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from confgen import files as files_io
from confgen.errors import ConfgenError


def run(argv: list[str] | None = None) -> None:
    """The console script: click, plus a clean exit on Ctrl-C and on a closed pipe."""
    try:
        main.main(args=argv, prog_name="confgen")
    except KeyboardInterrupt:
        click.echo("confgen: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()  # `confgen ... | head`: the reader left; say nothing more
        sys.exit(1)


def _fail(error: ConfgenError) -> None:
    for line in error.lines:
        click.echo(line, err=True)
    sys.exit(error.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="confgen")
def main() -> None:
    """Render and lint nginx + gunicorn configs for Python web apps."""


@main.command()
@click.argument("profile_path", metavar="PROFILE")
@click.option("-o", "--output-dir", default=".", show_default=True, help="Where to write nginx.conf and gunicorn.conf.py.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the configs instead of writing them.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when the files on disk differ.")
@click.option("--explain", is_flag=True, help="Print the sizing plan (setting, value, reason) instead of writing.")
def render(profile_path: str, output_dir: str, to_stdout: bool, check: bool, explain: bool) -> None:
    """Render nginx.conf and gunicorn.conf.py from a YAML PROFILE."""
    from confgen.render import rendering as render_api

    try:
        if explain:
            click.echo(render_api.explain_table(profile_path))
            return
        files = render_api.render_profile(profile_path)
        if to_stdout:
            for name, text in files.items():
                click.echo(f"# ---- {name} ----")
                click.echo(text, nl=False)
            return
        if check:
            diff = files_io.diff_against_disk(files, output_dir)
            if diff:
                click.echo(diff, nl=False)
                sys.exit(1)
            return
        for path in files_io.write_atomically(files, output_dir):
            click.echo(f"wrote {path}")
    except ConfgenError as error:
        _fail(error)


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--gunicorn", "gunicorn_path", help="The gunicorn.conf.py that serves behind these nginx files.")
@click.option("--gunicorn-cmd", help='A gunicorn command line, as in a Procfile or ExecStart ("gunicorn -k ... app:app").')
@click.option("--profile", "profile_path", help="A confgen profile: adds capacity checks against its load.")
@click.option("--root", help="The main nginx.conf, when FILES are snippets it includes.")
@click.option("--nginx-version", help="Target nginx version (default: installed nginx, else 1.22).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True)
@click.option("--select", multiple=True, help="Only these rules (names, codes or code prefixes; repeat or comma-separate).")
@click.option("--ignore", multiple=True, help="Skip these rules (names, codes or code prefixes).")
@click.option("--min-severity", type=click.Choice(["error", "warning", "info"]), default="info", show_default=True,
              help="Hide findings below this severity (each finding's own).")
@click.option("-q", "--quiet", is_flag=True, help="Only the findings: no notes, no summary.")
def lint(files, gunicorn_path, gunicorn_cmd, profile_path, root, nginx_version, fmt, select, ignore, min_severity, quiet) -> None:
    """Lint nginx FILES (and their gunicorn config) for proxy <-> app mistakes; - reads stdin."""
    import os

    from confgen import lint_project
    from confgen.lint import output

    try:
        result = lint_project(
            list(files),
            gunicorn=gunicorn_path,
            gunicorn_cmd=gunicorn_cmd,
            profile=profile_path,
            root=root,
            nginx_version=nginx_version,
            select=_split_names(select),
            ignore=_split_names(ignore),
            min_severity=min_severity,
            progress=_progress_line if len(files) >= PROGRESS_MIN_FILES and sys.stderr.isatty() else None,
        )
        if len(files) >= PROGRESS_MIN_FILES and sys.stderr.isatty():
            click.echo("\r\033[K", nl=False, err=True)
        color = fmt == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(output.format_findings(result, fmt, color=color, quiet=quiet), nl=False, color=color)
    except ConfgenError as error:
        _fail(error)
    sys.exit(1 if result.has_problems else 0)


PROGRESS_MIN_FILES = 20


def _progress_line(number: int, total: int, path: str) -> None:
    """One self-overwriting line on a terminal's stderr while many files are linted."""
    click.echo(f"\r\033[Klinting {number}/{total}: {path[-60:]}", nl=False, err=True)


def _split_names(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@main.command("render-check")
@click.argument("profiles", nargs=-1)
def render_check(profiles: tuple[str, ...]) -> None:
    """Exit 1 with a diff when committed configs differ from what their profiles render.

    With no PROFILES, checks every profile in the project config's `profiles` table
    (profile -> output directory); a profile given here uses that table's directory too,
    else its own directory.
    """
    from confgen.render import rendering
    from confgen.project_config import find_project_config

    try:
        config = find_project_config()
        targets = {Path(p).resolve(): config.profiles.get(Path(p).resolve(), Path(p).resolve().parent) for p in profiles}
        if not profiles:
            targets = {path.resolve(): out for path, out in config.profiles.items()}
        if not targets:
            click.echo("confgen: no profiles to check (give PROFILE or set `profiles` in [tool.confgen])", err=True)
            return
        stale = False
        for profile, output_dir in targets.items():
            diff = files_io.diff_against_disk(rendering.render_profile(profile), output_dir)
            if diff:
                stale = True
                click.echo(f"{profile}: {output_dir} is stale; run `confgen render {profile} -o {output_dir}`", err=True)
                click.echo(diff, nl=False)
    except ConfgenError as error:
        _fail(error)
    sys.exit(1 if stale else 0)


@main.command()
def schema() -> None:
    """Print the profile JSON Schema (for editors: yaml-language-server, VS Code)."""
    import json

    from confgen.render.profile import profile_schema

    click.echo(json.dumps(profile_schema(), indent=2))


@main.command()
@click.option("-o", "--output", default="profile.yaml", show_default=True, help="The profile to write.")
@click.option("--cpus", type=click.IntRange(1), help="CPU cores (default: this machine's).")
@click.option("--kind", type=click.Choice(["asgi", "wsgi"]), help="asgi (FastAPI) or wsgi (Django, Flask).")
@click.option("--module", help="The app as gunicorn loads it, e.g. api.main:app.")
@click.option("--name", default="app", show_default=True, help="A short name for the app.")
@click.option("--force", is_flag=True, help="Overwrite an existing profile.")
def init(output: str, cpus: int | None, kind: str | None, module: str | None, name: str, force: bool) -> None:
    """Write a starter profile; asks for what is missing only on a terminal."""
    import os

    from confgen.render import rendering

    target = Path(output)
    if target.exists() and not force:
        _fail(ConfgenError(f"{target}: exists; pass --force to overwrite it"))
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if kind is None:
        kind = click.prompt("App kind", type=click.Choice(["asgi", "wsgi"]), default="asgi") if interactive else "asgi"
    if module is None:
        default_module = "api.main:app" if kind == "asgi" else "mysite.wsgi:application"
        module = click.prompt("App module", default=default_module) if interactive else default_module
    try:
        text = rendering.starter_profile(name=name, cpus=cpus or os.cpu_count() or 1, kind=kind, module=module,
                                         file_name=target.name)
        files_io.write_atomically({target.name: text}, target.parent if str(target.parent) else Path("."))
    except ConfgenError as error:
        _fail(error)
    click.echo(f"wrote {target}; next: confgen render {target} --explain")


@main.command("rules")
def list_rules() -> None:
    """List every lint rule: code, name, severity, summary."""
    from confgen.lint.docs import rules_table

    click.echo(rules_table(), nl=False)


@main.command("rule")
@click.argument("name_or_code")
def show_rule(name_or_code: str) -> None:
    """Show one rule's documentation: what, why, a bad and a good example."""
    from confgen.lint.engine import get_rule
    from confgen.lint.docs import rule_text

    try:
        click.echo(rule_text(get_rule(name_or_code)), nl=False)
    except ConfgenError as error:
        _fail(error)
