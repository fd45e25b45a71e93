"""gunicorn versions: the newest one confgen knows, and the installed one."""

from __future__ import annotations

import os
import re
import sys

NEWEST_KNOWN_GUNICORN = "27"


def installed_gunicorn_version() -> str | None:
    """The installed gunicorn's version from package metadata (gunicorn is not imported)."""
    return installed_version("gunicorn")


def installed_version(distribution: str) -> str | None:
    """What ``importlib.metadata.version(distribution)`` returns (None when it is not installed).

    importlib.metadata takes ~25 ms to import (email, zipfile, csv), a tenth of ``confgen
    render``; the common layout -- one ``NAME-VERSION.dist-info`` in a directory on sys.path -- is
    read here the way it reads it: the first match along sys.path, its METADATA's Version header.
    Every other layout (egg-info, zip files, several matches in one directory, another metadata
    finder on sys.meta_path) is left to importlib.metadata itself."""
    from importlib.machinery import PathFinder

    if any(hasattr(finder, "find_distributions") and finder is not PathFinder for finder in sys.meta_path):
        return _version_from_importlib(distribution)
    wanted = _normalized(distribution)
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.exists(root):  # a zip file (or an unreadable directory): importlib.metadata looks inside
                return _version_from_importlib(distribution)
            continue
        if os.path.basename(root).lower().endswith(".egg"):
            return _version_from_importlib(distribution)
        matches = [child for child in children if child.lower().endswith((".dist-info", ".egg-info"))
                   and _normalized(child.lower().rpartition(".")[0].partition("-")[0]) == wanted]
        if not matches:
            continue
        if len(matches) > 1 or not matches[0].lower().endswith(".dist-info"):
            return _version_from_importlib(distribution)
        version = _metadata_version(os.path.join(root, matches[0], "METADATA"))
        return version if version is not None else _version_from_importlib(distribution)
    return None


def _normalized(name: str) -> str:
    """A distribution name as importlib.metadata compares them (PEP 503, dashes as underscores)."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _metadata_version(path: str) -> str | None:
    """The Version header of a METADATA file, as the email parser reads it; None when the file or
    the header is missing, or the header is folded over several lines."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    for index, line in enumerate(lines):
        if line[:1] in (" ", "\t"):
            continue  # the continuation of another header
        name, colon, value = line.partition(":")
        if not colon:
            return None  # the headers end (at the first empty line, or a line that is no header)
        if name.lower() == "version":
            folded = index + 1 < len(lines) and lines[index + 1][:1] in (" ", "\t")
            return None if folded else value.lstrip(" \t")
    return None


def _version_from_importlib(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
