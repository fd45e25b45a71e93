"""Render, then check what was rendered before anyone writes it: the design card's last two steps.

profile -> Jinja -> files -> parsed back (confgen's nginx parser) -> linted as a pair with the
profile, so the capacity rules run too. A finding at warning or above means confgen would ship a
config its own linter rejects: :func:`render_checked` raises instead of returning the files.
With ``verify``, the real ``nginx -t`` (in a temp prefix, the target's includes resolvable) and
``gunicorn --check-config`` run as well, when they are installed.

This module sits above ``confgen.render`` and ``confgen.lint`` (lint imports render's sizing, so
render cannot import lint); the API (``confgen.render``) and the CLI's render command use it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from confgen.errors import ConfgenError
from confgen.profile.loading import Profile, load_profile
from confgen.render import stamp
from confgen.render.rendering import NGINX_FILE, render_plan, route_file_names
from confgen.profile.sizing import Plan, balancer, plan

if TYPE_CHECKING:
    import subprocess

BLOCKING = ("error", "warning")
TOOL_TIMEOUT_S = 60


class SelfCheckFailed(ConfgenError):
    """The rendered configs fail confgen's own lint or the real tools: nothing is written."""

    exit_code = 1


@dataclass
class SelfCheck:
    """What the self-check found (findings at every severity) and what it ran."""

    findings: list = field(default_factory=list)
    ran: list[str] = field(default_factory=list)       # "lint (2 files, profile capacity rules)", "nginx -t: ok"
    skipped: list[str] = field(default_factory=list)   # "gunicorn --check-config: gunicorn is not installed"
    failures: list[str] = field(default_factory=list)  # a real tool rejected the output
    unimportable: list[str] = field(default_factory=list)  # apps gunicorn could not load from here

    @property
    def blocking(self) -> list:
        return [f for f in self.findings if f.severity in BLOCKING]

    @property
    def passed(self) -> bool:
        return not self.blocking and not self.failures

    def lines(self) -> list[str]:
        """The self-check's report, one line each, for ``--explain`` and for a refusal."""
        lines = [f"self-check: {what}" for what in self.ran]
        lines += [f"self-check: skipped {what}" for what in self.skipped]
        lines += [f"{f.file}:{f.line}: {f.code} {f.rule} ({f.severity}): {f.message}" for f in self.findings]
        lines += self.failures
        verdict = "passed" if self.passed else "FAILED: nothing written"
        lines.append(f"self-check {verdict}")
        return lines


def render_checked(source: str | os.PathLike | Mapping[str, Any] | Profile, *, verify: bool = False) -> tuple[dict[str, str], SelfCheck]:
    """Render a profile and check the result; SelfCheckFailed (exit 1) when the check fails."""
    files, check = render_with_check(source, verify=verify)
    if check.blocking:
        raise SelfCheckFailed("confgen render: confgen's own linter rejects what it rendered (a confgen bug: "
                              "please report it with the profile); nothing written", *check.lines())
    if check.failures and len(check.unimportable) == len(check.failures):
        raise SelfCheckFailed(f"confgen render --verify: the app ({', '.join(check.unimportable)}) does not load "
                              f"from {os.getcwd()}: gunicorn --check-config cannot finish here; the configs "
                              f"themselves pass the checks below; nothing written", *check.lines())
    if check.failures:
        raise SelfCheckFailed("confgen render: the real tools reject the rendered configs; nothing written",
                              *check.lines())
    return files, check


def render_with_check(source: str | os.PathLike | Mapping[str, Any] | Profile, *, verify: bool = False) -> tuple[dict[str, str], SelfCheck]:
    """The files and the self-check's result, whatever it is (``--explain`` shows a failure too)."""
    profile = source if isinstance(source, Profile) else load_profile(source)
    the_plan = plan(profile)
    files = render_plan(the_plan)
    check = SelfCheck()
    with tempfile.TemporaryDirectory(prefix="confgen-check-") as directory:
        _lint_rendered(the_plan, files, Path(directory), check)
        if verify:
            _verify_nginx(profile, Path(directory), check)
            _verify_gunicorn(the_plan, files, Path(directory), check)
    return files, check


