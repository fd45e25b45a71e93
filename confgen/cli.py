"""The ``confgen`` command: a thin click layer over the Python API.

Heavy modules (jsonschema, jinja2, crossplane) are imported inside the commands that need them,
so ``confgen lint`` in a pre-commit hook does not pay for the renderer and vice versa.
"""

from __future__ import annotations

import sys

import click

from confgen.errors import ConfgenError


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
    from confgen import rendering as render_api

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
            diff = render_api.diff_against_disk(files, output_dir)
            if diff:
                click.echo(diff, nl=False)
                sys.exit(1)
            return
        for path in render_api.write_atomically(files, output_dir):
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
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--select", multiple=True, help="Only these rules (names or codes; repeat or comma-separate).")
@click.option("--ignore", multiple=True, help="Skip these rules (names or codes; repeat or comma-separate).")
def lint(files, gunicorn_path, gunicorn_cmd, profile_path, root, nginx_version, fmt, select, ignore) -> None:
    """Lint nginx FILES (and their gunicorn config) for proxy <-> app mistakes."""
    from confgen import lint as lint_api
    from confgen import output

    try:
        result = lint_api.lint(
            list(files),
            gunicorn=gunicorn_path,
            gunicorn_cmd=gunicorn_cmd,
            profile=profile_path,
            root=root,
            nginx_version=nginx_version,
            select=_split_names(select),
            ignore=_split_names(ignore),
        )
    except ConfgenError as error:
        _fail(error)
    click.echo(output.format_findings(result, fmt), nl=False)
    sys.exit(1 if result.has_problems else 0)


def _split_names(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]
