"""Edits of the gunicorn side of a pair: a gunicorn.conf.py assignment's literal value replaced
where the reader found it (its exact span, from the AST), a missing setting added after the last
top-level one, and command lines where they are written (systemd, Procfile, Dockerfile, compose,
supervisor, a script): the flag's value replaced, or the flag added after ``gunicorn``. A value
that is computed (``cpu_count()``, an environment variable) or set inside a block is left alone."""

from __future__ import annotations

from confgen.errors import ConfgenError
from confgen.lint.fixes.base import FixContext
from confgen.lint.fixes.edits import Edit, Unfixable, make_edit


def python_literal(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def editable(app, name: str) -> bool:
    """Whether :func:`set_app_setting` can write ``name`` for ``app`` without guessing: known
    statically and written (or writable) where confgen edits. A rule decides between fixes with
    it before any edit is built."""
    from confgen.gunicorn.reader import UNKNOWN

    if app is None:
        return False
    setting = app.setting(name)
    if setting.value is UNKNOWN:
        return False
    if setting.source == "cli":
        return app.command is not None and "GUNICORN_CMD_ARGS" not in (setting.note or "")
    if setting.source == "file":
        return setting.span is not None and app.not_editable is None
    return bool((app.path and app.not_editable is None) or app.command is not None)


def set_app_setting(fx: FixContext, name: str, value) -> list[Edit]:
    """Edits that make the paired gunicorn run with ``name = value``, where it is set: the
    gunicorn.conf.py assignment, the command line's flag, or (unset) the conf file, else the
    command line. Unfixable for a computed value or one set where confgen cannot edit."""
    from confgen.gunicorn.reader import UNKNOWN

    app = fx.gunicorn
    if app is None:
        raise Unfixable("no paired gunicorn config to edit")
    setting = app.setting(name)
    if setting.value is UNKNOWN:
        why = f" ({setting.note})" if setting.note else ""
        raise Unfixable(f"gunicorn {name} is computed or unknown{why}: left alone, change it by hand")
    if setting.source == "cli":
        if app.command is None:
            raise Unfixable(f"gunicorn {name} comes from --gunicorn-cmd, not from a file confgen can edit")
        if "GUNICORN_CMD_ARGS" in (setting.note or ""):
            raise Unfixable(f"gunicorn {name} is set in GUNICORN_CMD_ARGS ({app.command.path}); change it there")
        return [_command_edit(fx, app.command, name, value)]
    if setting.source == "file":
        path = setting.file or app.path
        where = f"{path}:{setting.line}" if setting.line else path
        if app.not_editable:
            raise Unfixable(f"{where}: {app.not_editable}")
        if setting.span is None:
            raise Unfixable(f"{where}: gunicorn {name} is computed or set inside a block, not a top-level "
                            f"literal: left alone, change it by hand")
        start, end, written = setting.span
        text = fx.text(path)
        if text[start:end] != written:
            raise Unfixable(f"{path}: changed since it was read")
        return [make_edit(path, text, start, end, python_literal(value))]
    if app.path and app.not_editable is None:
        return [_append_setting(fx, app.path, app.append_at, name, value)]
    if app.command is not None:
        return [_command_edit(fx, app.command, name, value)]
    raise Unfixable("the gunicorn command line was given with --gunicorn-cmd: there is no file to edit")


def _append_setting(fx: FixContext, path: str, after: int | None, name: str, value) -> Edit:
    """``name = value`` on a line of its own after the last top-level setting (at the end of the
    file when there is none)."""
    text = fx.text(path)
    newline = "\r\n" if "\r\n" in text else "\n"
    assignment = f"{name} = {python_literal(value)}"
    if after is not None and after <= len(text):
        return make_edit(path, text, after, after, newline + assignment)
    prefix = "" if not text or text.endswith("\n") else newline
    return make_edit(path, text, len(text), len(text), prefix + assignment + newline)


def _command_edit(fx: FixContext, source, name: str, value) -> Edit:
    from confgen.gunicorn.sources import option_edit

    text = fx.text(source.path)
    if text != source.text:
        raise Unfixable(f"{source.path}: changed since it was read")
    try:
        change = option_edit(source, name, str(value))
    except ConfgenError as error:
        raise Unfixable(str(error)) from None
    return make_edit(source.path, text, change.start, change.end, change.new)
