"""Adapting a configuration to the harness: the same rewrite for every nginx configuration.

Only what ties a config to a machine changes (addresses, paths, the user, the worker count), so
that every configuration runs unprivileged, side by side, in a temp dir; what is measured is left
as written. ``RunLayout`` is where one running configuration keeps its files and how it is reached.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from confgen.errors import ConfgenError


@dataclass(frozen=True)
class RunLayout:
    """Where one running configuration keeps its files, and how it is reached."""

    directory: Path
    port: int
    app_socket: Path
    nginx_workers: int

    @property
    def nginx_conf(self) -> Path:
        return self.directory / "nginx.conf"

    @property
    def nginx_error_log(self) -> Path:
        return self.directory / "nginx-error.log"


def nginx_conf_dir() -> Path:
    """The directory Debian's nginx resolves relative includes against (``--conf-path``)."""
    result = subprocess.run(["nginx", "-V"], capture_output=True, text=True)
    match = re.search(r"--conf-path=(\S+)", result.stderr)
    return Path(match.group(1)).parent if match else Path("/etc/nginx")


TEMP_PATH_DIRECTIVES = ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path",
                        "uwsgi_temp_path", "scgi_temp_path")
LISTEN_FLAGS_KEPT = ("default_server", "default", "reuseport", "deferred")
MAIN_DIRECTIVES_REPLACED = ("user", "pid", "daemon", "master_process", "worker_processes")


def _proxy_target(target: str, upstream_names: set[str], app_socket: Path) -> str:
    """``proxy_pass`` to a literal address -> the app socket; to an upstream or a variable: kept."""
    scheme, sep, rest = target.partition("://")
    if not sep or "$" in target:
        return target
    if rest.startswith("unix:"):
        path_and_uri = rest[len("unix:"):]
        _, colon, uri = path_and_uri.partition(":")
        uri = uri if colon else ""
    else:
        host, slash, uri = rest.partition("/")
        if host in upstream_names:
            return target
        uri = slash + uri
    return f"{scheme}://unix:{app_socket}" + (f":{uri}" if uri else "")


def adapt_nginx_config(text: str, *, name: str, layout: RunLayout, conf_dir: Path) -> str:
    """Rewrite ONLY what ties a config to a machine: listen address and port, the app's address,
    pid and log paths, temp paths, the user, worker_processes, and relative includes.

    Everything else (pool size, timeouts, headers, buffering, gzip...) is what is measured and
    is left exactly as written. Comments are kept.
    """
    import crossplane

    source = layout.directory / f"{name}.source.conf"
    source.write_text(text)
    payload = crossplane.parse(str(source), single=True, comments=True, check_ctx=True,
                               check_args=True)
    if payload["errors"]:
        error = payload["errors"][0]
        raise ConfgenError(f"{name}: {error['file']}:{error.get('line')}: {error['error']}")
    tree = payload["config"][0]["parsed"]
    upstream_names = {d["args"][0] for d in _walk(tree) if d["directive"] == "upstream"}

    def directive(name_: str, *args: str) -> dict:
        return {"directive": name_, "args": list(args)}

    def rewrite(block: list[dict], context: str) -> list[dict]:
        result = []
        listen_seen = False
        for item in block:
            kind = item["directive"]
            if context == "main" and kind in MAIN_DIRECTIVES_REPLACED:
                continue
            if kind in TEMP_PATH_DIRECTIVES:
                continue
            if kind == "error_log":
                item = {**item, "args": [str(layout.nginx_error_log), *item["args"][1:]]}
            elif kind == "access_log" and item["args"] and item["args"][0] != "off":
                item = {**item, "args": [str(layout.directory / "access.log"), *item["args"][1:]]}
            elif kind == "listen" and context == "server":
                if listen_seen:
                    continue
                listen_seen = True
                flags = [a for a in item["args"][1:] if a in LISTEN_FLAGS_KEPT]
                item = {**item, "args": [f"127.0.0.1:{layout.port}", *flags]}
            elif kind == "server" and context == "upstream":
                item = {**item, "args": [f"unix:{layout.app_socket}", *item["args"][1:]]}
            elif kind == "proxy_pass" and item["args"]:
                item = {**item, "args": [_proxy_target(item["args"][0], upstream_names,
                                                       layout.app_socket)]}
            elif kind == "include" and item["args"] and not item["args"][0].startswith("/"):
                item = {**item, "args": [str(conf_dir / item["args"][0])]}
            if "block" in item:
                inner = rewrite(item["block"], kind)
                if kind == "http":
                    temp_root = layout.directory / "temp"
                    inner = [directive(d, str(temp_root / d.removesuffix("_temp_path")))
                             for d in TEMP_PATH_DIRECTIVES] + inner
                item = {**item, "block": inner}
            result.append(item)
        return result

    main = [directive("daemon", "off"), directive("worker_processes", str(layout.nginx_workers)),
            directive("pid", str(layout.directory / "nginx.pid"))]
    if os.geteuid() == 0:
        # As root nginx would switch its workers to the config's user (nobody, www-data), which
        # cannot reach the app socket in the harness's private temp dir.
        import grp
        import pwd

        main.append(directive("user", pwd.getpwuid(os.geteuid()).pw_name,
                              grp.getgrgid(os.getegid()).gr_name))
    return crossplane.build(main + rewrite(tree, "main"), indent=4) + "\n"


def _walk(block: list[dict]):
    for item in block:
        yield item
        yield from _walk(item.get("block") or [])