def _lint_rendered(the_plan: Plan, files: dict[str, str], directory: Path, check: SelfCheck) -> None:
    """Lint nginx.conf once per route, paired with that route's gunicorn config and load (with no
    nginx: the gunicorn config alone behind the balancer)."""
    from confgen.lint import engine

    written = directory / "rendered"
    written.mkdir()
    for name, text in files.items():
        (written / name).write_text(text, encoding="utf-8")
    if not the_plan.profile.nginx_in_front:
        _lint_app_alone(the_plan, written, check)
        return
    _copy_mime_types(the_plan.profile, written)
    version = ".".join(map(str, the_plan.profile.nginx_version))
    owned = _route_lines(written / NGINX_FILE, the_plan) if len(the_plan.routes) > 1 else {}
    seen = set()
    for route_plan in the_plan.routes:
        gunicorn_file = written / route_file_names(the_plan, route_plan)["gunicorn"]
        # The declared balancer is the chain's first hop: the lint side checks nginx against it.
        result = engine.lint([str(written / NGINX_FILE)], gunicorn=str(gunicorn_file),
                             profile=route_plan.profile, nginx_version=version, behind=balancer(the_plan.profile))
        others = set().union(*(lines for name, lines in owned.items() if name != route_plan.route.name))
        for finding in result.findings:
            # A gunicorn on 0.0.0.0:8000 "serves" every upstream on port 8000, another route's
            # too: each pair is judged on its own route's blocks (and the shared ones).
            if os.path.basename(finding.file) == NGINX_FILE and finding.line in others:
                continue
            shown = dataclasses.replace(finding, file=os.path.basename(finding.file))
            if shown not in seen:
                seen.add(shown)
                check.findings.append(shown)
    routes = len(the_plan.routes)
    hop = balancer(the_plan.profile)
    front = f", behind {hop.label}" if hop is not None else ""
    share = " (one replica's share)" if the_plan.replicas is not None and the_plan.replicas.value > 1 else ""
    check.ran.append(f"parsed back and linted nginx.conf with {'each of ' if routes > 1 else ''}"
                     f"{routes} gunicorn config{'s' if routes > 1 else ''} and the profile's load{share}"
                     f"{front} (nginx {version}): {len(check.blocking)} findings at warning or above")


def _lint_app_alone(the_plan: Plan, written: Path, check: SelfCheck) -> None:
    """gunicorn straight behind the balancer: its chain with the balancer, as `confgen lint
    gunicorn.conf.py --behind ...` checks it."""
    from confgen.lint import engine

    hop = balancer(the_plan.profile)
    gunicorn_file = written / route_file_names(the_plan, the_plan.routes[0])["gunicorn"]
    result = engine.lint([str(gunicorn_file)], behind=hop)
    check.findings.extend(dataclasses.replace(f, file=os.path.basename(f.file)) for f in result.findings)
    check.ran.append(f"linted gunicorn.conf.py behind {hop.label} (no nginx): {len(check.blocking)} findings at "
                     f"warning or above")


def _route_lines(nginx_file: Path, the_plan: Plan) -> dict[str, set[int]]:
    """Route name -> the lines of its upstream block and of the location that proxies to it."""
    from confgen.nginx.parse import load_nginx

    config = load_nginx(str(nginx_file))
    owned: dict[str, set[int]] = {}
    for route_plan in the_plan.routes:
        name = route_plan.route.name
        blocks = [config.upstreams().get(name)] + [
            d for d in config.find_all("location") if any(p.args == [f"http://{name}"] for p in d.find_any("proxy_pass"))]
        owned[name] = {d.line for block in blocks if block is not None for d in block.walk()}
    return owned


def _copy_mime_types(profile: Profile, directory: Path) -> None:
    """A relative ``include mime.types`` resolves against nginx's conf directory: put the installed
    one (else a minimal one) beside the rendered nginx.conf."""
    include = profile.nginx.mime_types
    if os.path.isabs(include):
        return
    target = directory / include
    target.parent.mkdir(parents=True, exist_ok=True)
    installed = Path("/etc/nginx") / include
    if installed.is_file():
        target.write_bytes(installed.read_bytes())
    else:
        target.write_text("types {\n    text/html html;\n    application/json json;\n}\n")


