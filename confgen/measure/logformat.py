"""An nginx ``log_format`` string turned into a fast parser: one compiled regex over bytes.

The regex matches whole lines (``(?m)^...$``) so that ``findall`` over a block of many lines runs
the whole loop in C and returns, per well-formed line, a tuple of the fields measure needs; every
other variable is matched but not captured. Each variable gets a pattern that fits what nginx
writes for it (``$msec`` is ``1700000000.123``; ``$upstream_response_time`` may be ``-`` or a list
``0.010, 0.020`` after a retry, or ``0.010 : 0.020`` after an internal redirect), and a variable
between double quotes may hold anything but an unescaped quote: ``escape=default`` writes a quote
as ``\\x22`` and ``escape=json`` as ``\\"``, and both are matched.

Lines that are JSON objects with unknown keys (an ``escape=json`` format measure was not told
about) are read with :func:`json_rows`, which maps keys to nginx variables by name.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass

from confgen.errors import ConfgenError
from confgen.profile.log_format import LOG_FORMAT, LOG_FORMAT_NAME

COMBINED_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                   '"$http_referer" "$http_user_agent"')
# The `log_format main` of the nginx.conf in nginx.org's packages and the official Docker image
# (combined plus the X-Forwarded-For header; e.g. the image's merged nginx.conf at
# gist.github.com/ilyasotkov/8a1bcd0a68a6556514cc27e9dc3c0295): the most common log there is.
MAIN_FORMAT = COMBINED_FORMAT + ' "$http_x_forwarded_for"'
# The formats measure knows without being told, most informative first.
KNOWN_FORMATS = {LOG_FORMAT_NAME: LOG_FORMAT, "main": MAIN_FORMAT, "combined": COMBINED_FORMAT}

# When each request ended, in order of preference (msec has sub-second digits and no time zone).
TIME_VARIABLES = ("msec", "time_iso8601", "time_local")
# The variables measure reads; any others in a format are matched and skipped.
MEASURED_VARIABLES = TIME_VARIABLES + (
    "status", "request_time", "upstream_response_time", "body_bytes_sent", "request_length",
    "content_length", "connection", "request",
)
# $msec's milliseconds, captured beside its whole seconds when the format also has a request time:
# each request's interval [end - latency, end) (requests in flight) needs the end to the ms.
MSEC_FRACTION = "msec_fraction"
LATENCY_VARIABLES = ("upstream_response_time", "request_time")
# (better, replaced): the app's own time makes nginx's whole time unnecessary, the body's length
# the whole request's.
_REPLACES = (("upstream_response_time", "request_time"), ("content_length", "request_length"))

# Every repetition is possessive (``*+``, ``++``): each one stops at a character the next part of
# the format starts with, so giving back characters could never help, and sre skips keeping the
# state to do so (about three times faster). Python 3.10 has no possessive quantifiers; there the
# same patterns run as ordinary ones.
_POSSESSIVE = sys.version_info >= (3, 11)
_NUMBER_LIST = rb"(?:-|[0-9.]++)(?:(?:, | : )(?:-|[0-9.]++))*+"
# What nginx writes for each variable; a pattern captures at most one group: the value measure keeps
# (for $msec only the whole seconds, which are all the per-second counts need).
_VARIABLE_PATTERNS = {
    "msec": rb"([0-9]++)\.[0-9]++",
    "time_local": rb"([0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4})",
    "time_iso8601": rb"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[+-][0-9]{2}:[0-9]{2}|Z))",
    "status": rb"([0-9]{3})",
    "request_time": rb"([0-9]++\.[0-9]++)",
    "upstream_response_time": b"(" + _NUMBER_LIST + b")",
    "body_bytes_sent": rb"([0-9]++)",
    "request_length": rb"([0-9]++)",
    "content_length": rb"([0-9]*+|-)",
    "connection": rb"([0-9]++)",
}
# Between quotes: anything but a quote. escape=default (and none) writes a quote inside a value as
# \x22; escape=json writes \", so there a backslash escapes the next character (unrolled, so
# that sre runs one character class at a time).
_QUOTED = {"default": rb'[^"\n]*+', "none": rb'[^"\n]*+', "json": rb'[^"\\\n]*+(?:\\.[^"\\\n]*+)*+'}
# Variables whose values may hold a space; every other one, when not captured, is matched as "up
# to the next character of the format", the fastest pattern there is.
_MAY_HOLD_SPACES = {"time_local", "request", "http_user_agent", "http_referer", "upstream_response_time",
                    "upstream_connect_time", "upstream_header_time", "upstream_status", "upstream_addr"}
# Of a quoted $request, the method and path are kept (the query string and protocol are matched,
# not kept: far fewer distinct values to count and to turn into routes). What a scanner sends may
# be neither (binary bytes that nginx escapes as \x16, a line without a protocol): it is taken as
# it is, up to a space.
_REQUEST_HEAD = {"default": rb'([^ "\n]*+ ?[^ ?"\n]*+)', "none": rb'([^ "\n]*+ ?[^ ?"\n]*+)',
                 "json": rb'([^ "\\\n]*+ ?[^ ?"\\\n]*+)'}
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


@dataclass(frozen=True)
class LogFormat:
    """A compiled format: ``pattern.findall(block)`` -> one tuple of ``fields`` per matching line."""

    name: str
    text: str
    escape: str
    pattern: re.Pattern
    fields: tuple[str, ...]
    pieces: tuple[tuple[str, bytes], ...] = ()  # (what it matches, its regex) in order: see mismatch()

    @property
    def time_field(self) -> str | None:
        return next((name for name in TIME_VARIABLES if name in self.fields), None)

    def rows(self, block: bytes) -> list[tuple[bytes, ...]]:
        found = self.pattern.findall(block)
        if len(self.fields) == 1:
            return [(value,) for value in found]
        return found

    def mismatch(self, line: bytes) -> tuple[int, str]:
        """Where ``line`` stops matching this format: (byte offset, what was expected there),
        found by matching ever longer prefixes of the format."""
        matched_to, expected = 0, self.pieces[0][0] if self.pieces else "the line"
        for count in range(1, len(self.pieces) + 1):
            prefix = b"".join(regex for _, regex in self.pieces[:count])
            found = re.match(_relaxed(prefix), line)
            if not found:
                expected = self.pieces[count - 1][0]
                break
            matched_to = found.end()
        else:
            expected = "the end of the line"
        return matched_to, expected


def compile_format(text: str, *, name: str = "custom", escape: str = "default") -> LogFormat:
    """The parser for an nginx log_format string (as nginx reads it: quotes already removed)."""
    if escape not in ("default", "json", "none"):
        raise ConfgenError(f"log_format {name}: unknown escape={escape}")
    parts: list[tuple[str, str]] = []  # ("literal", text) / ("variable", name)
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            parts.append(("literal", text[position:match.start()]))
        parts.append(("variable", match.group(1) or match.group(2)))
        position = match.end()
    if position < len(text):
        parts.append(("literal", text[position:]))
    variables = [value for kind, value in parts if kind == "variable"]
    if not variables:
        raise ConfgenError(f"log_format {name}: {text!r} has no $variables to read")
    time_field = next((v for v in TIME_VARIABLES if v in variables), None)
    wanted = {v for v in variables if v in MEASURED_VARIABLES and (v not in TIME_VARIABLES or v == time_field)}
    # Each captured field costs a bytes object per line: leave out what a better field replaces.
    for better, replaced in _REPLACES:
        if better in wanted:
            wanted.discard(replaced)
    msec_fraction = time_field == "msec" and any(v in wanted for v in LATENCY_VARIABLES)
    pieces, fields, captured = [], [], set()
    for index, (kind, value) in enumerate(parts):
        if kind == "literal":
            pieces.append((repr(value), re.escape(value.encode("utf-8"))))
            continue
        before = parts[index - 1][1] if index and parts[index - 1][0] == "literal" else ""
        after = parts[index + 1][1] if index + 1 < len(parts) and parts[index + 1][0] == "literal" else ""
        quoted = before.endswith('"') and after.startswith('"')
        capture = value in wanted and value not in captured and (value != "request" or quoted)
        pattern = _variable_pattern(value, quoted=quoted, after=after, capture=capture, escape=escape)
        if capture and value == "msec" and msec_fraction:
            pattern = rb"([0-9]++)\.([0-9]++)"
        pieces.append((f"${value}", pattern))
        if capture:
            fields.append(value)
            captured.add(value)
            if value == "msec" and msec_fraction:
                fields.append(MSEC_FRACTION)
    regex = b"(?m)^" + b"".join(regex for _, regex in pieces) + b"\r?$"
    return LogFormat(name=name, text=text, escape=escape, pattern=re.compile(_relaxed(regex)),
                     fields=tuple(fields), pieces=tuple(pieces))


def _relaxed(regex: bytes) -> bytes:
    """Possessive repetitions as ordinary ones where Python has no possessive quantifiers."""
    return regex if _POSSESSIVE else regex.replace(b"*+", b"*").replace(b"++", b"+")


def _variable_pattern(name: str, *, quoted: bool, after: str, capture: bool, escape: str) -> bytes:
    if name == "request" and capture:
        return _REQUEST_HEAD[escape] + _QUOTED[escape]
    known = _VARIABLE_PATTERNS.get(name)
    generic_is_safe = quoted or (after and (after[0] != " " or name not in _MAY_HOLD_SPACES))
    if known is not None and (capture or not generic_is_safe):
        body = known
        if quoted and name in ("content_length", "upstream_response_time"):
            body = known[:-1] + b"|)"  # inside JSON an empty value is written as "", not "-"
        return body if capture else body.replace(b"(", b"(?:", 1)
    if quoted:
        body = _QUOTED[escape]
    elif after:
        stop = re.escape(after[0].encode("utf-8"))
        body = b"[^" + stop + b"\\n]*+"
    else:
        body = b".*+"
    return b"(" + body + b")" if capture else body


def describe_mismatch(log_format, line: bytes, width: int = 60) -> str:
    """One line on where ``line`` leaves ``log_format`` (of several: the one that reads most of
    it): what was expected, and the text found there (not the line's start, which usually
    matches)."""
    if isinstance(log_format, (list, tuple)):
        readable = [f for f in log_format if getattr(f, "pieces", ())]
        if not readable:
            return describe_mismatch(log_format[0], line, width)
        log_format = max(readable, key=lambda f: (f.mismatch(line)[0], -readable.index(f)))
    if not getattr(log_format, "pieces", ()):
        return f"not a JSON object with a time: {line[:width].decode('utf-8', 'replace')!r}"
    offset, expected = log_format.mismatch(line)
    found = line[offset:offset + width].decode("utf-8", "replace")
    more = "..." if len(line) > offset + width else ""
    return (f"{log_format.name} reads {offset} bytes, then expects {expected} "
            f"but finds {found!r}{more}" if found else
            f"{log_format.name} reads {offset} bytes, then expects {expected} but the line ends")


def format_from_directive(args: list[str], where: str) -> LogFormat:
    """A ``log_format NAME [escape=...] STRING...`` directive's arguments -> its parser."""
    if len(args) < 2:
        raise ConfgenError(f"{where}: log_format needs a name and a format string")
    name, rest = args[0], list(args[1:])
    escape = "default"
    if rest and rest[0].startswith("escape="):
        escape = rest.pop(0).split("=", 1)[1]
    try:
        return compile_format("".join(rest), name=name, escape=escape)
    except ConfgenError as error:
        raise ConfgenError(f"{where}: {error.lines[0]}") from None


