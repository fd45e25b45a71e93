"""The ``confgen`` command: a thin click layer over the Python API.

Heavy modules (jsonschema, jinja2, crossplane) are imported inside the commands that need them,
so ``confgen lint`` in a pre-commit hook does not pay for the renderer and vice versa.
"""

from __future__ import annotations

import gc
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
    finally:
        # The process ends next. Python's shutdown runs a full cycle collection over every object
        # still alive (each module, class and function confgen and click loaded): ~9 ms of a
        # 110 ms `confgen lint`, to find garbage that exiting frees anyway. Frozen objects are
        # left out of it; reference counting still frees them as modules are torn down.
        gc.freeze()


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
@click.option("-o", "--output-dir", default=".", show_default=True,
              help="Where to write nginx.conf and gunicorn.conf.py (created when missing).")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the configs instead of writing them.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 with a diff when the files on disk differ.")
@click.option("--explain", is_flag=True, help="Print the sizing plan (setting, value, reason) and the self-check instead of writing.")
@click.option("--verify", is_flag=True, help="Also run the real `nginx -t` and `gunicorn --check-config` (when installed) on the output.")
@click.option("--force", is_flag=True, help="Replace files in the output directory that confgen did not write, or that "
              "were edited since (never a read-only file or a symbolic link).")
@click.option("--target", type=click.Choice(["nginx", "kubernetes"]), default="nginx", show_default=True,
              help="nginx: nginx.conf + gunicorn configs; kubernetes: kubernetes.yaml (Deployment, Service, "
                   "ConfigMap with both configs, HPA, PDB, and the Ingress or HTTPRoute `behind` names).")
def render(profile_path: str, output_dir: str, to_stdout: bool, check: bool, explain: bool, verify: bool,
           force: bool, target: str) -> None:
    """Render nginx.conf and gunicorn.conf.py from a YAML PROFILE.

    The output is parsed back and linted with the profile before anything is written; a finding
    at warning or above writes nothing and exits 1. A file already in the output directory that
    confgen did not write, or that was edited since, is not replaced without --force (exit 2)."""
    from confgen.render import checked as checked_render
    from confgen.render import rendering as render_api

    try:
        if explain and target == "kubernetes":
            from confgen.render.kubernetes import explain_kubernetes, render_kubernetes

            click.echo(explain_kubernetes(profile_path))
            _, self_check = render_kubernetes(profile_path, verify=verify)
            click.echo("")
            click.echo("\n".join(self_check.lines()))
            sys.exit(0 if self_check.passed else 1)
        if explain:
            click.echo(render_api.explain_table(profile_path))
            _, self_check = checked_render.render_with_check(profile_path, verify=verify)
            click.echo("")
            click.echo("\n".join(self_check.lines()))
            sys.exit(0 if self_check.passed else 1)
        if check:
            render_api.read_only_cache()
        if check and not verify and target == "nginx":
            # Only reads (not even a temp file): the files on disk were self-checked when written.
            diff = files_io.diff_against_disk(render_api.render_profile(profile_path), output_dir)
            if diff:
                click.echo(diff, nl=False)
                sys.exit(1)
            return
        if target == "kubernetes":
            from confgen.render.kubernetes import render_kubernetes

            files, self_check = render_kubernetes(profile_path, verify=verify)
        else:
            files, self_check = checked_render.render_checked(profile_path, verify=verify)
        if verify:
            for line in self_check.lines():
                click.echo(line, err=True)
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
        for path in checked_render.write_rendered(files, output_dir, force=force):
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
@click.option("--select", multiple=True, help="Only these rules (names, codes, code prefixes, a group such as "
              "hardening, or ALL; repeat or comma-separate). Default: the default group.")
@click.option("--ignore", multiple=True, help="Skip these rules (names, codes or code prefixes).")
@click.option("--min-severity", type=click.Choice(["error", "warning", "info"]), default="info", show_default=True,
              help="Hide findings below this severity (each finding's own).")