def _find_tool(name: str) -> str | None:
    import shutil  # shutil and subprocess only for --verify: a render without it runs no tool

    return shutil.which(name) or next((str(p) for p in (Path("/usr/sbin") / name, Path("/usr/local/sbin") / name)
                                       if p.exists()), None)


def _verify_nginx(profile: Profile, directory: Path, check: SelfCheck) -> None:
    """The real ``nginx -t`` on the same profile rendered with its pid and logs in a temp prefix
    (so it runs unprivileged) and, where the certificate is not on this machine, a throwaway one."""
    if not profile.nginx_in_front:
        return  # nothing to check: the profile has no nginx
    nginx = _find_tool("nginx")
    if nginx is None:
        check.skipped.append("nginx -t: nginx is not installed")
        return
    prefix = directory / "nginx-prefix"
    conf = prefix / "conf"
    (prefix / "logs").mkdir(parents=True)
    conf.mkdir()
    site = dataclasses.replace(profile.nginx, pid=str(prefix / "logs" / "nginx.pid"),
                               error_log=str(prefix / "logs" / "error.log"),
                               access_log="off" if profile.nginx.access_log == "off" else str(prefix / "logs" / "access.log"))
    local = dataclasses.replace(profile, nginx=site)
    note = ""
    if profile.tls and not (os.path.isfile(profile.tls.certificate) and os.path.isfile(profile.tls.certificate_key)):
        certificate = _throwaway_certificate(prefix)
        if certificate is None:
            check.skipped.append(f"nginx -t: {profile.tls.certificate} is not on this machine and openssl is "
                                 f"not installed to stand in for it")
            return
        local = dataclasses.replace(local, tls=dataclasses.replace(profile.tls, certificate=certificate[0],
                                                                   certificate_key=certificate[1]))
        note = " (with a throwaway certificate: the profile's is not on this machine)"
    (conf / NGINX_FILE).write_text(render_plan(plan(local))[NGINX_FILE], encoding="utf-8")
    _copy_mime_types(profile, conf)
    result = _run([nginx, "-t", "-q", "-p", str(prefix), "-c", str(conf / NGINX_FILE)])
    if result is None:
        check.failures.append(f"nginx -t: did not finish in {TOOL_TIMEOUT_S}s")
    elif result.returncode == 0:
        check.ran.append(f"nginx -t ({nginx}): ok{note}")
    else:
        output = (result.stdout + result.stderr).strip().replace(str(conf / NGINX_FILE), NGINX_FILE)
        check.failures.append(f"nginx -t ({nginx}) failed: {' | '.join(output.splitlines())}")


def _throwaway_certificate(prefix: Path) -> tuple[str, str] | None:
    openssl = _find_tool("openssl")
    if openssl is None:
        return None
    certificate, key = prefix / "throwaway.pem", prefix / "throwaway.key"
    result = _run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=confgen-check",
                   "-keyout", str(key), "-out", str(certificate)])
    return (str(certificate), str(key)) if result is not None and result.returncode == 0 else None


def _verify_gunicorn(the_plan: Plan, files: dict[str, str], directory: Path, check: SelfCheck) -> None:
    """``gunicorn --check-config`` on each gunicorn config, from the current directory (where the
    app is importable, as when gunicorn starts it). When only the app does not load here, the
    failure says so: gunicorn validated the settings before it tried."""
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        check.skipped.append("gunicorn --check-config: gunicorn is not installed")
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    for route_plan in the_plan.routes:
        name = route_file_names(the_plan, route_plan)["gunicorn"]
        path = directory / name
        path.write_text(files[name], encoding="utf-8")
        result = _run([sys.executable, "-m", "gunicorn", "--check-config", "-c", str(path)], env=env)
        if result is None:
            check.failures.append(f"gunicorn --check-config {name}: did not finish in {TOOL_TIMEOUT_S}s")
            continue
        if result.returncode == 0:
            check.ran.append(f"gunicorn --check-config {name}: ok")
            continue
        output = (result.stdout + result.stderr).strip()
        last = output.splitlines()[-1] if output else f"exit {result.returncode}"
        if _APP_LOAD_FAILED not in output:
            check.failures.append(f"gunicorn --check-config {name} failed (run from {os.getcwd()}, where the app "
                                  f"must be importable): {last}")
            continue
        module = route_plan.profile.app.module
        check.unimportable.append(module)
        check.failures.append(f"gunicorn --check-config {name}: only the app failed: {module} does not load from "
                              f"{os.getcwd()} ({last}); the settings pass gunicorn's own validation (it reads them "
                              f"before it loads the app). Run --verify where the app imports (its project "
                              f"directory, with its virtualenv) to have gunicorn load it too")