def named_or_literal(value: str) -> LogFormat:
    """``--log-format``: a known name (confgen, main, combined, json) or a format string."""
    if value in KNOWN_FORMATS:
        return compile_format(KNOWN_FORMATS[value], name=value)
    if value == "json":
        return JSON_LINES
    return compile_format(value, name=f"--log-format {value!r}")


def named_or_literals(values: str | list[str] | tuple[str, ...] | None) -> list[LogFormat]:
    """Every ``--log-format`` given (the option may be repeated): each line is read by the
    first of them that matches it."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [named_or_literal(value) for value in values]


def candidates() -> list[LogFormat]:
    """The formats tried, in order, when no format was given."""
    return [compile_format(text, name=name) for name, text in KNOWN_FORMATS.items()] + [JSON_LINES]


# JSON lines whose keys are not known in advance: each key is mapped to the nginx variable it
# is named after (``"request_time"``, ``"$msec"``, ``"upstream_response_time"``...), plus the
# usual short names people give them.
_JSON_ALIASES = {
    "time": "time_iso8601", "timestamp": "msec", "ts": "msec", "@timestamp": "time_iso8601",
    "duration": "request_time", "rt": "request_time", "urt": "upstream_response_time",
    "upstream_time": "upstream_response_time", "bytes": "body_bytes_sent", "size": "body_bytes_sent",
    "body_bytes": "body_bytes_sent", "conn": "connection",
}
# A JSON row carries one time, already converted to whole epoch seconds.
EPOCH_FIELD = "epoch"
JSON_FIELDS = (EPOCH_FIELD,) + tuple(v for v in MEASURED_VARIABLES if v not in TIME_VARIABLES)


class _JsonLines:
    """Not a regex: json.loads per line (slower, used only for JSON logs measure was not told about)."""

    name = "json"
    text = "(JSON lines, keys named after nginx variables)"
    escape = "json"
    fields = JSON_FIELDS
    time_field = EPOCH_FIELD

    def rows(self, block: bytes) -> list[tuple[bytes, ...]]:
        return json_rows(block.splitlines())


JSON_LINES = _JsonLines()


def json_rows(lines: list[bytes]) -> list[tuple[bytes, ...]]:
    """One tuple per JSON-object line with a readable time, in JSON_FIELDS order (b"" where a key
    is absent)."""
    rows = []
    for line in lines:
        line = line.strip()
        if not line.startswith(b"{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        values: dict[str, bytes] = {}
        for key, value in record.items():
            variable = str(key).lstrip("$").lower()
            variable = _JSON_ALIASES.get(variable, variable)
            if variable in MEASURED_VARIABLES and value is not None:
                text = value if isinstance(value, str) else json.dumps(value)
                values[variable] = text.encode("utf-8")
        epoch = None
        for name in TIME_VARIABLES:
            if values.get(name):
                raw = values[name].split(b".")[0] if name == "msec" else values[name]
                epoch = to_epoch(name, raw)
                break
        if epoch is None:
            continue
        values[EPOCH_FIELD] = str(epoch).encode()
        rows.append(tuple(values.get(name, b"") for name in JSON_FIELDS))
    return rows


def to_epoch(field: str, raw: bytes) -> int | None:
    """Whole epoch seconds from a captured time value; None when it is not a time."""
    from datetime import datetime

    try:
        if field in ("msec", EPOCH_FIELD):
            return int(raw)
        text = raw.decode("ascii")
        if field == "time_local":
            return int(datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").timestamp())
        if field == "time_iso8601":
            return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except (ValueError, UnicodeDecodeError, OverflowError):
        return None
    return None