@click.option("-q", "--quiet", is_flag=True, help="Only the findings: no notes, no summary.")
@click.option("--fix", "apply_fixes", is_flag=True, help="Apply the safe fixes in place, then report what is left.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the fixes as a unified diff; change nothing (exit 1 if any).")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (or show) fixes that change behaviour a user may rely on.")
@click.option("--behind", help="The balancer in front: aws-alb, aws-elb, gclb, heroku, ingress-nginx, gateway-api or "
              "haproxy (gateway-api and haproxy need their idle timeout), optionally with its idle timeout (aws-alb:120). "
              "Its chain with nginx, or with an app given alone, is checked.")
def lint(files, gunicorn_path, gunicorn_cmd, profile_path, root, nginx_version, fmt, select, ignore, min_severity, quiet,
         apply_fixes, show_diff, unsafe_fixes, behind) -> None:
    """Lint nginx FILES (and their gunicorn config) for proxy <-> app mistakes; - reads stdin."""
    import os

    from confgen.lint import output
    from confgen.lint.fixes import apply as fixes

    try:
        if (apply_fixes or show_diff) and "-" in files:
            raise ConfgenError("--fix/--diff: stdin cannot be fixed in place; give the files")
        lint_options = dict(
            gunicorn=gunicorn_path,
            gunicorn_cmd=gunicorn_cmd,
            profile=profile_path,
            root=root,
            nginx_version=nginx_version,
            select=_split_names(select),
            ignore=_split_names(ignore),
            min_severity=min_severity,
            behind=behind,
        )
        if show_diff:
            _print_diff(fixes.run(list(files), unsafe=unsafe_fixes, **lint_options))
        run = fixes.fix_in_place(list(files), unsafe=unsafe_fixes, **lint_options) if apply_fixes else None
        result, contexts = fixes.lint_with_contexts(
            list(files), **lint_options,
            progress=_progress_line if len(files) >= PROGRESS_MIN_FILES and sys.stderr.isatty() else None,
        ) if run is None else (run.result, run.contexts)
        if len(files) >= PROGRESS_MIN_FILES and sys.stderr.isatty():
            click.echo("\r\033[K", nl=False, err=True)
        if run is not None and not quiet:
            click.echo(f"fixed {run.applied} finding(s) in {len(run.written)} file(s)"
                       + "".join(f"\n  {path}" for path in run.written), err=True)
        plan = fixes.plan(contexts, result.findings, unsafe=unsafe_fixes) if contexts is not None and fmt == "text" \
            else None
        color = fmt == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(output.format_findings(result, fmt, color=color, quiet=quiet, fixes=plan), nl=False, color=color)
    except ConfgenError as error:
        _fail(error)
    sys.exit(1 if result.has_problems else 0)


PROGRESS_MIN_FILES = 20


