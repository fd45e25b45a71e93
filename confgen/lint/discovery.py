"""A directory given to lint is one input: every nginx config, app-server config or command file,
and Kubernetes manifest under it, found by name and by a look at the file's head (never run)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from confgen.nginx.sniff import file_head, looks_like_nginx

MAX_FILES = 20_000
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", "site-packages",
              "dist", "build", ".mypy_cache", ".pytest_cache"}
_NGINX_DIRS = {"nginx", "conf.d", "sites-available", "sites-enabled", "snippets", "vhosts.d"}
_MANIFEST_TEXT = re.compile(r"^apiVersion:\s*\S+", re.M)
# Files in an nginx directory that hold something else (Jinja, ERB and envsubst templates are not
# nginx syntax until rendered; a template named *.conf is told by its text when it is loaded).
_NOT_NGINX_SUFFIXES = (".md", ".rst", ".txt", ".json", ".sh", ".py", ".j2", ".jinja", ".jinja2", ".erb", ".tmpl", ".tpl",
                       ".pem", ".crt", ".key", ".csr", ".html", ".js", ".css", ".lua", ".bak", ".orig", ".swp")


@dataclass
class Found:
    nginx: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.nginx or self.apps or self.manifests)


def inputs_under(directory: str) -> Found:
    """What lint reads under ``directory``, in a stable order."""
    from confgen.lint.pairing import is_app_side

    found = Found()
    seen = 0
    for folder, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            seen += 1
            if seen > MAX_FILES:
                found.notes.append(f"{directory}: more than {MAX_FILES} files; the rest were not looked at")
                return found
            path = os.path.join(folder, name)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            kind = _kind(path, name, os.path.basename(folder), is_app_side)
            if kind is not None:
                getattr(found, kind).append(path)
    return found


def _kind(path: str, name: str, parent: str, is_app_side) -> str | None:
    lowered = name.lower()
    if lowered.endswith((".yaml", ".yml")) and not re.fullmatch(r"(docker-)?compose([.-].*)?\.ya?ml", lowered):
        head = file_head(path)
        return "manifests" if head and _MANIFEST_TEXT.search(head) else None
    if lowered.endswith(".py"):
        return "apps" if "gunicorn" in lowered else None
    if lowered == "nginx.conf" or (lowered.endswith(".conf") and parent in _NGINX_DIRS):
        return ("apps" if _runs_app_server(path) else None) if is_app_side(path) else "nginx"
    if is_app_side(path):
        return "apps" if _runs_app_server(path) else None
    if lowered.endswith((".conf", ".nginx", ".vhost", ".conf.template")) or (
            parent in _NGINX_DIRS and not lowered.endswith(_NOT_NGINX_SUFFIXES)):
        # Debian's sites-available/example.com, the nginx image's default.conf.template: by content.
        head = file_head(path)
        return "nginx" if head and looks_like_nginx(head) else None
    return None


def _runs_app_server(path: str) -> bool:
    """A command file that starts an app server, or a uWSGI ini (not every script or Dockerfile)."""
    from confgen.errors import ConfgenError
    from confgen.gunicorn import sources

    if path.endswith(".ini"):
        return True  # is_app_side only says so for an ini with a [uwsgi] section
    try:
        sources.read_source(path)
    except ConfgenError:
        return False
    return True


def is_manifest(path: str) -> bool:
    """A YAML file of Kubernetes objects (an ``apiVersion:`` at the start of a line)."""
    lowered = os.path.basename(path).lower()
    if not lowered.endswith((".yaml", ".yml")) or re.fullmatch(r"(docker-)?compose([.-].*)?\.ya?ml", lowered):
        return False
    head = file_head(path)
    return bool(head and _MANIFEST_TEXT.search(head))
