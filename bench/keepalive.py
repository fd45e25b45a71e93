"""Measure upstream keep-alive end to end: nginx + gunicorn (uvicorn worker) + FastAPI, driven by wrk.

Six configurations run side by side and take turns, in alternating rounds (A B C ... then ... C B
A) so that noise and drift from a shared machine hit all of them alike:

- ``article-no-keepalive``: the article's nginx.conf without its upstream ``keepalive`` (baseline);
- ``article``: the article's nginx.conf as published (``keepalive 8``);
- ``generator-style``: a generator's shape (no upstream block, ``Connection`` from an upgrade map);
- ``hand-tuned``: a minimal expert config (pool of 32, HTTP/1.1, ``Connection ""``, only ``Host``
  passed, ``keepalive_requests 10000``, app keep-alive above nginx's): the speed reference;
- ``no-proxy``: wrk straight to gunicorn, no nginx: the ceiling;
- ``confgen``: ``confgen render`` of a profile describing this machine and this load.

The article's three pair with gunicorn's uvicorn worker at its defaults (the article's pairing);
``hand-tuned`` and ``no-proxy`` with ``configs/hand-tuned-gunicorn.conf.py``; ``confgen`` with its
own rendered ``gunicorn.conf.py``. Every configuration is adapted the same way, in paths, ports and
worker counts only (see ``adapt_nginx_config``), so that it runs unprivileged in a temp dir on
127.0.0.1 and unix sockets.

``--ablate`` runs a different experiment: the rendered config with one setting removed or changed
at a time (``ABLATIONS``, applied to the rendered text), each variant's req/s as a ratio to the
unmodified rendered config measured just before and after it in the same round.

Upstream connection reuse is counted on the app side (``bench/app.py``), not inferred from the
configs. A second scenario, the idle race, sends bursts of POSTs separated by idle gaps swept
around the app's keep-alive and counts the 502s of the article's pairing against confgen's. A third
times the CLI as a pre-commit hook would run it. The machine's other load is recorded with every
measurement (load average, and the CPU used by processes the harness did not start), and so is
the servers' own CPU per request, which a busy machine disturbs much less than req/s.

Everything started is in its own session; every session is killed on exit, on Ctrl-C and on
SIGTERM, and checked for leftovers.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import re
import runpy
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CONFIGS_DIR = BENCH_DIR / "configs"
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

from confgen.errors import ConfgenError  # noqa: E402

BASELINE = "article-no-keepalive"
CONFIGURATIONS = ("article-no-keepalive", "article", "generator-style", "hand-tuned", "no-proxy",
                  "confgen")
# Every configuration's req/s is also given as a ratio to these (median of per-round ratios).
REFERENCES = (BASELINE, "hand-tuned", "no-proxy")
# The configuration whose app is reached by wrk directly: no nginx in front.
NO_PROXY = "no-proxy"
ENDPOINTS = {"sync": "/sync", "async": "/async", "sized": "/sized"}
# The app side of the three non-confgen configurations (the article's pairing).
ARTICLE_GUNICORN_CONF = CONFIGS_DIR / "article-gunicorn.conf.py"
# The app side of hand-tuned and no-proxy.
HAND_TUNED_GUNICORN_CONF = CONFIGS_DIR / "hand-tuned-gunicorn.conf.py"
BENCH_PROFILE = CONFIGS_DIR / "bench-profile.yaml"
GUNICORN_DEFAULT_KEEPALIVE_S = 2
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0

WRK_REPORT_LUA = """\
-- Prints one parseable line when wrk finishes: totals, latency percentiles (microseconds) and
-- error counts (wrk's "status" errors are responses with a status of 400 or more).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT requests=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f connect=%.0f read=%.0f write=%.0f timeout=%.0f status=%.0f\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Processes: each started in its own session, so that one killpg reaches nginx's and gunicorn's
# workers too, and so that leftovers can be found by session id after the fact.


def sessions_alive(session_ids: set[int]) -> list[tuple[int, int, str]]:
    """(pid, session, command) of every live process whose session is one of ``session_ids``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ")".
        fields = stat[stat.rindex(")") + 2:].split()
        state, session = fields[0], int(fields[3])
        if session in session_ids and state != "Z":
            command = stat[stat.index("(") + 1:stat.rindex(")")]
            found.append((int(entry), session, command))
    return found


class ProcessRegistry:
    """Every process the harness starts, so that all of them are stopped whatever happens."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen] = []
        self.sessions: list[int] = []

    def start(self, argv: list[str], *, log_path: Path, env: dict | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
        with open(log_path, "ab") as log_file:
            try:
                process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                           stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                           start_new_session=True)
            except OSError as error:
                raise ConfgenError(f"cannot start {argv[0]}: {error.strerror}") from None
        self._running.append(process)
        self.sessions.append(process.pid)
        return process

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        """Signal the whole session, wait, then SIGKILL whatever is still in it."""
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while (left := sessions_alive({process.pid})) and time.monotonic() < deadline:
            for pid, _, _ in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        if process.poll() is None:
            process.wait()
        if process in self._running:
            self._running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self._running)):
            self.stop(process)

    def leftovers(self) -> list[tuple[int, int, str]]:
        return sessions_alive(set(self.sessions))


def _exit_on_signal(signum, frame):
    # SystemExit unwinds through every ``finally``, which is where processes are stopped.
    raise SystemExit(128 + signum)


# ---------------------------------------------------------------------------------------------
# Adapting a configuration to the harness: the same rewrite for every configuration.


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


def run_layout(workdir: Path, name: str, options) -> RunLayout:
    """Each configuration's own directory and app socket, so that all can run at once. Sockets
    get short names in one directory: a unix socket path is limited to 107 bytes."""
    sockets = workdir / "sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    index = (CONFIGURATIONS + ABLATION_NAMES).index(name)
    return RunLayout(workdir / name, 0, sockets / f"{index}.sock", options.nginx_workers)


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Configurations


@dataclass(frozen=True)
class Configuration:
    name: str
    # None: no nginx; wrk talks to gunicorn, which then listens on 127.0.0.1 instead of a socket.
    nginx_conf_text: str | None
    gunicorn_conf: Path


def gunicorn_settings(path: Path) -> dict:
    """The module-level settings of a gunicorn config file, as gunicorn itself reads them: by
    executing it."""
    namespace = runpy.run_path(str(path))
    return {key: value for key, value in namespace.items() if not key.startswith("_")}


