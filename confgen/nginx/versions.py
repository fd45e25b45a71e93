"""nginx version numbers, and finding the installed nginx."""

from __future__ import annotations

import functools
import os
import re
from typing import NamedTuple

from confgen import cache

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


class NginxBuild(NamedTuple):
    version: str                 # "1.22.1"
    tls_library: str | None      # "OpenSSL 3.0.22", what it runs with (else was built with), None: not said


@functools.lru_cache(maxsize=1)
def installed_nginx_build() -> NginxBuild | None:
    """The version and TLS library ``nginx -V`` reports, or None when nginx is not installed.

    Running nginx costs ~4 ms of every `confgen lint` not given a version, so the answer is kept
    in the user's cache (confgen.cache) under the binary's path, inode, size and modification
    time: an upgraded or replaced nginx is a different file and is asked again."""
    binary = _which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if _which(p)), None)
    if binary is None:
        return None
    try:
        stat = os.stat(binary)
    except OSError:
        return None
    identity = f"{binary}\t{stat.st_ino}\t{stat.st_size}\t{stat.st_mtime_ns}\t"
    cached = cache.read_entry("nginx", "version") or ""
    if cached.startswith(identity):
        version, tab, library = cached[len(identity):].strip("\n").partition("\t")
        if tab and _VERSION_RE.match(version):   # an entry written before the library was kept has no tab
            return NginxBuild(version, library or None)
    said = _output_of([binary, "-V"], timeout=5) or ""
    match = re.search(r"nginx/(\d+\.\d+(?:\.\d+)?)", said)
    if match is None:
        return None
    # "built with OpenSSL 3.0.2 ... (running with OpenSSL 3.0.13 ...)": the one it runs with.
    library = re.search(r"running with ((?:OpenSSL|LibreSSL|BoringSSL)[ \w.-]*?\d[\w.]*)", said) \
        or re.search(r"built with ((?:OpenSSL|LibreSSL|BoringSSL)[ \w.-]*?\d[\w.]*)", said)
    build = NginxBuild(match.group(1), library.group(1) if library else None)
    cache.write_entry("nginx", "version", f"{identity}{build.version}\t{build.tls_library or ''}\n")
    return build


def installed_nginx_version() -> str | None:
    """The version ``nginx -V`` reports, or None when nginx is not installed."""
    build = installed_nginx_build()
    return build.version if build is not None else None


installed_nginx_version.cache_clear = installed_nginx_build.cache_clear  # one answer per process, as before


def installed_tls_library(target: Version) -> tuple[int, ...] | None:
    """The OpenSSL version (``(3, 0, 22)``) of the installed nginx when ``target`` is its version,
    so the nginx being linted for is this one; None for another target, another library, or no
    nginx installed."""
    build = installed_nginx_build()
    if build is None or build.tls_library is None or parse_version(build.version) != tuple(target):
        return None
    found = re.fullmatch(r"OpenSSL (\d+)\.(\d+)\.(\d+)\w*", build.tls_library.strip())
    return tuple(int(part) for part in found.groups()) if found else None


# `confgen lint` asks for the installed nginx's version on every run that is not given one. On
# POSIX it finds and runs nginx with the os module alone: shutil (for which) and subprocess cost
# ~7 ms to import, a tenth of the whole lint (bench/cli_latency.py). Elsewhere, they are used.


def _which(name: str) -> str | None:
    """What ``shutil.which(name)`` finds (its POSIX rules: PATH, else the system's default path;
    an empty PATH finds nothing)."""
    if os.name != "posix":
        import shutil

        return shutil.which(name)
    if os.path.dirname(name):
        candidates = [name]
    else:
        path = os.environ.get("PATH")
        if path is None:
            path = os.confstr("CS_PATH") if "CS_PATH" in os.confstr_names else os.defpath
        candidates = [os.path.join(folder, name) for folder in dict.fromkeys(path.split(os.pathsep))] if path else []
    return next((c for c in candidates if os.path.exists(c) and os.access(c, os.X_OK) and not os.path.isdir(c)), None)


def _output_of(command: list[str], timeout: float) -> str | None:
    """What ``command`` writes on stdout and stderr, or None when it cannot be run or is still
    running after ``timeout`` seconds (it is killed)."""
    if not hasattr(os, "posix_spawn"):
        import subprocess

        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stderr + result.stdout
    import select
    import time

    reader, writer = os.pipe()
    try:
        child = os.posix_spawn(command[0], command, os.environ,
                               file_actions=[(os.POSIX_SPAWN_DUP2, writer, 1), (os.POSIX_SPAWN_DUP2, writer, 2)])
    except OSError:
        os.close(reader)
        return None
    finally:
        os.close(writer)  # the child's copies stay open until it exits: then the read below ends
    output, deadline = b"", time.monotonic() + timeout
    with os.fdopen(reader, "rb", buffering=0) as pipe:
        while select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))[0]:
            chunk = pipe.read(65536)
            if not chunk:
                os.waitpid(child, 0)
                return output.decode("utf-8", errors="replace")
            output += chunk
    import signal

    os.kill(child, signal.SIGKILL)  # as subprocess.run does on a timeout
    os.waitpid(child, 0)
    return None


