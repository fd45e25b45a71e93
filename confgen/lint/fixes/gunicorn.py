"""Fixers for the gunicorn side of a pair: gunicorn.conf.py through libcst's concrete syntax tree
(the assignment's value replaced in place, a missing setting added after the last top-level
one), and command lines where they are written (systemd, Procfile, Dockerfile, compose,
supervisor, a script): the flag's value replaced, or the flag added after ``gunicorn``."""

from __future__ import annotations


from confgen.errors import ConfgenError
from confgen.lint.fixes.base import Fix, FixContext, fixer
from confgen.lint.fixes.edits import Edit, Unfixable, make_edit

# Literal values a fix may replace: anything else is computed (cpu_count(), an env var) and left alone.
_LITERALS = ("Integer", "Float", "SimpleString", "Name")


def python_literal(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


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
        if not path:
            raise Unfixable(f"gunicorn {name}: the file that sets it is not known")
        return [_assignment_edit(fx, path, name, value, setting.line)]
    if app.path:
        return [_assignment_edit(fx, app.path, name, value, None)]
    if app.command is not None:
        return [_command_edit(fx, app.command, name, value)]
    raise Unfixable("the gunicorn command line was given with --gunicorn-cmd: there is no file to edit")


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


def _libcst():
    """libcst, imported only when a gunicorn.conf.py is edited (its import warns about a
    deprecated typing helper, which is noise in a user's pre-commit log)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import libcst
        import libcst.metadata  # noqa: F401
    return libcst


def _assignment_edit(fx: FixContext, path: str, name: str, value, line: int | None) -> Edit:
    cst = _libcst()
    MetadataWrapper, PositionProvider = cst.metadata.MetadataWrapper, cst.metadata.PositionProvider

    from confgen.gunicorn.reader import SETTINGS

    text = fx.text(path)
    try:
        wrapper = MetadataWrapper(cst.parse_module(text))
    except cst.ParserSyntaxError as error:
        raise Unfixable(f"{path}: libcst cannot parse it ({str(error).splitlines()[0]})") from None
    positions = wrapper.resolve(PositionProvider)
    starts = _line_starts(text)

    def offset(position) -> int:
        return starts[position.line - 1] + position.column

    last_setting = None
    for statement in wrapper.module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            target, node = _assigned(small)
            if target is None:
                continue
            if target in SETTINGS:
                last_setting = statement
            if target != name or node is None:
                continue
            where = positions[small]
            if line is not None and where.start.line != line:
                continue
            if type(node).__name__ not in _LITERALS and not _negative_number(node):
                raise Unfixable(f"{path}:{where.start.line}: gunicorn {name} is computed "
                                f"(`{wrapper.module.code_for_node(node)}`): left alone, change it by hand")
            span = positions[node]
            return make_edit(path, text, offset(span.start), offset(span.end), python_literal(value))
    if line is not None:
        raise Unfixable(f"{path}:{line}: gunicorn {name} is not set by a top-level assignment there; "
                        f"change it by hand")
    newline = "\r\n" if "\r\n" in text else "\n"
    assignment = f"{name} = {python_literal(value)}"
    if last_setting is not None:
        end = _line_end(text, offset(positions[last_setting].end) - 1)
        return make_edit(path, text, end, end, newline + assignment)
    end = len(text)
    prefix = "" if not text or text.endswith("\n") else newline
    return make_edit(path, text, end, end, prefix + assignment + newline)


def _assigned(small):
    """(name, value node) of ``name = value`` or ``name: T = value``; (None, None) otherwise."""
    cst = _libcst()

    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value, small.value
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
        return small.target.value, small.value
    return None, None


def _negative_number(node) -> bool:
    cst = _libcst()

    return isinstance(node, cst.UnaryOperation) and isinstance(node.expression, (cst.Integer, cst.Float))


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def _line_end(text: str, offset: int) -> int:
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    return end - 1 if end > 0 and text[end - 1] == "\r" else end


# ---------------------------------------------------------------------------------------------
# The fixers of the app's own settings


@fixer("max-requests-no-jitter")
def fix_jitter(fx: FixContext, finding) -> Fix:
    limit = fx.gunicorn.get("max_requests")
    if not isinstance(limit, int) or limit <= 0:
        raise Unfixable("max_requests is not a number")
    return Fix(set_app_setting(fx, "max_requests_jitter", max(1, limit // 10)))


@fixer("header-limits-mismatch")
def fix_header_limits(fx: FixContext, finding) -> Fix:
    from confgen.lint.rules._proxy import app_routes, size
    from confgen.lint.rules.gunicorn_pairing import CRLF, GUNICORN_MAX_REQUEST_LINE

    accepted = 0
    for route in app_routes(fx.lint):
        buffers = fx.nginx.effective_args("large_client_header_buffers", route.block)
        buffer = size(buffers[1]) if buffers and len(buffers) > 1 else None
        if buffer:
            accepted = max(accepted, buffer - CRLF)
    if not accepted:
        raise Unfixable("nginx's header buffer size is not known")
    edits = []
    for name in ("limit_request_line", "limit_request_field_size"):
        limit = fx.gunicorn.get(name)
        if not isinstance(limit, (int, float)) or limit == 0 or limit >= accepted:
            continue
        value = accepted if (name != "limit_request_line" or accepted <= GUNICORN_MAX_REQUEST_LINE) else 0
        edits += set_app_setting(fx, name, value)
    return Fix(edits)


@fixer("uvicorn-unix-forwarded")
def fix_forwarded_ips(fx: FixContext, finding) -> Fix:
    return Fix(set_app_setting(fx, "forwarded_allow_ips", "*"))
