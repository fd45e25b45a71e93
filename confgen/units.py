"""nginx's size and time units, shared by the profile loader, the sizing model and the linter.

Sizes: ``512``, ``16k``/``16K``, ``20m``/``20M``, ``1g``/``1G`` (powers of 1024, as nginx).
Times: ``30`` (seconds), ``500ms``, ``65s``, ``2m``, ``1h 30m``, units ms s m h d w M y.
"""

from __future__ import annotations

import re

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kKmMgG]?)\s*$")
_SIZE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

_TIME_PART_RE = re.compile(r"(\d+)(ms|s|m|h|d|w|M|y)?")
_TIME_FACTORS = {
    "ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400,
    "w": 7 * 86400, "M": 30 * 86400, "y": 365 * 86400,
}


def parse_size(value: int | str) -> int:
    """Bytes for an int or an nginx size string; ValueError if it is neither."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative size: {value}")
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use bytes or a number with k, m or g)")
    number, unit = match.groups()
    return int(number) * _SIZE_FACTORS[unit.lower()]


def parse_time(value: int | float | str) -> float:
    """Seconds for an nginx time string (``65s``, ``1m 30s``, ``500ms``); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty time")
    total = 0.0
    for part in text.split():
        match = _TIME_PART_RE.fullmatch(part)
        if not match:
            raise ValueError(f"not a time: {value!r}")
        total += int(match.group(1)) * _TIME_FACTORS[match.group(2)]
    return total


def format_size(nbytes: int) -> str:
    """The shortest exact nginx spelling of a byte count: 1048576 -> ``1m``, 1536 -> ``1536``."""
    for unit, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if nbytes and nbytes % factor == 0:
            return f"{nbytes // factor}{unit}"
    return str(nbytes)


def format_seconds(seconds: float) -> str:
    """An nginx time for whole seconds (``65s``) or milliseconds (``500ms``)."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"
