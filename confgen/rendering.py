"""Rendering a plan through the Jinja templates, and writing the results without losing files."""

from __future__ import annotations

import contextlib
import difflib
import functools
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any, Mapping

from confgen.errors import ConfgenError
from confgen.profile import Profile, load_profile
from confgen.sizing import Plan, plan

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
    from confgen.profile import profile_schema, schema_path

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
        return (Path(__file__).resolve().parent.parent / "templates" / name).read_text("utf-8")


# ---------------------------------------------------------------------------------------------
# Files on disk


def diff_against_disk(files: Mapping[str, str], output_dir: str | os.PathLike) -> str:
    """A unified diff from the files on disk to ``files``; "" when they match. Writes nothing."""
    chunks = []
    for name, new_text in files.items():
        path = Path(output_dir) / name
        try:
            old_text = path.read_text("utf-8")
        except FileNotFoundError:
            old_text = None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfgenError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
        if old_text == new_text:
            continue
        chunks.extend(difflib.unified_diff(
            (old_text or "").splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=str(path) if old_text is not None else "/dev/null",
            tofile=f"{path} (rendered)",
        ))
    return "".join(chunks)


def write_atomically(files: Mapping[str, str], output_dir: str | os.PathLike) -> list[Path]:
    """Write every file through a temp file + rename in the same directory.

    All temp files are written and flushed before the first rename, so a failure while writing
    (a full disk, a read-only directory) leaves every existing file as it was and no temp file
    behind. A reader sees either the old or the new file, never a mix.
    """
    directory = Path(output_dir)
    if not directory.is_dir():
        raise ConfgenError(f"{directory}: no such directory (create it, or pass -o)")
    with _signals_deferred():
        return _stage_and_rename(files, directory)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT, SIGTERM and SIGHUP until every file is renamed: an interrupted render then
    leaves all old files or all new ones, never some of each (nor a temp file)."""
    deferrable = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferrable)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stage_and_rename(files: Mapping[str, str], directory: Path) -> list[Path]:
    staged: list[tuple[str, Path]] = []
    backups: list[tuple[str, Path]] = []
    renamed: list[Path] = []
    try:
        for name, text in files.items():
            target = directory / name
            if target.is_dir():
                raise ConfgenError(f"{target}: is a directory")
            handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            staged.append((temp, target))
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp, _mode_for(target))
        # Keep the old files until every rename is done, so a rename that fails (a busy or
        # immutable target) puts the earlier ones back: all old files or all new ones.
        for _, target in staged:
            if target.exists():
                backups.append((_backup(target), target))
        for temp, target in staged:
            os.replace(temp, target)
            renamed.append(target)
    except OSError as error:
        restored = _restore(backups, renamed)
        detail = "no file was changed" if restored else "some files could not be restored"
        raise ConfgenError(f"{directory}: cannot write: {error.strerror or error}; {detail}") from None
    finally:
        for temp, _ in staged:
            if os.path.exists(temp):
                os.unlink(temp)
        for backup, _ in backups:
            if os.path.exists(backup):
                os.unlink(backup)
    return [target for _, target in staged]


def _backup(target: Path) -> str:
    """A hard link to the old file (a copy where links are not allowed) beside it."""
    handle, backup = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
    os.close(handle)
    os.unlink(backup)
    try:
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)
    return backup


def _restore(backups: list[tuple[str, Path]], renamed: list[Path]) -> bool:
    """Put the old files back over the ones already renamed; True when all are back."""
    old = {target: backup for backup, target in backups}
    ok = True
    for target in renamed:
        try:
            if target in old:
                os.replace(old[target], target)
            else:
                os.unlink(target)  # it did not exist before this render
        except OSError:
            ok = False
    return ok


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
