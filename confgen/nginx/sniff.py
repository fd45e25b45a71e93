"""What a file's text says it is, before it is parsed: an nginx config, or a template of one that
is not nginx syntax until something renders it (Ansible's and Salt's Jinja, a Django project
template, Go templates, ERB)."""

from __future__ import annotations

import re

from confgen.files import read_regular_file

# A block nginx configs open at the start of a line: what tells a site file from any other *.conf
# (an Upstart job, a supervisord program) that sits beside it.
_NGINX_BLOCK = re.compile(r"^\s*(http|server|upstream|location|events)\b[^;{]*\{", re.M)

# Jinja / Django / Go / Mustache expressions and statements, Jinja comments, ERB tags. A rendered
# nginx config holds none of them: not even a JSON body a `return` sends opens two braces in a row.
_TEMPLATE_MARK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<%.*?%>")

_OPENERS = ("{{", "{%", "{#", "<%")

HEAD_BYTES = 64 * 1024


def looks_like_nginx(text: str) -> bool:
    """Whether ``text`` opens an nginx block (``server {``, ``location /x {``...) at a line start."""
    return _NGINX_BLOCK.search(text) is not None


def template_mark(text: str) -> tuple[int, str] | None:
    """(line, the marker) of the first template expression or tag outside an nginx comment line,
    else None. Whether the file parses or not (``listen <%= @port %>;`` does), its values are
    placeholders until it is rendered."""
    if not any(opener in text for opener in _OPENERS):
        return None    # nearly every config: one pass of str.find each, no line loop
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue   # `# {{ ansible_managed }}` is a comment to nginx
        found = _TEMPLATE_MARK.search(line)
        if found is not None:
            return number, found.group(0)
    return None


def file_head(path: str) -> str | None:
    """The first ``HEAD_BYTES`` of a regular file as text, or None when it cannot be read."""
    data, problem = read_regular_file(path, 16 * 1024 * 1024)
    return None if problem else data[:HEAD_BYTES].decode("utf-8", errors="replace")
