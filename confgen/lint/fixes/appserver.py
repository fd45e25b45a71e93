"""Edits of an app server other than gunicorn (uvicorn, hypercorn, ...): one option of the
command that starts it, written where the command is (Procfile, Dockerfile, compose, systemd,
supervisor, a script), in the command's own form."""

from __future__ import annotations

from confgen.errors import ConfgenError
from confgen.lint.fixes.base import FixContext
from confgen.lint.fixes.edits import Edit, Unfixable, make_edit


def set_server_option(fx: FixContext, flags: tuple[str, ...], value: str) -> list[Edit]:
    """The edit that makes the paired app server run with ``flags[0] value``; Unfixable when
    its command is not in a file confgen edits."""
    from confgen.gunicorn.sources import server_option_edit

    server = fx.lint.app_server
    source = getattr(server, "command", None)
    if source is None:
        raise Unfixable(f"{getattr(server, 'label', 'the app server')}: its command is not in a file confgen edits")
    text = fx.text(source.path)
    if text != source.text:
        raise Unfixable(f"{source.path}: changed since it was read")
    try:
        change = server_option_edit(source, flags, value)
    except ConfgenError as error:
        raise Unfixable(str(error)) from None
    return [make_edit(source.path, text, change.start, change.end, change.new)]
