"""The stack runner: gunicorn (and nginx, unless the configuration has none) for one configuration,
started in its own directory, on its own port and app socket, so that all can run side by side;
ready once a request through it succeeds, and always stopped on the way out.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from confgen.errors import ConfgenError

from .adapt import RunLayout, adapt_nginx_config
from .configurations import Configuration, gunicorn_settings
from .processes import ProcessRegistry, log_tail
from .repo import BENCH_DIR

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get_unix(path: Path, url: str, timeout: float = 2.0) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(str(path))
        return _http_exchange(client, url)


def http_get_tcp(port: int, url: str, timeout: float = 2.0) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        return _http_exchange(client, url)


def _http_exchange(client: socket.socket, url: str) -> int:
    client.sendall(f"GET {url} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(match.group(1)) if match else 0


def _bench_app():
    """bench/app.py, for its counter format; loaded by path so that no module named ``app``
    lands on sys.path."""
    module = sys.modules.get("confgen_bench_app")
    if module is None:
        import importlib.util

        spec = importlib.util.spec_from_file_location("confgen_bench_app", BENCH_DIR / "app.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


class RunningStack:
    """gunicorn + nginx for one configuration; a context manager that always stops both."""

    def __init__(self, registry: ProcessRegistry, configuration: Configuration, layout: RunLayout,
                 options, conf_dir: Path) -> None:
        self.registry = registry
        self.configuration = configuration
        # A fresh port on every start: a port picked once could be taken between two rounds.
        self.layout = dataclasses.replace(layout, port=free_port())
        self.options = options
        self.conf_dir = conf_dir
        self.stats_dir = layout.directory / "stats"
        self._processes: list[subprocess.Popen] = []
        # Session id (= master pid) of each server this stack runs: "app", and "nginx" unless no-proxy.
        self.sessions: dict[str, int] = {}

    def __enter__(self) -> RunningStack:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        for process in reversed(self._processes):
            self.registry.stop(process)
        self._processes.clear()

    def _start(self) -> None:
        layout = self.layout
        layout.directory.mkdir(parents=True, exist_ok=True)
        if self.stats_dir.exists():
            shutil.rmtree(self.stats_dir)
        self.stats_dir.mkdir()
        (layout.directory / "temp").mkdir(exist_ok=True)
        if layout.app_socket.exists():
            layout.app_socket.unlink()
        self._start_app()
        if self.configuration.nginx_conf_text is not None:
            self._start_nginx()

    def _start_app(self) -> None:
        layout = self.layout
        gunicorn_conf = self.configuration.gunicorn_conf
        # Paths, address and worker count only; the same flags for every configuration.
        direct = self.configuration.nginx_conf_text is None
        bind = f"127.0.0.1:{layout.port}" if direct else f"unix:{layout.app_socket}"
        argv = [sys.executable, "-m", "gunicorn", "-c", str(gunicorn_conf), "--bind", bind,
                "--workers", str(self.options.app_workers),
                "--pid", str(layout.directory / "gunicorn.pid"),
                "--error-logfile", str(layout.directory / "gunicorn.log"),
                "--control-socket", str(layout.directory / "gunicorn.ctl"),
                "--chdir", str(BENCH_DIR)]
        settings = gunicorn_settings(gunicorn_conf)
        if settings.get("accesslog") not in (None, "-"):
            argv += ["--access-logfile", str(layout.directory / "gunicorn-access.log")]
        if os.geteuid() == 0:
            argv += ["--user", str(os.geteuid()), "--group", str(os.getegid())]
        argv.append("app:app")
        env = dict(os.environ)
        env["BENCH_STATS_DIR"] = str(self.stats_dir)
        env["BENCH_RESPONSE_BYTES"] = str(self.options.response_bytes)
        process = self.registry.start(argv, log_path=layout.directory / "gunicorn.out",
                                      env=env, cwd=BENCH_DIR)
        self._processes.append(process)
        self.sessions["app"] = process.pid
        if direct:
            def probe() -> bool:
                return http_get_tcp(layout.port, "/sync") == 200
        else:
            def probe() -> bool:
                return http_get_unix(layout.app_socket, "/sync") == 200
        self._wait_ready(process, probe, "gunicorn", layout.directory / "gunicorn.log")

    def _start_nginx(self) -> None:
        layout = self.layout
        layout.nginx_conf.write_text(adapt_nginx_config(
            self.configuration.nginx_conf_text, name=self.configuration.name, layout=layout,
            conf_dir=self.conf_dir))
        base = ["nginx", "-p", f"{layout.directory}/", "-c", str(layout.nginx_conf),
                "-e", str(layout.nginx_error_log)]
        check = subprocess.run([*base, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise ConfgenError(f"{self.configuration.name}: nginx -t failed: "
                               + " | ".join(check.stderr.strip().splitlines()[-3:]))
        process = self.registry.start(base, log_path=layout.directory / "nginx.out")
        self._processes.append(process)
        self.sessions["nginx"] = process.pid
        self._wait_ready(process, lambda: http_get_tcp(layout.port, "/sync") == 200, "nginx",
                         layout.nginx_error_log)

    def _wait_ready(self, process, probe, what: str, log_path: Path) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ConfgenError(f"{self.configuration.name}: {what} exited with "
                                   f"{process.returncode}: {log_tail(log_path)}")
            try:
                if probe():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise ConfgenError(f"{self.configuration.name}: {what} not ready after "
                           f"{STARTUP_TIMEOUT_S:.0f}s: {log_tail(log_path)}")

    def app_counters(self) -> tuple[int, int]:
        return _bench_app().read_stats(str(self.stats_dir))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.layout.port}{path}"
