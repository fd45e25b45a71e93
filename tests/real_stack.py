"""The real stack's machinery, for every test that starts nginx and app servers from the
rendered files: the app they serve, the test profile, rendering it, starting the processes (each
in its own session, so its workers go with it), waiting until each holds its own port, starting
again when another test took a port between probing and binding, and stopping them."""

from __future__ import annotations

import http.client
import importlib.util
import os
import pwd
import re
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Callable, TypeVar

import pytest

from confgen.profile import sizing
from confgen.profile.loading import load_profile
from confgen.render.checked import render_checked
from confgen.render.rendering import render_plan
from conftest import REQUIRE_NGINX, owns_listener

TIMEOUT_S = 2                 # app.timeout_s of the test profiles
NGINX_IDLE_S = 1              # nginx.upstream_keepalive_timeout of the test profiles
PORT_TAKEN = ("Address already in use", "Connection in use")  # nginx's words, gunicorn's
Started = TypeVar("Started")

# One app for every worker class: /slow leaves a mark, sleeps, then leaves another (so a test
# sees where a handler began and whether it ran to its end); every accepted connection is counted
# in the worker process, at socket.accept, which gunicorn's sync and gthread workers and
# asyncio's loop all call, and so is every request (one byte per request: several app servers'
# shares of a load are counted where they are served).
APP = textwrap.dedent('''
    import asyncio, os, socket, time
    from urllib.parse import parse_qs

    MARKS = os.environ["STACK_MARKS"]
    _accept = socket.socket.accept

    def _counting_accept(self):
        accepted = _accept(self)
        with open(os.path.join(MARKS, f"accepts-{os.getpid()}"), "ab") as counter:
            counter.write(b"x")
        return accepted

    socket.socket.accept = _counting_accept

    def _count_request():
        with open(os.path.join(MARKS, f"requests-{os.getpid()}"), "ab") as counter:
            counter.write(b"r")

    def _mark(tag, what="done"):
        open(os.path.join(MARKS, f"{what}-{tag}"), "w").close()

    def wsgi(environ, start_response):
        _count_request()
        query = parse_qs(environ.get("QUERY_STRING", ""))
        environ["wsgi.input"].read()
        body = b"ok"
        if environ["PATH_INFO"] == "/slow":
            _mark(query["tag"][0], "began")
            time.sleep(float(query["s"][0]))
            _mark(query["tag"][0])
        elif environ["PATH_INFO"] == "/whoami":  # what the app is told, and what it makes of it
            body = " ".join([environ.get("HTTP_X_FORWARDED_FOR", "-"), environ.get("HTTP_X_FORWARDED_PROTO", "-"),
                             environ["wsgi.url_scheme"]]).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        _count_request()
        while (await receive()).get("more_body"):
            pass
        query = parse_qs(scope["query_string"].decode())
        body = b"ok"
        if scope["path"] == "/slow":
            _mark(query["tag"][0], "began")
            await asyncio.sleep(float(query["s"][0]))
            _mark(query["tag"][0])
        elif scope["path"] == "/whoami":
            headers = dict(scope["headers"])
            body = b" ".join([headers.get(b"x-forwarded-for", b"-"), headers.get(b"x-forwarded-proto", b"-"),
                              scope["scheme"].encode()])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
''')

WORKERS = {
    # id: (app kind, asgi_worker, worker class forced into the plan, modules it needs)
    "gthread": ("wsgi", "uvicorn", None, ["gunicorn"]),
    "uvicorn": ("asgi", "uvicorn", None, ["gunicorn", "uvicorn_worker"]),
    "asgi": ("asgi", "gunicorn", None, ["gunicorn"]),
    "sync": ("wsgi", "uvicorn", "sync", ["gunicorn"]),
}



def require_modules(modules: list[str]) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        if REQUIRE_NGINX:
            pytest.fail(f"{', '.join(missing)} required (CONFGEN_REQUIRE_NGINX=1)")
        pytest.skip(f"{', '.join(missing)} not installed")