def version_text(version: Version) -> str:
    return ".".join(map(str, version))


class Introduction(NamedTuple):
    directive: str
    since: Version                    # the first nginx version that reads it
    parameter: str | None = None      # a parameter of the directive, not the directive itself
    context: str | None = None        # only in this block (upstream's `server ... resolve`)

    def shown(self) -> str:
        """How a message names it: ``http2``, ``listen ... quic``."""
        return f"{self.directive} ... {self.parameter}" if self.parameter else self.directive

    def used_by(self, directive) -> bool:
        if directive.name != self.directive:
            return False
        if self.context is not None and directive.context != self.context:
            return False
        return self.parameter is None or self.parameter in directive.args[1:]


# From nginx's CHANGES and the "This directive appeared in version" lines of nginx.org's module
# pages: 1.15.3 (keepalive_timeout and keepalive_requests in upstream blocks), 1.19.4
# (ssl_reject_handshake, ssl_conf_command), 1.19.10 (keepalive_time), 1.25.0 (HTTP/3: http3,
# listen ... quic), 1.25.1 (the http2 directive), 1.27.3 (resolver and `server ... resolve` in
# upstream blocks, in the open-source build), 1.29.3 (add_header_inherit).
# nginx 1.22.1 (Debian 12) was checked to refuse the 1.25+ ones ("unknown directive").
INTRODUCTIONS = (
    # An upstream's own idle timer and request limit (nginx.org: "This directive appeared in
    # version 1.15.3"); older nginx knows them only in http/server/location.
    Introduction("keepalive_timeout", (1, 15, 3), context="upstream"),
    Introduction("keepalive_requests", (1, 15, 3), context="upstream"),
    Introduction("ssl_reject_handshake", (1, 19, 4)),
    Introduction("ssl_conf_command", (1, 19, 4)),
    Introduction("proxy_ssl_conf_command", (1, 19, 4)),
    Introduction("keepalive_time", (1, 19, 10)),
    Introduction("http3", (1, 25, 0)),
    Introduction("listen", (1, 25, 0), parameter="quic"),
    Introduction("http2", (1, 25, 1)),
    Introduction("resolver", (1, 27, 3), context="upstream"),
    Introduction("server", (1, 27, 3), parameter="resolve", context="upstream"),
    Introduction("add_header_inherit", (1, 29, 3)),
    Introduction("add_trailer_inherit", (1, 29, 3)),
)
_INTRODUCED_NAMES = frozenset(entry.directive for entry in INTRODUCTIONS)


def introductions_used(config, by_name=None) -> list[tuple[Introduction, object]]:
    """Every (introduction, directive) pair of the config: the syntax that needs a given nginx
    version or newer. ``by_name(name)`` (a lint's index of directives by name) spares the walk
    of the whole tree."""
    if by_name is not None:
        return [(entry, directive) for entry in INTRODUCTIONS for directive in by_name(entry.directive)
                if entry.used_by(directive)]
    found = []
    for directive in config.walk():
        if directive.name in _INTRODUCED_NAMES:
            found.extend((entry, directive) for entry in INTRODUCTIONS if entry.used_by(directive))
    return found


def syntax_version(config) -> tuple[Version, object] | None:
    """The oldest nginx version the config's own syntax needs, with the first directive that
    needs it; None when nothing in it is newer than any nginx confgen knows."""
    needed = None
    for entry, directive in introductions_used(config):
        if needed is None or entry.since > needed[0]:
            needed = (entry.since, directive)
    return needed


def adopt_syntax_version(config) -> None:
    """For a config linted with no version named: when its own syntax needs a newer nginx than
    the one assumed (the installed nginx, else DEFAULT_NGINX_VERSION), lint it for the oldest
    version that reads it, and say so in a note. A config whose project runs nginx 1.25 is not
    an error for using ``http2 on`` because this machine has 1.22; only syntax that no single
    version accepts (``http2 on`` beside ``ssl on``, removed in 1.25.1) is still reported, by the
    rules, at the version adopted. ``config.version_from_syntax`` keeps (version, directive)."""
    needed = syntax_version(config)
    if needed is None or needed[0] <= tuple(config.nginx_version):
        return
    version, directive = needed
    assumed = version_text(tuple(config.nginx_version))
    config.nginx_version = version
    config.version_from_syntax = needed
    config.notes.append(f"{directive.file}:{directive.line}: `{directive.name}"
                        f"{' ' + ' '.join(directive.args) if directive.args else ''}` needs nginx "
                        f"{version_text(version)} or newer, so the config is linted for nginx {version_text(version)} "
                        f"(not {assumed}, the installed or default version); pass --nginx-version to lint for "
                        f"the version the server runs")
