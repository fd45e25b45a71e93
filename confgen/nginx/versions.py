"""nginx version numbers, and finding the installed nginx."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

Version = tuple[int, ...]

DEFAULT_NGINX_VERSION = "1.22"

_VERSION_RE = re.compile(r"^\d+(\.\d+){0,2}$")


def parse_version(text: str) -> Version:
    """``"1.25.1"`` -> ``(1, 25, 1)``; missing parts are 0. ValueError on anything else."""
    text = str(text).strip()
    if not _VERSION_RE.match(text):
        raise ValueError(f"not a version: {text!r} (expected like 1.25 or 1.25.1)")
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


@functools.lru_cache(maxsize=1)
def installed_nginx_version() -> str | None:
    """The version ``nginx -v`` reports, or None when nginx is not installed."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if shutil.which(p)), None
    )
    if not binary:
        return None
    try:
        result = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"nginx/(\d+\.\d+(?:\.\d+)?)", result.stderr + result.stdout)
    return match.group(1) if match else None