def stack_profile(tmp: Path, kind: str, asgi_worker: str, *, nginx_port: int, app_port: int,
                  nginx_idle: int = NGINX_IDLE_S) -> dict:
    return {
        "name": "stack", "cpus": 1, "expected_qps": 20, "clients": 20,
        "max_body_size": "1m", "avg_response_size": "1k",
        "app": {"module": f"stackapp:{kind}", "kind": kind, "asgi_worker": asgi_worker, "latency_ms": 10,
                "timeout_s": TIMEOUT_S, "bind": f"127.0.0.1:{app_port}"},
        "nginx": {"user": pwd.getpwuid(os.getuid()).pw_name, "pid": str(tmp / "nginx.pid"),
                  "error_log": str(tmp / "nginx-error.log"), "access_log": str(tmp / "access.log"),
                  "http_port": nginx_port, "ipv6": False, "upstream_keepalive_timeout": nginx_idle},
    }


def render_for(profile: dict, worker_class: str | None) -> dict[str, str]:
    """The rendered files, self-checked; with ``worker_class``, the plan as it is for that
    class (render never picks sync itself, so its self-check is not run)."""
    if worker_class is None:
        return render_checked(profile)[0]
    real = sizing.gunicorn_worker_class

    def forced(p):
        return sizing.Value(worker_class, "forced by the test")

    # The function, where the other sizing functions call it, and its entry in the table.
    sizing.gunicorn_worker_class = sizing.GUNICORN_VALUES["worker_class"] = forced
    try:
        return render_plan(sizing.plan(load_profile(profile)))
    finally:
        sizing.gunicorn_worker_class = sizing.GUNICORN_VALUES["worker_class"] = real


def get(port: int, path: str, timeout: float = 15, headers: dict | None = None,
        host: str = "127.0.0.1") -> tuple[int | str, float, bytes]:
    """(status or the failure's name, seconds, body) of one GET on a fresh connection."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close", **(headers or {})})
        response = connection.getresponse()
        body = response.read()
        return response.status, time.monotonic() - started, body
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, time.monotonic() - started, b""
    finally:
        connection.close()


def comment(text: str, setting: str) -> str:
    """The reason written beside ``setting`` in a rendered file."""
    match = re.search(rf"^\s*{re.escape(setting)}\b.*#\s*(.*)$", text, re.M)
    assert match, setting
    return match.group(1)


def setting_seconds(text: str, setting: str) -> int:
    """The seconds a rendered file sets ``setting`` to (its first occurrence)."""
    return int(re.search(rf"^\s*{re.escape(setting)} (\d+)s?\s*;?", text, re.M).group(1))


def nginx_prefix(directory: Path, nginx_conf: str) -> Path:
    """``directory`` as nginx's prefix: the config in conf/ with a mime.types beside it; run
    unprivileged, the compiled-in temp paths (/var/lib/nginx, root's) moved under ``directory``
    (machine-bound lines only). The config's path."""
    conf = directory / "conf"
    conf.mkdir()
    if os.geteuid() != 0:
        temp = "".join(f"    {kind}_temp_path {directory / 'temp' / kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        nginx_conf = nginx_conf.replace("\nhttp {\n", "\nhttp {\n" + temp, 1)
        (directory / "temp").mkdir()
    (conf / "nginx.conf").write_text(nginx_conf)
    mime = Path("/etc/nginx/mime.types")
    (conf / "mime.types").write_text(mime.read_text() if mime.exists() else "types { text/plain txt; }\n")
    return conf / "nginx.conf"


def spawn(args: list[str], log: Path, **options) -> subprocess.Popen:
    """A process in its own session (its process group is its pid), output to ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **options)


def start_nginx(nginx: str, directory: Path, conf: Path) -> subprocess.Popen:
    """nginx in the foreground, prefix ``directory``; its own output in directory/nginx.out."""
    return spawn([nginx, "-p", f"{directory}/", "-c", str(conf), "-g", "daemon off;"], directory / "nginx.out")


def port_taken(listeners: list[tuple[subprocess.Popen, int]], logs: list[Path], deadline: float) -> bool:
    """Wait until each process holds its listener on its port; True when one did not because the
    port was taken (its log says so). Otherwise the caller's first request shows what failed."""
    if all(owns_listener(process, port, deadline) for process, port in listeners):
        return False
    text = "".join(log.read_text(errors="replace") for log in logs if log.exists())
    return any(words in text for words in PORT_TAKEN)


def start_again_when_taken(start: Callable[[], Started | None], directory: Path) -> Started:
    """``start()`` (which makes ``directory`` and returns None when a port was taken), again on
    other ports when another test took one between probing and binding."""
    for _ in range(3):
        started = start()
        if started is not None:
            return started
        shutil.rmtree(directory)
    raise AssertionError("nginx or an app server could not take its port three times")


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process's group (its workers with it), SIGKILL what is left after 10 s."""
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
