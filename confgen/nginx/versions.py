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
    # Built with its own copy of the library (``configure --with-openssl=DIR``, maybe with its own
    # ``--with-openssl-opt``): the system's ``openssl`` command then tells nothing about it.
    own_tls_library: bool = False


@functools.lru_cache(maxsize=1)
def installed_nginx_build() -> NginxBuild | None:
    """The version and TLS library ``nginx -V`` reports, or None when nginx is not installed.

    Running nginx costs ~4 ms of every `confgen lint` not given a version, so the answer is kept
    in the user's cache (confgen.cache) under the binary's path, inode, size and modification
    time: an upgraded or replaced nginx is a different file and is asked again."""
    binary = _which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if _which(p)), None)
    identity, cached = _cached_answer(binary, "nginx", "version")
    if identity is None:
        return None
    if cached is not None:
        fields = cached.split("\t")
        # An entry written before the library (or whether nginx has its own) was kept has fewer fields.
        if len(fields) == 3 and _VERSION_RE.match(fields[0]) and fields[2] in ("", "own"):
            return NginxBuild(fields[0], fields[1] or None, fields[2] == "own")
    said = _output_of([binary, "-V"], timeout=5) or ""
    match = re.search(r"nginx/(\d+\.\d+(?:\.\d+)?)", said)
    if match is None:
        return None
    # "built with OpenSSL 3.0.2 ... (running with OpenSSL 3.0.13 ...)": the one it runs with.
    library = re.search(r"running with ((?:OpenSSL|LibreSSL|BoringSSL)[ \w.-]*?\d[\w.]*)", said) \
        or re.search(r"built with ((?:OpenSSL|LibreSSL|BoringSSL)[ \w.-]*?\d[\w.]*)", said)
    build = NginxBuild(match.group(1), library.group(1) if library else None, "--with-openssl=" in said)
    cache.write_entry("nginx", "version", f"{identity}{build.version}\t{build.tls_library or ''}\t"
                                          f"{'own' if build.own_tls_library else ''}\n")
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


# OpenSSL's cipher-string keywords for the families of broken suites (openssl-ciphers(1)), as the
# TLS rules name them.
BROKEN_CIPHER_FAMILIES = ("RC4", "RC2", "DES", "3DES", "IDEA", "SEED", "MD5", "eNULL", "aNULL", "EXPORT", "LOW")
_OPENSSL_VERSION_RE = r"\d+\.\d+\.\d+[a-z]*"


def installed_cipher_families(target: Version) -> frozenset[str] | None:
    """The families of BROKEN_CIPHER_FAMILIES the TLS library of the installed nginx has suites
    of, when ``target`` is its version: a build without them (Debian 12's OpenSSL 3.0 has no RC4,
    DES or 3DES suite at all) cannot enable them, whatever ``ssl_ciphers`` says. None when not
    known: another target, no nginx or no ``openssl`` command, an nginx built with its own copy
    of the library, or an ``openssl`` command whose library is another version than nginx's."""
    if installed_tls_library(target) is None:
        return None
    build = installed_nginx_build()
    if build is None or build.own_tls_library or build.tls_library is None:
        return None
    nginx_library = re.fullmatch(rf"OpenSSL ({_OPENSSL_VERSION_RE})", build.tls_library.strip())
    probed = _openssl_cipher_families()
    if nginx_library is None or probed is None or probed[0] != nginx_library.group(1):
        return None
    return probed[1]


@functools.lru_cache(maxsize=1)
def _openssl_cipher_families() -> tuple[str, frozenset[str]] | None:
    """(the version of the library the ``openssl`` command runs with, the families of
    BROKEN_CIPHER_FAMILIES it lists suites of), or None when that cannot be told.

    ``openssl ciphers -v -ciphersuites "" 'RC4:@SECLEVEL=0'`` lists every TLSv1.2-and-older suite
    of the family the library has, whatever its security level allows, and answers "no cipher
    match" when it has none (the error ``ssl_ciphers`` then gives nginx). Asked once per family and
    kept in the user's cache under the command's path, inode, size and modification time, as the
    nginx version is; the library is compared with nginx's at every use."""
    binary = _which("openssl")
    identity, cached = _cached_answer(binary, "openssl", "cipher-families")
    if identity is None:
        return None
    if cached is not None:
        library, tab, families = cached.partition("\t")
        listed = [family for family in families.split(",") if family]
        if tab and re.fullmatch(_OPENSSL_VERSION_RE, library) and set(listed) <= set(BROKEN_CIPHER_FAMILIES):
            return library, frozenset(listed)
    said = _output_of([binary, "version"], timeout=5) or ""
    library = re.search(rf"\(Library: OpenSSL ({_OPENSSL_VERSION_RE})\b", said) \
        or re.match(rf"OpenSSL ({_OPENSSL_VERSION_RE})\b", said)
    if library is None:
        return None
    present = []
    for family in BROKEN_CIPHER_FAMILIES:
        listed = _output_of([binary, "ciphers", "-v", "-ciphersuites", "", f"{family}:@SECLEVEL=0"], timeout=5)
        if listed is not None and "no cipher match" in listed:
            continue
        if listed is None or "Kx=" not in listed:
            return None     # not run, or an answer not understood (an openssl without -ciphersuites)
        present.append(family)
    cache.write_entry("openssl", "cipher-families", f"{identity}{library.group(1)}\t{','.join(present)}\n")
    return library.group(1), frozenset(present)


def _cached_answer(binary: str | None, folder: str, name: str) -> tuple[str | None, str | None]:
    """(the binary's identity: path, inode, size and modification time, the key an answer about it
    is cached under; what the user's cache holds for that identity, or None). (None, None) when
    there is no such binary."""
    if binary is None:
        return None, None
    try:
        stat = os.stat(binary)
    except OSError:
        return None, None
    identity = f"{binary}\t{stat.st_ino}\t{stat.st_size}\t{stat.st_mtime_ns}\t"
    cached = cache.read_entry(folder, name) or ""
    return identity, cached[len(identity):].strip("\n") if cached.startswith(identity) else None


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
INTRODUCED_NAMES = frozenset(entry.directive for entry in INTRODUCTIONS)


def introductions_used(config, by_name=None) -> list[tuple[Introduction, object]]:
    """Every (introduction, directive) pair of the config: the syntax that needs a given nginx
    version or newer. ``by_name(name)`` (a lint's index of directives by name) spares the walk
    of the whole tree."""
    if by_name is not None:
        return [(entry, directive) for entry in INTRODUCTIONS for directive in by_name(entry.directive)
                if entry.used_by(directive)]
    found = []
    for directive in config.walk():
        if directive.name in INTRODUCED_NAMES:
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
    config.version_assumed = True
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
