"""The user's cache directory: what confgen keeps between runs so that the next one starts sooner.

Everything here lives in ``$XDG_CACHE_HOME/confgen`` (else ``~/.cache/confgen``), never beside a
project, and is only ever an answer confgen could work out again: an entry that is missing, stale,
unreadable or cannot be written costs time, never a wrong result. ``CONFGEN_NO_CACHE=1`` turns it
off. Commands that promise to write nothing (``render --check``, ``render-check``) call
``read_only()``: from then on the process reads entries but writes none.
"""

from __future__ import annotations

import os

_writes = True


def read_only() -> None:
    """From now on this process reads the cache but never writes to it."""
    global _writes
    _writes = False


def writable() -> bool:
    return _writes


def directory(name: str) -> str | None:
    """``$XDG_CACHE_HOME/confgen/NAME``, made when missing (only while writes are allowed), or None
    when caching is off or the directory cannot be used."""
    if os.environ.get("CONFGEN_NO_CACHE") == "1":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "confgen", name)
    if not _writes:
        return path if os.path.isdir(path) else None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def read_entry(folder: str, name: str) -> str | None:
    """The text of one entry, or None when there is none (or it cannot be read)."""
    where = directory(folder)
    if where is None:
        return None
    try:
        with open(os.path.join(where, name), encoding="utf-8") as entry:
            return entry.read()
    except (OSError, UnicodeDecodeError):
        return None


def write_entry(folder: str, name: str, text: str) -> None:
    """Replace one entry atomically (a reader sees the old text or the new, never a part); a
    failure leaves the cache as it was and is not an error."""
    where = directory(folder) if _writes else None
    if where is None:
        return
    target = os.path.join(where, name)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as entry:
            entry.write(text)
        os.replace(temporary, target)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