def _print_diff(run) -> None:
    """`lint --diff`: what --fix would write, as a unified diff; exit 1 when there is one."""
    diff = run.diff()
    click.echo(diff, nl=False)
    click.echo(f"would fix {run.applied} finding(s) in {len(run.changed())} file(s)"
               + (f"; {len(run.unsafe)} more with --unsafe-fixes" if run.unsafe else ""), err=True)
    sys.exit(1 if diff else 0)


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
    else its own directory. A directory holding kubernetes.yaml is checked against
    `render --target kubernetes` (with its self-check); one holding nginx.conf, or neither,
    against the nginx configs.
    """
    from confgen.render import rendering
    from confgen.render.kubernetes import MANIFEST_FILE, render_kubernetes
    from confgen.project_config import find_project_config

    try:
        rendering.read_only_cache()  # render-check only reads
        config = find_project_config()
        targets = {Path(p).resolve(): config.profiles.get(Path(p).resolve(), Path(p).resolve().parent) for p in profiles}
        if not profiles:
            targets = {path.resolve(): out for path, out in config.profiles.items()}
        if not targets:
            click.echo("confgen: no profiles to check (give PROFILE or set `profiles` in [tool.confgen])", err=True)
            return
        stale = False
        for profile, output_dir in targets.items():
            rendered: dict[str, str] = {}
            if (Path(output_dir) / MANIFEST_FILE).exists():
                rendered.update(render_kubernetes(profile)[0])
            if (Path(output_dir) / rendering.NGINX_FILE).exists() or not rendered:
                rendered.update(rendering.render_profile(profile))
            diff = files_io.diff_against_disk(rendered, output_dir)
            if diff:
                stale = True
                target = " --target kubernetes" if MANIFEST_FILE in rendered else ""
                click.echo(f"{profile}: {output_dir} is stale; run `confgen render {profile}{target} -o {output_dir}`",
                           err=True)
                click.echo(diff, nl=False)
    except ConfgenError as error:
        _fail(error)
    sys.exit(1 if stale else 0)


@main.command()
def schema() -> None:
    """Print the profile JSON Schema (for editors: yaml-language-server, VS Code)."""
    import json

    from confgen.profile.loading import profile_schema

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


@main.command()
@click.argument("logs", nargs=-1)
@click.option("--nginx-conf", help="The nginx.conf that writes these logs: its access_log's log_format is read.")
@click.option("--log-format", multiple=True,
              help="confgen, main, combined, json, or a log_format string ('$remote_addr ... $msec ...'); "
                   "repeat it for a log whose format changed: each line is read by the first that matches.")
@click.option("--since", help="Only requests from this time (2026-11-18, 2026-11-18T10:00, epoch; UTC).")
@click.option("--until", help="Only requests before this time.")
@click.option("--profile", "profile_path", help="The profile to start from: its keys are kept where the log says nothing.")
@click.option("-o", "--output", help="Write the measured profile here (default: print it).")
@click.option("--explain", is_flag=True, help="Print the table: key, value, sample size, p50/p90/p99/max, how.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="json: the profile, every measurement and the reading summary, for machines.")
@click.option("--html", "html_path", help="Write a self-contained HTML report (charts, the profile and its reasons).")
@click.option("--save-state", help="Also write what was measured as mergeable state (see --merge).")
@click.option("--merge", "merge_states", is_flag=True, help="LOGS are states written by --save-state (one per host): add them up.")
@click.option("--max-malformed", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Fail when a larger share of a log's lines is unreadable.")
def measure(logs, nginx_conf, log_format, since, until, profile_path, output, explain, fmt, html_path,
            save_state, merge_states, max_malformed) -> None:
    """Measure a profile from nginx access LOGS (plain, .gz, rotated sets, - for stdin)."""
    import json

    from confgen import measure_logs as measure_api
    from confgen.measure import sources
    from confgen.measure.measurements import explain_table

    merge_paths = list(logs) if merge_states else []
    logs = () if merge_states else logs
    bar = None
    if sys.stderr.isatty() and logs:
        bar = sources.ProgressBar(sum(sources.source_size(path) or 0 for path in logs) or None)
    try:
        result = measure_api(list(logs), nginx_conf=nginx_conf, log_format=log_format, since=since, until=until,
                             profile=profile_path, merge=list(merge_paths), save_state=save_state,
                             progress=bar.advance if bar else None, max_malformed=max_malformed)
        if bar:
            bar.close()
        for warning in result.warnings:
            click.echo(f"confgen measure: {warning}", err=True)
        if html_path:
            from confgen.measure.report import write_report

            write_report(html_path, result)
        if output:
            target = Path(output)
            files_io.write_atomically({target.name: result.profile_text}, target.parent)
            click.echo(f"wrote {target}; next: confgen render {target} --explain", err=True)
        if fmt == "json":
            click.echo(json.dumps(result.to_json(), indent=2))
        elif explain:
            click.echo(explain_table(result.measurements), nl=False)
        elif not output:
            click.echo(result.profile_text, nl=False)
    except ConfgenError as error:
        if bar:
            bar.close()
        _fail(error)