# What gunicorn --check-config prints when every setting was read and validated but loading
# the app raised (gunicorn/app/base.py, BaseApplication.run: config first, then load()).
_APP_LOAD_FAILED = "Error while loading the application"


def _run(command: list[str], env=None) -> subprocess.CompletedProcess | None:
    import subprocess

    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        return None


def write_rendered(files: Mapping[str, str], output_dir: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write the files atomically into ``output_dir``, creating it (and missing parents, as
    ``mkdir -p``) first; when the write fails, the directories created here are removed again,
    so a failed render leaves the disk as it was.

    A file already there that confgen did not write, or that was edited since (its stamp, see
    confgen/render/stamp.py), is not replaced without ``force``; a symbolic link or a read-only
    file never is. Either refuses the whole render before anything is written."""
    from confgen.files import write_atomically

    directory = Path(output_dir)
    refusals = replace_refusals(files, directory, force=force)
    if refusals:
        raise ConfgenError(*refusals)
    created: list[Path] = []
    for candidate in [directory, *directory.parents]:
        if candidate.exists():
            break
        created.append(candidate)
    try:
        for candidate in reversed(created):
            candidate.mkdir()
        return write_atomically(files, directory)
    except OSError as error:
        _remove_created(created)
        raise ConfgenError(f"{directory}: cannot create: {error.strerror or error}") from None
    except ConfgenError:
        _remove_created(created)
        raise


MAX_REPLACED_BYTES = 16 * 1024 * 1024
_WHY_KEPT = {
    stamp.FOREIGN: "not written by confgen (no `# confgen-sha256:` line)",
    stamp.EDITED: "edited since confgen rendered it (its text no longer matches its `# confgen-sha256:` line)",
    stamp.OLD_CONFGEN: "rendered by a confgen that did not stamp its files, so an edit cannot be told "
                       "(compare with --check)",
}


def replace_refusals(files: Mapping[str, str], output_dir: str | os.PathLike, *, force: bool = False) -> list[str]:
    """One line per file of ``files`` that rendering into ``output_dir`` must not replace:
    what it is, and what to do. Empty when every file may be written."""
    from confgen.files import directory_unwritable_reason, read_regular_file, unwritable_reason

    if os.path.isdir(output_dir):
        reason = directory_unwritable_reason(output_dir)
        if reason is not None:
            return [f"{output_dir}: cannot write: {reason}; nothing was written"]
    problems = []
    for name, text in files.items():
        path = Path(output_dir) / name
        reason = unwritable_reason(path)
        if reason is not None:
            problems.append(f"{path}: {reason}; not replaced; nothing was written")
            continue
        if not os.path.lexists(path) or force:
            continue
        raw, unreadable = read_regular_file(str(path), MAX_REPLACED_BYTES)
        if unreadable:
            problems.append(f"{path}: {unreadable}; not replaced; nothing was written")
            continue
        current = raw.decode("utf-8", errors="replace")
        if current == text:
            continue
        kind = stamp.provenance(current)
        if kind != stamp.RENDERED:
            problems.append(f"{path}: {_WHY_KEPT[kind]}; not replaced (move it away, or render with --force "
                            f"to replace it); nothing was written")
    return problems


def _remove_created(created: list[Path]) -> None:
    for candidate in created:  # deepest first
        try:
            candidate.rmdir()
        except OSError:
            pass
