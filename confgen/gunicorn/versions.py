"""gunicorn versions: the newest one confgen knows, and the installed one."""

from __future__ import annotations

NEWEST_KNOWN_GUNICORN = "27"


def installed_gunicorn_version() -> str | None:
    """The installed gunicorn's version from package metadata (gunicorn is not imported)."""
    from importlib import metadata

    try:
        return metadata.version("gunicorn")
    except metadata.PackageNotFoundError:
        return None
