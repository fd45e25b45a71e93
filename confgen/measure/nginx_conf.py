"""The log format an nginx config writes a given access log in, found through its includes.

The ``access_log`` directive whose path is the log's (the same file, else the same file name:
logs are often copied off the server) names a ``log_format`` (nginx's ``combined`` when it names
none); that directive's strings, with its ``escape=``, become the parser, tried first. Every other
``log_format`` of the config is tried after it: a log written before the config last changed
may hold lines in another of them. The keep-alive timeout
in force where the log is written gives how long a client connection stays open after its last
request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from confgen.errors import ConfgenError
from confgen.measure import logformat
from confgen.measure.stats import DEFAULT_KEEPALIVE_S
from confgen.units import parse_time


@dataclass(frozen=True)
class LogSetup:
    log_format: logformat.LogFormat
    keepalive_s: int
    where: str  # "nginx.conf:12" of the access_log directive
    other_formats: tuple[logformat.LogFormat, ...] = ()


def log_setup(conf_path: str, log_paths: list[str]) -> LogSetup:
    from confgen.nginx.parse import load_nginx

    config = load_nginx(conf_path)
    for problem in config.problems:
        if problem.kind in ("syntax-error", "include-not-found", "include-unreadable"):
            where = f"{problem.file}:{problem.line}" if problem.line else problem.file
            raise ConfgenError(f"{where}: {problem.message}")
    writers = [d for d in config.walk() if d.name == "access_log" and d.args and d.args[0] != "off"]
    if not writers:
        raise ConfgenError(f"{conf_path}: no access_log directive writes a log (nginx then writes "
                           f"logs/access.log in the combined format: use --log-format combined)")
    chosen = _writer_for(writers, [p for p in log_paths if p != "-"]) or (writers[0] if len(writers) == 1 else None)
    if chosen is None:
        named = ", ".join(f"{d.args[0]} ({d.file}:{d.line})" for d in writers)
        raise ConfgenError(f"{conf_path}: no access_log writes {', '.join(log_paths)}; it writes {named}")
    format_name = chosen.args[1] if len(chosen.args) > 1 and "=" not in chosen.args[1] else "combined"
    where = f"{chosen.file}:{chosen.line}"
    formats = {d.args[0]: d for d in config.walk() if d.name == "log_format" and d.args}
    if format_name in formats:
        directive = formats[format_name]
        parser = logformat.format_from_directive(list(directive.args), f"{directive.file}:{directive.line}")
    elif format_name == "combined":
        parser = logformat.compile_format(logformat.COMBINED_FORMAT, name="combined")
    else:
        raise ConfgenError(f"{where}: access_log uses log_format {format_name!r}, which the config does not define")
    others = tuple(logformat.format_from_directive(list(d.args), f"{d.file}:{d.line}")
                   for name, d in formats.items() if name != format_name and len(d.args) >= 2)
    return LogSetup(parser, _keepalive_at(config, chosen), where, others)


def _writer_for(writers: list, log_paths: list[str]):
    wanted = {os.path.realpath(p) for p in log_paths}
    names = {_base_name(p) for p in log_paths}
    for directive in writers:
        if os.path.realpath(directive.args[0]) in wanted:
            return directive
    for directive in writers:
        if os.path.basename(directive.args[0]) in names:
            return directive
    return None


def _base_name(path: str) -> str:
    """access.log.2.gz -> access.log: a rotated file is written by its live file's directive."""
    name = os.path.basename(path)
    if name.endswith(".gz"):
        name = name[:-3]
    head, dot, tail = name.rpartition(".")
    return head if dot and tail.isdigit() else name


def _keepalive_at(config, directive) -> int:
    block = directive.parent if directive.parent is not None else config.root
    args = config.effective_args("keepalive_timeout", block) if block is not config.root else None
    if not args:
        return DEFAULT_KEEPALIVE_S
    try:
        return max(0, round(parse_time(args[0])))
    except ValueError:
        return DEFAULT_KEEPALIVE_S
