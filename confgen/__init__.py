"""confgen: render and lint nginx + gunicorn configs for Python web apps.

The Python API, which the ``confgen`` command is a thin layer over::

    import confgen
    files = confgen.render("profiles/fastapi-vps.yaml")   # {"nginx.conf": ..., "gunicorn.conf.py": ...}
"""

from __future__ import annotations

import os
from typing import Any, Mapping

__all__ = ["render", "ConfgenError"]

from confgen.errors import ConfgenError


def render(profile: str | os.PathLike | Mapping[str, Any]) -> dict[str, str]:
    """Render a profile (a YAML path or an already-parsed mapping): file name -> text."""
    from confgen.rendering import render_profile

    return render_profile(profile)