def write_bench_profile(destination: Path, *, app_socket: Path, options, layout_dir: Path) -> Path:
    """The bench profile with this run's load (clients = wrk's connections), CPUs and paths."""
    import yaml

    profile = yaml.safe_load(BENCH_PROFILE.read_text())
    profile["cpus"] = os.cpu_count() or 1
    profile["clients"] = options.connections
    profile["app"]["bind"] = str(app_socket)
    nginx = profile.setdefault("nginx", {})
    nginx.update({"pid": str(layout_dir / "nginx.pid"),
                  "error_log": str(layout_dir / "nginx-error.log"),
                  "http_port": 8080})
    if nginx.get("access_log", "") != "off":
        nginx["access_log"] = str(layout_dir / "access.log")
    destination.write_text(yaml.safe_dump(profile, sort_keys=False))
    return destination


def render_confgen(profile: Path, output_dir: Path) -> dict[str, str]:
    """``confgen render PROFILE -o DIR``, run as a user would run it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([*confgen_command(), "render", str(profile), "-o", str(output_dir)],
                            capture_output=True, text=True, cwd=REPO_DIR, env=_repo_env())
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise ConfgenError(f"confgen render {profile} failed (exit {result.returncode}): {last}")
    return {name: (output_dir / name).read_text() for name in ("nginx.conf", "gunicorn.conf.py")}


def confgen_command() -> list[str]:
    return [sys.executable, "-m", "confgen"]


def _repo_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    return env


def load_configurations(names: list[str], workdir: Path, options, app_socket: Path
                        ) -> dict[str, Configuration]:
    configurations = {}
    for name in names:
        if name == "confgen":
            profile = write_bench_profile(workdir / "bench-profile.yaml", app_socket=app_socket,
                                          options=options, layout_dir=workdir / "confgen")
            rendered_dir = workdir / "confgen-rendered"
            files = render_confgen(profile, rendered_dir)
            configurations[name] = Configuration(name, files["nginx.conf"],
                                                 rendered_dir / "gunicorn.conf.py")
        elif name == NO_PROXY:
            configurations[name] = Configuration(name, None, HAND_TUNED_GUNICORN_CONF)
        else:
            gunicorn_conf = (HAND_TUNED_GUNICORN_CONF if name == "hand-tuned"
                             else ARTICLE_GUNICORN_CONF)
            configurations[name] = Configuration(name, (CONFIGS_DIR / f"{name}.conf").read_text(),
                                                 gunicorn_conf)
    return configurations


# ---------------------------------------------------------------------------------------------
# Running one configuration


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


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


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
                                   f"{process.returncode}: {_tail(log_path)}")
            try:
                if probe():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise ConfgenError(f"{self.configuration.name}: {what} not ready after "
                           f"{STARTUP_TIMEOUT_S:.0f}s: {_tail(log_path)}")

    def app_counters(self) -> tuple[int, int]:
        return _bench_app().read_stats(str(self.stats_dir))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.layout.port}{path}"


# ---------------------------------------------------------------------------------------------
# Throughput: wrk against each endpoint


@dataclass
class Measurement:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    app_requests: int
    app_connections: int
    # The machine's other load during the measurement: CPU used by processes the harness did not
    # start, in % of all CPUs, and the 1-minute load average before and after (which also counts
    # the benchmark's own processes).
    other_cpu_pct: float
    load_before: float
    load_after: float
    # CPU seconds the servers used during the measurement (wrk excluded): less sensitive to the
    # machine's other load than req/s, since it does not count time spent waiting for a CPU.
    app_cpu_s: float = 0.0
    nginx_cpu_s: float = 0.0

    @property
    def server_cpu_us_per_request(self) -> float | None:
        return (1e6 * (self.app_cpu_s + self.nginx_cpu_s) / self.requests
                if self.requests else None)


WRK_LINE = re.compile(r"WRK-RESULT (.*)")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all CPUs have spent busy since boot (/proc/stat; idle and iowait excluded)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_s_by_session(session_ids: set[int]) -> dict[int, float]:
    """CPU seconds used so far by the live processes of each session, in nanoseconds' precision
    (/proc/PID/schedstat's time on CPU, where /proc/PID/stat counts 10 ms ticks)."""
    totals = dict.fromkeys(session_ids, 0.0)
    for pid, session, _ in sessions_alive(session_ids):
        try:
            on_cpu_ns = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        totals[session] += on_cpu_ns / 1e9
    return totals


def own_cpu_s(registry: ProcessRegistry) -> float:
    """CPU seconds used by the harness and everything it started: live processes in its sessions
    (nginx's and gunicorn's workers) plus its reaped children (wrk, once waited for)."""
    total = sum(cpu_s_by_session(set(registry.sessions)).values())
    import resource

    used = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        used += usage.ru_utime + usage.ru_stime
    return total + used


def run_wrk(registry: ProcessRegistry, stack: RunningStack, path: str, duration: int,
            lua_script: Path) -> dict:
    options = stack.options
    argv = ["wrk", "-t", str(options.threads), "-c", str(options.connections),
            "-d", f"{duration}s", "--timeout", "10s", "-s", str(lua_script),
            stack.url(path)]
    out_path = stack.layout.directory / "wrk.out"
    out_path.write_text("")
    process = registry.start(argv, log_path=out_path)
    try:
        process.wait(timeout=duration + 30)
    finally:
        registry.stop(process)
    match = WRK_LINE.search(out_path.read_text())
    if not match:
        raise ConfgenError(f"{stack.configuration.name}: wrk gave no result: {_tail(out_path)}")
    return {key: int(value) for key, value in
            (pair.split("=") for pair in match.group(1).split())}


def measure(registry: ProcessRegistry, stack: RunningStack, path: str, lua_script: Path
            ) -> Measurement:
    options = stack.options
    load_before = os.getloadavg()[0]
    connections_before, requests_before = stack.app_counters()
    servers = set(stack.sessions.values())
    servers_before = cpu_s_by_session(servers)
    busy_before, own_before, started = machine_busy_s(), own_cpu_s(registry), time.monotonic()
    result = run_wrk(registry, stack, path, options.duration, lua_script)
    busy_after, own_after, elapsed = machine_busy_s(), own_cpu_s(registry), time.monotonic() - started
    servers_after = cpu_s_by_session(servers)
    server_cpu = {role: round(servers_after[session] - servers_before[session], 3)
                  for role, session in stack.sessions.items()}
    connections_after, requests_after = stack.app_counters()
    other_cpu_s = max(0.0, (busy_after - busy_before) - (own_after - own_before))
    socket_errors = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    return Measurement(
        requests=result["requests"],
        requests_per_s=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000, p99_ms=result["p99_us"] / 1000,
        non_2xx=result["status"], socket_errors=socket_errors,
        app_requests=requests_after - requests_before,
        app_connections=connections_after - connections_before,
        other_cpu_pct=round(100 * other_cpu_s / (elapsed * (os.cpu_count() or 1)), 1),
        load_before=load_before, load_after=os.getloadavg()[0],
        app_cpu_s=server_cpu.get("app", 0.0), nginx_cpu_s=server_cpu.get("nginx", 0.0))


def _median_or_none(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 1) if present else None


def _spread(values: list[float]) -> dict:
    median = statistics.median(values)
    return {"median": round(median, 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def summarize(per_round: dict[str, list[Measurement]]) -> dict[str, dict]:
    """Median and spread over rounds. Ratios to the baseline and to the references are medians of
    per-round ratios, so that a slow round slows both sides of each ratio alike."""
    summary = {}
    for name, rounds in per_round.items():
        rates = [m.requests_per_s for m in rounds]
        median_rate = statistics.median(rates)
        app_requests = sum(m.app_requests for m in rounds)
        app_connections = sum(m.app_connections for m in rounds)
        entry = {
            "requests_per_s": round(median_rate, 1),
            "requests_per_s_min": round(min(rates), 1),
            "requests_per_s_max": round(max(rates), 1),
            "spread_pct": round(100 * (max(rates) - min(rates)) / median_rate, 1) if median_rate else None,
            "p50_ms": round(statistics.median(m.p50_ms for m in rounds), 2),
            "p99_ms": round(statistics.median(m.p99_ms for m in rounds), 2),
            "non_2xx": sum(m.non_2xx for m in rounds),
            "socket_errors": sum(m.socket_errors for m in rounds),
            "app_requests": app_requests,
            "app_connections": app_connections,
            # None when no connection was opened in the window: every request reused a pooled one.
            "requests_per_connection": (round(app_requests / app_connections, 2)
                                        if app_connections else None),
            # A connection opened for a request the client abandoned as wrk stopped carries no
            # request, so connections can exceed requests by a few: not negative reuse.
            "reused_pct": (round(max(0.0, 100 * (1 - app_connections / app_requests)), 2)
                           if app_requests else None),
            "other_cpu_pct": round(statistics.median(m.other_cpu_pct for m in rounds), 1),
            "server_cpu_us_per_request": _median_or_none(
                [m.server_cpu_us_per_request for m in rounds]),
            "ratio_to_baseline": None,
            "ratios": {},
            # The reference's server CPU per request over this one's, per round: > 1 is cheaper.
            "cpu_ratios": {},
            "rounds": [asdict(m) for m in rounds],
        }
        for reference in REFERENCES:
            reference_rounds = per_round.get(reference)
            if not reference_rounds or len(reference_rounds) != len(rounds):
                continue
            ratios = [m.requests_per_s / r.requests_per_s
                      for m, r in zip(rounds, reference_rounds) if r.requests_per_s]
            if ratios:
                entry["ratios"][reference] = _spread(ratios)
            cpu_ratios = [r.server_cpu_us_per_request / m.server_cpu_us_per_request
                          for m, r in zip(rounds, reference_rounds)
                          if m.server_cpu_us_per_request and r.server_cpu_us_per_request]
            if cpu_ratios:
                entry["cpu_ratios"][reference] = _spread(cpu_ratios)
        if BASELINE in entry["ratios"]:
            entry["ratio_to_baseline"] = entry["ratios"][BASELINE]["median"]
        summary[name] = entry
    return summary


def alternating_schedule(names: list[str], rounds: int) -> list[list[str]]:
    """One list of configurations per round, the order reversed every other round, so that a
    drift in the machine's load over a round weighs on every configuration alike."""
    return [list(names) if number % 2 == 0 else list(reversed(names)) for number in range(rounds)]


@dataclass
class Slot:
    """One configuration's turn in a round: where it ran, and what each endpoint measured."""

    round: int
    position: int
    name: str
    measurements: dict[str, Measurement]


def run_schedule(registry, configurations, layouts, options, conf_dir, workdir,
                 schedule: list[list[str]]) -> list[Slot]:
    """Start every configuration once, side by side (an idle stack uses no CPU), then give each
    its turns as the schedule says: a warm-up, then one measurement per endpoint. Turns a few
    seconds apart see the same machine, whatever else it runs."""
    lua_script = workdir / "report.lua"
    lua_script.write_text(WRK_REPORT_LUA)
    slots = []
    with contextlib.ExitStack() as running:
        stacks = {}
        for name in dict.fromkeys(name for names in schedule for name in names):
            log(f"starting {name}")
            stacks[name] = running.enter_context(
                RunningStack(registry, configurations[name], layouts[name], options, conf_dir))
        for round_number, names in enumerate(schedule, start=1):
            log(f"round {round_number}/{len(schedule)}: load {os.getloadavg()[0]:.2f}")
            for position, name in enumerate(names):
                stack = stacks[name]
                slot = Slot(round_number, position, name, {})
                if options.warmup:
                    # Refills nginx's pool (idle connections close while other stacks have their
                    # turn) and warms the app; its connections are outside every measured window.
                    run_wrk(registry, stack, ENDPOINTS[options.endpoints[0]], options.warmup,
                            lua_script)
                for endpoint in options.endpoints:
                    measurement = measure(registry, stack, ENDPOINTS[endpoint], lua_script)
                    slot.measurements[endpoint] = measurement
                    log(f"  {name} {endpoint}: {measurement.requests_per_s:.0f} req/s, "
                        f"p99 {measurement.p99_ms:.1f} ms, app {measurement.app_requests} req / "
                        f"{measurement.app_connections} conn, server CPU "
                        f"{_fmt(measurement.server_cpu_us_per_request, '.0f')} us/req, other CPU "
                        f"{measurement.other_cpu_pct:.0f} %")
                slots.append(slot)
    return slots


def run_throughput(registry, configurations, layouts, options, conf_dir, workdir
                   ) -> tuple[dict, list[dict]]:
    """Every configuration once per round; per endpoint a summary, and the load per round."""
    schedule = alternating_schedule(list(configurations), options.rounds)
    slots = run_schedule(registry, configurations, layouts, options, conf_dir, workdir, schedule)
    results = {}
    for endpoint in options.endpoints:
        per_config: dict[str, list[Measurement]] = {name: [] for name in configurations}
        for slot in sorted(slots, key=lambda s: s.round):
            per_config[slot.name].append(slot.measurements[endpoint])
        results[endpoint] = summarize(per_config)
    return results, load_by_round(slots)


# ---------------------------------------------------------------------------------------------
# Ablation: the rendered config with one setting removed or changed at a time


ABLATION_REFERENCE = "confgen"


@dataclass(frozen=True)
class Ablation:
    name: str
    change: str
    # Rendered nginx.conf -> the variant's text; None when the rendered config has nothing to change.
    apply: Callable[[str], str | None]
    # The app side, when the variant changes it instead (default: the rendered gunicorn.conf.py).
    gunicorn_conf: Path | None = None


def _header_line(header: str) -> str:
    return rf"^[ \t]*proxy_set_header[ \t]+{re.escape(header)}[ \t][^;]*;[^\n]*\n"


def _drop(*patterns: str) -> Callable[[str], str | None]:
    """Remove the lines matching every pattern; None unless each pattern matched at least once."""
    def apply(text: str) -> str | None:
        for pattern in patterns:
            text, count = re.subn(pattern, "", text, flags=re.M)
            if not count:
                return None
        return text
    return apply


def _substitute(pattern: str, replacement) -> Callable[[str], str | None]:
    def apply(text: str) -> str | None:
        changed, count = re.subn(pattern, replacement, text, flags=re.M)
        return changed if count and changed != text else None
    return apply


def _only_headers(*kept: str) -> Callable[[str], str | None]:
    """Drop every proxy_set_header except those named (case-insensitive)."""
    kept_lower = {header.lower() for header in kept}

    def keep(match: re.Match) -> str:
        return match.group(0) if match.group(1).lower() in kept_lower else ""
    return _substitute(r"^[ \t]*proxy_set_header[ \t]+(\S+)[ \t][^;]*;[^\n]*\n", keep)


def _set_proxy_buffering_off(text: str) -> str | None:
    if re.search(r"^[ \t]*proxy_buffering[ \t]", text, flags=re.M):
        return _substitute(r"^([ \t]*proxy_buffering[ \t]+)on;", r"\g<1>off;")(text)
    # Right after each proxy_pass, with its indentation.
    return _substitute(r"^([ \t]*)(proxy_pass[ \t][^;]*;[^\n]*\n)", r"\1\2\1proxy_buffering off;\n")(text)


def _scale_pool(factor: float) -> Callable[[str], str | None]:
    def scaled(match: re.Match) -> str:
        return f"{match.group(1)}{max(1, round(int(match.group(2)) * factor))};"
    return _substitute(r"^([ \t]*keepalive[ \t]+)(\d+);", scaled)


# The access log the rendered config writes when the profile does not turn it off (the adaptation
# moves the path into the run's directory).
_ACCESS_LOG_ON = "access_log /var/log/nginx/access.log"

ABLATIONS = (
    Ablation("hand-tuned", "configs/hand-tuned.conf and its gunicorn.conf.py, for scale "
             "(ratio > 1: faster than the rendered config)", lambda text: None),
    Ablation("no-x-real-ip", "drop proxy_set_header X-Real-IP", _drop(_header_line("X-Real-IP"))),
    Ablation("no-x-forwarded-host", "drop proxy_set_header X-Forwarded-Host",
             _drop(_header_line("X-Forwarded-Host"))),
    Ablation("no-x-forwarded-for-proto", "drop X-Forwarded-For and X-Forwarded-Proto "
             "(correctness: the app loses the client's address and scheme)",
             _drop(_header_line("X-Forwarded-For"), _header_line("X-Forwarded-Proto"))),
    Ablation("host-only", "pass only Host (and Connection \"\"), as hand-tuned does",
             _only_headers("Host", "Connection")),
    Ablation("forwarded-for-proto-only", "pass only Host, X-Forwarded-For and X-Forwarded-Proto "
             "(and Connection \"\"): what correctness needs, nothing repeated",
             _only_headers("Host", "Connection", "X-Forwarded-For", "X-Forwarded-Proto")),
    Ablation("no-add-header", "drop every add_header (the security headers sent with each "
             "response)", _drop(r"^[ \t]*add_header[ \t][^\n]*\n")),
    Ablation("keepalive-requests-10000", "keepalive_requests 10000 (client side and upstream)",
             _substitute(r"^([ \t]*keepalive_requests[ \t]+)\d+;", r"\g<1>10000;")),
    Ablation("gzip-off", "gzip off", _substitute(r"^([ \t]*gzip)[ \t]+on;", r"\1 off;")),
    Ablation("proxy-buffering-off", "proxy_buffering off", _set_proxy_buffering_off),
    Ablation("default-proxy-buffers", "drop proxy_buffer_size and proxy_buffers (nginx's "
             "defaults: one page each, 8 buffers)",
             _drop(r"^[ \t]*proxy_buffer_size[ \t][^\n]*\n", r"^[ \t]*proxy_buffers[ \t][^\n]*\n")),
    Ablation("access-log-on", f"{_ACCESS_LOG_ON}; (combined, unbuffered) instead of off",
             _substitute(r"^([ \t]*)access_log[ \t]+off;", rf"\1{_ACCESS_LOG_ON};")),
    Ablation("access-log-buffered", f"{_ACCESS_LOG_ON} combined buffer=64k flush=1s; instead of "
             "off", _substitute(r"^([ \t]*)access_log[ \t]+off;",
                                rf"\1{_ACCESS_LOG_ON} combined buffer=64k flush=1s;")),
    Ablation("pool-half", "upstream keepalive halved", _scale_pool(0.5)),
    Ablation("pool-double", "upstream keepalive doubled", _scale_pool(2)),
    Ablation("hand-tuned-app", "the rendered nginx.conf with hand-tuned's gunicorn.conf.py instead "
             "of the rendered one (app side only)", lambda text: text, HAND_TUNED_GUNICORN_CONF),
)


def _all_of(*names: str) -> Callable[[str], str | None]:
    """Several ablations at once, each applied where the rendered config has its setting."""
    def apply(text: str) -> str | None:
        changed = text
        for ablation in ABLATIONS:
            if ablation.name in names:
                changed = ablation.apply(changed) or changed
        return changed if changed != text else None
    return apply


# Everything the rendered config has beyond hand-tuned's, except the headers correctness needs:
# if this variant matches hand-tuned, the gap is the sum of these settings' small costs.
EXTRAS = ("no-add-header", "gzip-off", "default-proxy-buffers", "keepalive-requests-10000")
ABLATIONS += (Ablation("extras-off", "all of " + ", ".join(EXTRAS) + " at once (forwarded "
                       "headers kept)", _all_of(*EXTRAS)),)
ABLATION_NAMES = tuple(ablation.name for ablation in ABLATIONS)


def ablation_configurations(rendered: Configuration, hand_tuned: Configuration | None,
                            names: list[str]) -> tuple[dict[str, Configuration], dict[str, str]]:
    """The rendered config and one variant per ablation; and, per ablation that does not apply
    to this rendered config, why it was skipped."""
    configurations = {ABLATION_REFERENCE: rendered}
    skipped = {}
    for ablation in ABLATIONS:
        if ablation.name not in names:
            continue
        if ablation.name == "hand-tuned":
            configurations[ablation.name] = hand_tuned
            continue
        text = ablation.apply(rendered.nginx_conf_text)
        if text is None:
            skipped[ablation.name] = f"the rendered config has nothing to change ({ablation.change})"
            continue
        configurations[ablation.name] = Configuration(
            ablation.name, text, ablation.gunicorn_conf or rendered.gunicorn_conf)
    return configurations, skipped


def ablation_schedule(variants: list[str], rounds: int, every: int = 2) -> list[list[str]]:
    """Per round, the reference before, between every ``every`` variants, and after, so that each
    variant is measured next to the reference; the order reverses every other round."""
    schedule = []
    for order in alternating_schedule(variants, rounds):
        names = [ABLATION_REFERENCE]
        for start in range(0, len(order), every):
            names += order[start:start + every] + [ABLATION_REFERENCE]
        schedule.append(names)
    return schedule


def summarize_ablation(slots: list[Slot], endpoint: str) -> dict[str, dict]:
    """Each variant's req/s over the mean of the reference measured nearest before and after it
    in the same round; median and range over rounds."""
    ratios: dict[str, list[float]] = {}
    cpu_ratios: dict[str, list[float]] = {}
    rates: dict[str, list[float]] = {}
    cpu_costs: dict[str, list[float | None]] = {}
    for slot in slots:
        rate = slot.measurements[endpoint].requests_per_s
        cost = slot.measurements[endpoint].server_cpu_us_per_request
        rates.setdefault(slot.name, []).append(rate)
        cpu_costs.setdefault(slot.name, []).append(cost)
        if slot.name == ABLATION_REFERENCE:
            continue
        same_round = [s for s in slots if s.round == slot.round and s.name == ABLATION_REFERENCE]
        before = [s for s in same_round if s.position < slot.position]
        after = [s for s in same_round if s.position > slot.position]
        neighbours = ([max(before, key=lambda s: s.position)] if before else []) + \
                     ([min(after, key=lambda s: s.position)] if after else [])
        reference = statistics.mean(s.measurements[endpoint].requests_per_s for s in neighbours)
        if reference:
            ratios.setdefault(slot.name, []).append(rate / reference)
        reference_costs = [s.measurements[endpoint].server_cpu_us_per_request for s in neighbours]
        if cost and all(reference_costs):
            cpu_ratios.setdefault(slot.name, []).append(statistics.mean(reference_costs) / cost)
    summary = {}
    for name, values in rates.items():
        entry = {"requests_per_s": round(statistics.median(values), 1),
                 "spread_pct": round(100 * (max(values) - min(values)) / statistics.median(values), 1),
                 "server_cpu_us_per_request": _median_or_none(cpu_costs[name])}
        if name in ratios:
            entry["ratio_to_rendered"] = _spread(ratios[name])
        if name in cpu_ratios:
            entry["cpu_ratio_to_rendered"] = _spread(cpu_ratios[name])
        summary[name] = entry
    return summary


def run_ablation(registry, rendered: Configuration, hand_tuned: Configuration | None, layouts,
                 options, conf_dir, workdir) -> dict:
    configurations, skipped = ablation_configurations(rendered, hand_tuned, options.ablations)
    for name in configurations:
        layouts.setdefault(name, run_layout(workdir, name, options))
    variants = [name for name in configurations if name != ABLATION_REFERENCE]
    schedule = ablation_schedule(variants, options.rounds)
    slots = run_schedule(registry, configurations, layouts, options, conf_dir, workdir, schedule)
    changes = {ablation.name: ablation.change for ablation in ABLATIONS}
    return {"changes": {name: changes[name] for name in variants},
            "skipped": skipped,
            "endpoints": {endpoint: summarize_ablation(slots, endpoint)
                          for endpoint in options.endpoints},
            "load": load_by_round(slots)}


def load_by_round(slots: list[Slot]) -> list[dict]:
    """Per round: the 1-minute load average at its start and end and the other processes' CPU."""
    rounds = []
    for number in sorted({slot.round for slot in slots}):
        measured = [m for slot in slots if slot.round == number
                    for m in slot.measurements.values()]
        other = [m.other_cpu_pct for m in measured]
        rounds.append({"round": number, "load_start": measured[0].load_before,
                       "load_end": measured[-1].load_after,
                       "other_cpu_pct_median": round(statistics.median(other), 1),
                       "other_cpu_pct_max": round(max(other), 1)})
    return rounds


# ---------------------------------------------------------------------------------------------
# Idle race: POST bursts separated by idle gaps around the app's keep-alive


async def _post(port: int, body: bytes) -> str:
    """One POST on a fresh client connection: the race under test is on nginx's upstream side,
    so the client side must not add a keep-alive race of its own."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as error:
        return f"connect-error:{error.errno}"
    try:
        writer.write(b"POST /submit HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=30)
        await asyncio.wait_for(reader.read(), timeout=30)
        match = re.match(rb"HTTP/1\.[01] (\d{3})", status_line)
        return match.group(1).decode() if match else "no-response"
    except (OSError, asyncio.TimeoutError) as error:
        return f"client-error:{type(error).__name__}"
    finally:
        writer.close()


async def _burst(port: int, clients: int) -> list[str]:
    body = b'{"order": 1, "note": "non-idempotent"}'
    return await asyncio.gather(*(_post(port, body) for _ in range(clients)))


def gap_sweep(keepalive_s: float, points: int) -> list[float]:
    """``points`` idle gaps evenly from -1 % to +1 % of ``keepalive_s``."""
    if points == 1:
        return [keepalive_s]
    return [keepalive_s * (0.99 + 0.02 * i / (points - 1)) for i in range(points)]


UPSTREAM_ERROR_PATTERNS = ("Broken pipe", "reset by peer", "prematurely closed")


def run_idle_race_for(registry, configuration, layout, options, conf_dir, gaps: list[float],
                      bursts_per_gap: int) -> dict:
    counts: dict[str, int] = {}
    per_gap = []
    with RunningStack(registry, configuration, layout, options, conf_dir) as stack:
        layout = stack.layout
        log_offset = layout.nginx_error_log.stat().st_size if layout.nginx_error_log.exists() else 0

        async def scenario():
            await _burst(layout.port, options.connections)  # fills the pool; not counted
            for gap in gaps:
                gap_502 = gap_total = 0
                for _ in range(bursts_per_gap):
                    await asyncio.sleep(gap)
                    statuses = await _burst(layout.port, options.connections)
                    for status in statuses:
                        counts[status] = counts.get(status, 0) + 1
                    gap_502 += statuses.count("502")
                    gap_total += len(statuses)
                per_gap.append({"gap_s": round(gap, 4), "requests": gap_total, "502": gap_502})

        asyncio.run(scenario())
        with open(layout.nginx_error_log, "rb") as error_log:
            error_log.seek(log_offset)
            error_lines = error_log.read().decode(errors="replace").splitlines()
    upstream_errors = {pattern: sum(pattern in line for line in error_lines)
                       for pattern in UPSTREAM_ERROR_PATTERNS}
    total = sum(counts.values())
    return {"requests": total, "502": counts.get("502", 0),
            "502_pct": round(100 * counts.get("502", 0) / total, 2) if total else None,
            "statuses": counts, "nginx_error_log": upstream_errors, "per_gap": per_gap}


def run_idle_race(registry, configurations, layouts, options, conf_dir) -> dict:
    """The article's pairing and confgen's, each swept around the article's 2 s app keep-alive
    (where the article's pairing races) and, for confgen, also around its own app keep-alive
    (too long for --quick)."""
    results = {}
    article_keepalive = gunicorn_settings(ARTICLE_GUNICORN_CONF).get(
        "keepalive", GUNICORN_DEFAULT_KEEPALIVE_S)
    for name in ("article", "confgen"):
        if name not in configurations:
            continue
        configuration = configurations[name]
        keepalive = gunicorn_settings(configuration.gunicorn_conf).get(
            "keepalive", GUNICORN_DEFAULT_KEEPALIVE_S)
        sweeps = {"around_article_keepalive": (article_keepalive, options.race_points,
                                               options.race_bursts)}
        if keepalive != article_keepalive:
            if options.quick:
                sweeps["around_own_keepalive"] = None
            else:
                sweeps["around_own_keepalive"] = (keepalive, options.race_long_points, 1)
        results[name] = {"app_keepalive_s": keepalive, "sweeps": {}}
        for sweep_name, sweep in sweeps.items():
            if sweep is None:
                results[name]["sweeps"][sweep_name] = {
                    "skipped": f"gaps of ~{keepalive}s do not fit in --quick"}
                continue
            center, points, bursts = sweep
            gaps = gap_sweep(center, points)
            log(f"idle race: {name}, gaps {gaps[0]:.3f}..{gaps[-1]:.3f}s x {bursts} bursts "
                f"of {options.connections} POSTs")
            results[name]["sweeps"][sweep_name] = run_idle_race_for(
                registry, configuration, layouts[name], options, conf_dir, gaps, bursts)
    return results


# ---------------------------------------------------------------------------------------------
# CLI latency


def run_cli_latency(workdir: Path, runs: int) -> list[dict]:
    """Wall time of the commands a pre-commit hook would run, against Python's own start-up."""
    one_server = CONFIGS_DIR / "article.conf"
    commands: list[tuple[str, list[str] | None, str | None]] = [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        (f"confgen lint {one_server.name}", [*confgen_command(), "lint", str(one_server)], None),
    ]
    # --check needs files on disk to compare with: render a bundled profile first (the first
    # one that renders), then time the check against them.
    rendered = workdir / "cli-render"
    rendered.mkdir(parents=True, exist_ok=True)
    profile = next((candidate for candidate in sorted((REPO_DIR / "profiles").glob("*.y*ml"))
                    if subprocess.run([*confgen_command(), "render", str(candidate), "-o",
                                       str(rendered)], capture_output=True, cwd=REPO_DIR,
                                      env=_repo_env()).returncode == 0), None)
    if profile:
        commands.append((f"confgen render --check profiles/{profile.name}",
                         [*confgen_command(), "render", "--check", str(profile), "-o",
                          str(rendered)], None))
    else:
        commands.append(("confgen render --check", None,
                         "no bundled profile under profiles/ renders"))
    gixy = shutil.which("gixy")
    commands.append((f"gixy {one_server.name}", [gixy, str(one_server)] if gixy else None,
                     None if gixy else "gixy not installed"))
    rows = []
    for label, argv, skipped in commands:
        if skipped or argv is None:
            rows.append({"command": label, "skipped": skipped})
            continue
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO_DIR,
                                    env=_repo_env())
            times.append(time.perf_counter() - started)
            # 0 = clean, 1 = findings or a diff; anything else, or a Python traceback (which
            # also exits 1), means the command itself failed and its time means nothing.
            if result.returncode not in (0, 1) or "Traceback (most recent call last)" in result.stderr:
                last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
                rows.append({"command": label,
                             "skipped": f"exit {result.returncode}: {last[:120]}"})
                break
        else:
            rows.append({"command": label, "runs": runs,
                         "median_ms": round(1000 * statistics.median(times), 1),
                         "min_ms": round(1000 * min(times), 1),
                         "max_ms": round(1000 * max(times), 1)})
    return rows


# ---------------------------------------------------------------------------------------------
# Report


def machine_info() -> dict:
    def version(argv: list[str], pattern: str) -> str | None:
        try:
            result = subprocess.run(argv, capture_output=True, text=True)
        except OSError:
            return None
        match = re.search(pattern, result.stdout + result.stderr)
        return match.group(1) if match else None

    import importlib.metadata as metadata

    def package(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(),
            "nginx": version(["nginx", "-v"], r"nginx/(\S+)"),
            "wrk": version(["wrk", "-v"], r"wrk (\S+)"),
            "gunicorn": package("gunicorn"), "uvicorn": package("uvicorn"),
            "uvicorn_worker": package("uvicorn-worker"), "fastapi": package("fastapi")}


def _fmt(value, spec: str = "", none: str = "-") -> str:
    return none if value is None else format(value, spec)


def _ratio_text(spread: dict | None) -> str:
    if spread is None:
        return "-"
    return f"{spread['median']:.3f}x ({spread['min']:.2f}-{spread['max']:.2f})"


def format_report(report: dict) -> str:
    lines = []
    machine, settings = report["machine"], report["settings"]
    lines.append(f"{machine['date']}  {machine['cpus']} CPUs, nginx {machine['nginx']}, "
                 f"gunicorn {machine['gunicorn']}, uvicorn {machine['uvicorn']}, "
                 f"uvicorn-worker {machine['uvicorn_worker']}, wrk {machine['wrk']}")
    lines.append(f"wrk -t{settings['threads']} -c{settings['connections']} "
                 f"-d{settings['duration']}s, {settings['rounds']} rounds, "
                 f"nginx workers {settings['nginx_workers']}, app workers "
                 f"{settings['app_workers']}")
    for endpoint, per_config in report.get("throughput", {}).items():
        references = [r for r in REFERENCES[1:] if r in per_config]
        lines += ["", f"### {endpoint} (GET {ENDPOINTS[endpoint]})", "",
                  "| configuration | req/s | spread | vs baseline | "
                  + "".join(f"vs {r} (range) | " for r in references)
                  + "server CPU us/req | "
                  + "".join(f"CPU/req vs {r} | " for r in references)
                  + "p50 ms | p99 ms | non-2xx | socket errors | app req/conn | reused | other CPU |",
                  "|---|---|---|---|" + "---|" * (2 * len(references) + 1)
                  + "---|---|---|---|---|---|---|"]
        for name, s in per_config.items():
            ratio = s["ratio_to_baseline"]
            ratio_text = "-" if ratio is None else f"{100 * (ratio - 1):+.1f} %"
            if name == BASELINE:
                ratio_text = "baseline"
            reference_texts = ["reference" if name == reference else
                               _ratio_text(s["ratios"].get(reference))
                               for reference in references]
            reference_texts.append(_fmt(s["server_cpu_us_per_request"], ".0f"))
            reference_texts += ["reference" if name == reference else
                                _ratio_text(s["cpu_ratios"].get(reference))
                                for reference in references]
            reuse = ("all pooled" if s["requests_per_connection"] is None and s["app_requests"]
                     else _fmt(s["requests_per_connection"], ".2f"))
            lines.append(
                f"| {name} | {s['requests_per_s']:.0f} | {_fmt(s['spread_pct'], '.1f')} % | "
                f"{ratio_text} | " + "".join(f"{text} | " for text in reference_texts)
                + f"{s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['non_2xx']} | "
                f"{s['socket_errors']} | {reuse} | {_fmt(s['reused_pct'], '.1f')} % | "
                f"{s['other_cpu_pct']:.0f} % |")
    ablation = report.get("ablation")
    if ablation:
        endpoints = list(ablation["endpoints"])
        header = ["| variant | change | " + " | ".join(endpoints) + " |",
                  "|---|---|" + "---|" * len(endpoints)]
        lines += ["", "### ablation: req/s of the rendered config with one change, over the "
                  "unmodified rendered config measured just before and after it (median, range "
                  "over rounds; > 1: the change is faster)", "", *header]
        reference = {e: ablation["endpoints"][e][ABLATION_REFERENCE] for e in endpoints}
        lines.append(f"| {ABLATION_REFERENCE} | unmodified rendered config | " + " | ".join(
            f"{reference[e]['requests_per_s']:.0f} req/s (spread {reference[e]['spread_pct']:.0f} %)"
            for e in endpoints) + " |")
        for name, change in ablation["changes"].items():
            cells = " | ".join(_ratio_text(ablation["endpoints"][e][name].get("ratio_to_rendered"))
                               for e in endpoints)
            lines.append(f"| {name} | {change} | {cells} |")
        for name, reason in ablation["skipped"].items():
            lines.append(f"| {name} | skipped: {reason} |" + " |" * len(endpoints))
        lines += ["", "### ablation by server CPU per request (nginx + app, wrk excluded): the "
                  "unmodified config's over the variant's (> 1: the change is cheaper)", "",
                  *header]
        lines.append(f"| {ABLATION_REFERENCE} | unmodified rendered config | " + " | ".join(
            f"{_fmt(reference[e]['server_cpu_us_per_request'], '.0f')} us/req" for e in endpoints)
            + " |")
        for name, change in ablation["changes"].items():
            cells = " | ".join(
                _ratio_text(ablation["endpoints"][e][name].get("cpu_ratio_to_rendered"))
                for e in endpoints)
            lines.append(f"| {name} | {change} | {cells} |")
    load = report.get("load") or (ablation or {}).get("load")
    if load:
        lines += ["", "### machine load per round (other CPU: processes the harness did not "
                  "start, % of all CPUs)", "",
                  "| round | load avg start | load avg end | other CPU median | other CPU max |",
                  "|---|---|---|---|---|"]
        for row in load:
            lines.append(f"| {row['round']} | {row['load_start']:.2f} | {row['load_end']:.2f} | "
                         f"{row['other_cpu_pct_median']:.0f} % | {row['other_cpu_pct_max']:.0f} % |")
    race = report.get("idle_race")
    if race:
        lines += ["", "### idle race (POST bursts, idle gaps around the app keep-alive)", "",
                  "| pairing | app keepalive | sweep | gaps s | requests | 502 | nginx upstream "
                  "errors logged |", "|---|---|---|---|---|---|---|"]
        for name, entry in race.items():
            for sweep_name, sweep in entry["sweeps"].items():
                if "skipped" in sweep:
                    lines.append(f"| {name} | {entry['app_keepalive_s']} s | {sweep_name} | - | "
                                 f"- | - | skipped: {sweep['skipped']} |")
                    continue
                gaps = [g["gap_s"] for g in sweep["per_gap"]]
                logged = ", ".join(f"{k}: {v}" for k, v in sweep["nginx_error_log"].items() if v)
                lines.append(f"| {name} | {entry['app_keepalive_s']} s | {sweep_name} | "
                             f"{min(gaps):.3f}..{max(gaps):.3f} | {sweep['requests']} | "
                             f"{sweep['502']} ({_fmt(sweep['502_pct'], '.2f')} %) | "
                             f"{logged or 'none'} |")
    cli = report.get("cli_latency")
    if cli:
        lines += ["", "### CLI latency (wall time)", "", "| command | median ms | min | max | runs |",
                  "|---|---|---|---|---|"]
        for row in cli:
            if "skipped" in row:
                lines.append(f"| {row['command']} | skipped: {row['skipped']} | | | |")
            else:
                lines.append(f"| {row['command']} | {row['median_ms']} | {row['min_ms']} | "
                             f"{row['max_ms']} | {row['runs']} |")
    processes = report["processes"]
    lines += ["", f"processes: {len(processes['sessions'])} sessions started, "
                  f"{len(processes['leftover'])} left over; {report['elapsed_s']:.0f} s"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="nginx + gunicorn + FastAPI keep-alive benchmark (see bench/README.md).")
    parser.add_argument("--quick", action="store_true",
                        help="a run under two minutes: 2 rounds of 2 s, a short idle race, 5 CLI runs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--rounds", type=int, help="rounds over all configurations (default 3)")
    parser.add_argument("--duration", type=int, help="seconds of wrk per endpoint (default 6)")
    parser.add_argument("--warmup", type=int, help="seconds of wrk after each start, before the "
                        "measurements (default 1; 0: none)")
    parser.add_argument("--connections", type=int, default=32,
                        help="wrk connections (default 32, the load the profile is rendered for)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--nginx-workers", type=int, default=1,
                        help="worker_processes for every configuration (default 1, the article's)")
    parser.add_argument("--app-workers", type=int, default=2,
                        help="gunicorn workers for every configuration (default 2)")
    parser.add_argument("--configs", default=",".join(CONFIGURATIONS),
                        help="comma-separated configurations (default: all six)")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS),
                        help="comma-separated endpoints: sync, async, sized (default: all)")
    parser.add_argument("--no-idle-race", action="store_true", help="skip the idle-race scenario")
    parser.add_argument("--no-cli-latency", action="store_true", help="skip the CLI latency table")
    parser.add_argument("--race-bursts", type=int, help="bursts per idle gap (default 3)")
    parser.add_argument("--race-points", type=int, help="gaps per sweep around 2 s (default 11)")
    parser.add_argument("--race-long-points", type=int, default=3,
                        help="gaps in the sweep around confgen's own app keep-alive (default 3)")
    parser.add_argument("--cli-runs", type=int, help="runs per CLI command (default 20)")
    parser.add_argument("--ablate", action="store_true",
                        help="instead of the comparison: the rendered config with one setting "
                        "changed at a time, each as a ratio to the unmodified one (default 3 "
                        "rounds of 3 s; no idle race, no CLI latency)")
    parser.add_argument("--ablations", default=",".join(ABLATION_NAMES),
                        help="comma-separated ablations for --ablate (default: all)")
    parser.add_argument("--workdir", help="directory for configs, logs and sockets (default: a "
                        "new temp dir, removed afterwards)")
    options = parser.parse_args(argv)
    quick = options.quick
    defaults = {"rounds": 2 if quick else 3, "duration": 2 if quick else (3 if options.ablate else 6),
                "warmup": 1, "race_bursts": 1 if quick else 3,
                "race_points": 5 if quick else 11, "cli_runs": 5 if quick else 20}
    for key, value in defaults.items():
        if getattr(options, key) is None:
            setattr(options, key, value)
    options.configs = _choices(options.configs, CONFIGURATIONS, "--configs")
    options.endpoints = _choices(options.endpoints, tuple(ENDPOINTS), "--endpoints")
    options.ablations = _choices(options.ablations, ABLATION_NAMES, "--ablations")
    if options.ablate:
        options.no_idle_race = options.no_cli_latency = True
    for key in ("rounds", "duration", "connections", "threads", "nginx_workers", "app_workers",
                "race_bursts", "race_points", "race_long_points", "cli_runs"):
        if getattr(options, key) < 1:
            raise ConfgenError(f"--{key.replace('_', '-')} must be at least 1")
    if options.warmup < 0:
        raise ConfgenError("--warmup must not be negative")
    if options.threads > options.connections:
        raise ConfgenError("--threads must not exceed --connections (wrk needs one per thread)")
    return options


def _choices(text: str, allowed: tuple[str, ...], flag: str) -> list[str]:
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown or not chosen:
        raise ConfgenError(f"{flag}: unknown {', '.join(unknown) or 'empty list'}; "
                           f"choose from {', '.join(allowed)}")
    # Keep the canonical order: the baseline first, so every round starts the same way.
    return [item for item in allowed if item in chosen]


def check_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        raise ConfgenError(f"{' and '.join(missing)} not found: apt-get install -y nginx wrk")


def run(options: argparse.Namespace) -> dict:
    check_tools()
    started = time.monotonic()
    registry = ProcessRegistry()
    atexit.register(registry.stop_all)
    if options.workdir:
        workdir = Path(options.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        remove_workdir = False
    else:
        workdir = Path(tempfile.mkdtemp(prefix="confgen-bench-"))
        remove_workdir = True
    options.response_bytes = 2048
    report: dict = {}
    try:
        names = ["confgen", "hand-tuned"] if options.ablate else options.configs
        configurations = load_configurations(names, workdir, options,
                                             run_layout(workdir, "confgen", options).app_socket)
        conf_dir = nginx_conf_dir()
        layouts = {name: run_layout(workdir, name, options) for name in configurations}
        report["machine"] = machine_info()
        report["settings"] = {key: getattr(options, key) for key in (
            "quick", "rounds", "duration", "warmup", "connections", "threads", "nginx_workers",
            "app_workers", "configs", "endpoints", "response_bytes", "ablate")}
        report["command"] = " ".join(["python", "bench/keepalive.py", *sys.argv[1:]])
        if options.ablate:
            report["settings"]["ablations"] = options.ablations
            report["ablation"] = run_ablation(registry, configurations["confgen"],
                                              configurations["hand-tuned"], layouts, options,
                                              conf_dir, workdir)
        else:
            report["throughput"], report["load"] = run_throughput(
                registry, configurations, layouts, options, conf_dir, workdir)
        if not options.no_idle_race:
            report["idle_race"] = run_idle_race(registry, configurations, layouts, options,
                                                conf_dir)
        if not options.no_cli_latency:
            log(f"CLI latency: {options.cli_runs} runs per command")
            report["cli_latency"] = run_cli_latency(workdir, options.cli_runs)
    finally:
        registry.stop_all()
        leftover = registry.leftovers()
        report["processes"] = {"sessions": registry.sessions,
                               "leftover": [list(item) for item in leftover]}
        report["elapsed_s"] = round(time.monotonic() - started, 1)
        if remove_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if leftover:
        raise ConfgenError(f"processes left running: {leftover}")
    return report


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    try:
        options = parse_args(argv)
        report = run(options)
    except ConfgenError as error:
        for line in error.lines:
            print(f"bench: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except SystemExit as stop:
        if isinstance(stop.code, int) and stop.code > 128:
            print(f"bench: stopped by signal {stop.code - 128}; everything started was stopped",
                  file=sys.stderr)
        raise
    if options.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
