"""The keep-alive benchmark harness (bench/keepalive.py): a test of the harness, not of timings.

The end-to-end tests start real nginx, gunicorn and wrk for a few seconds. They are skipped when
nginx or wrk is missing, unless CONFGEN_REQUIRE_NGINX=1 (CI installs both), where that is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "bench" / "keepalive.py"
CONFIGS = REPO / "bench" / "configs"


def _load_harness():
    spec = importlib.util.spec_from_file_location("confgen_bench_keepalive", HARNESS)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


keepalive = _load_harness()


def _require_stack() -> None:
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    missing += [module for module in ("fastapi", "gunicorn", "uvicorn_worker")
                if importlib.util.find_spec(module) is None]
    if missing:
        message = f"the benchmark needs {', '.join(missing)}"
        if os.environ.get("CONFGEN_REQUIRE_NGINX") == "1":
            pytest.fail(message + " (CONFGEN_REQUIRE_NGINX=1)")
        pytest.skip(message)


def _processes_left(sessions: set[int], marker: str) -> list[str]:
    """Live processes in one of ``sessions`` or with ``marker`` on their command line, found
    independently of the harness's own bookkeeping."""
    left = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z":
            continue
        if int(fields[3]) in sessions or marker in cmdline:
            left.append(f"{entry}: {cmdline.strip()}")
    return left


# ---------------------------------------------------------------------------------------------
# The adaptation: only machine-bound lines change, the same way for every configuration.


def _layout(tmp_path: Path):
    return keepalive.RunLayout(tmp_path, 43210, tmp_path / "app.sock", 3)


def _directives(text: str, tmp_path: Path) -> list[tuple[str, tuple[str, ...]]]:
    import crossplane

    path = tmp_path / "parsed.conf"
    path.write_text(text)
    parsed = crossplane.parse(str(path), single=True)["config"][0]["parsed"]
    return [(d["directive"], tuple(d["args"])) for d in keepalive._walk(parsed)]


def test_adaptation_changes_only_addresses_paths_and_worker_count(tmp_path):
    adapted = keepalive.adapt_nginx_config((CONFIGS / "article.conf").read_text(), name="article",
                                           layout=_layout(tmp_path), conf_dir=Path("/etc/nginx"))
    directives = _directives(adapted, tmp_path)
    original = _directives((CONFIGS / "article.conf").read_text(), tmp_path)

    assert ("listen", ("127.0.0.1:43210",)) in directives
    assert ("server", (f"unix:{tmp_path}/app.sock", "fail_timeout=0")) in directives
    assert ("worker_processes", ("3",)) in directives
    assert ("pid", (f"{tmp_path}/nginx.pid",)) in directives
    assert ("error_log", (f"{tmp_path}/nginx-error.log",)) in directives
    assert ("include", ("/etc/nginx/mime.types",)) in directives
    assert ("daemon", ("off",)) in directives
    assert ("proxy_temp_path", (f"{tmp_path}/temp/proxy",)) in directives
    # What is measured stays as published.
    machine_bound = {"listen", "server", "worker_processes", "pid", "error_log", "include", "user"}
    kept = [d for d in original if d[0] not in machine_bound]
    for item in kept:
        assert item in directives, item
    assert ("keepalive", ("8",)) in directives
    assert ("user", ("nobody", "nogroup")) not in directives


def test_adaptation_keeps_one_listen_per_server_and_points_direct_proxy_pass_at_the_app(tmp_path):
    adapted = keepalive.adapt_nginx_config(
        (CONFIGS / "generator-style.conf").read_text(), name="generator-style",
        layout=_layout(tmp_path), conf_dir=Path("/etc/nginx"))
    directives = _directives(adapted, tmp_path)
    assert [d for d in directives if d[0] == "listen"] == [("listen", ("127.0.0.1:43210",))]
    assert ("proxy_pass", (f"http://unix:{tmp_path}/app.sock",)) in directives
    assert ("proxy_set_header", ("Connection", "$connection_upgrade")) in directives
    assert ("access_log", (f"{tmp_path}/access.log", "combined", "buffer=512k", "flush=1m")) in directives


@pytest.mark.parametrize(("target", "expected"), [
    ("http://gunicorn", "http://gunicorn"),
    ("http://gunicorn/api/", "http://gunicorn/api/"),
    ("http://127.0.0.1:8000", "http://unix:/s.sock"),
    ("http://127.0.0.1:8000/api/", "http://unix:/s.sock:/api/"),
    ("http://unix:/tmp/gunicorn.sock", "http://unix:/s.sock"),
    ("http://unix:/tmp/gunicorn.sock:/api/", "http://unix:/s.sock:/api/"),
    ("http://$backend", "http://$backend"),
])
def test_proxy_pass_targets(target, expected):
    assert keepalive._proxy_target(target, {"gunicorn"}, Path("/s.sock")) == expected


def test_gap_sweep_spans_one_percent_either_side():
    gaps = keepalive.gap_sweep(2.0, 5)
    assert gaps[0] == pytest.approx(1.98) and gaps[-1] == pytest.approx(2.02)
    assert gaps[2] == pytest.approx(2.0)


def test_bad_options_are_one_line_errors():
    with pytest.raises(keepalive.ConfgenError, match="--configs: unknown nope"):
        keepalive.parse_args(["--configs", "article,nope"])
    with pytest.raises(keepalive.ConfgenError, match="--rounds must be at least 1"):
        keepalive.parse_args(["--rounds", "0"])


# ---------------------------------------------------------------------------------------------
# End to end


def test_short_run_measures_reuse_on_the_app_side_and_stops_everything(tmp_path):
    _require_stack()
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, str(HARNESS), "--json", "--rounds", "1", "--duration", "1",
         "--warmup", "1", "--endpoints", "async", "--configs", "generator-style,confgen",
         "--no-idle-race", "--no-cli-latency", "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)

    sessions = set(report["processes"]["sessions"])
    # gunicorn and nginx per configuration, and wrk (warm-up + measurement) per endpoint.
    assert len(sessions) >= 8
    assert report["processes"]["leftover"] == []
    assert _processes_left(sessions, str(workdir)) == []

    results = report["throughput"]["async"]
    confgen, generator = results["confgen"], results["generator-style"]
    for entry in (confgen, generator):
        assert entry["requests_per_s"] > 0
        assert entry["app_requests"] > 0
    # confgen pools upstream connections: far fewer accepted connections than requests.
    assert confgen["app_connections"] < confgen["app_requests"] / 2
    # generator-style sends Connection: close upstream: one request per accepted connection.
    # (Connections cut when wrk stops mid-request count without a request: a few percent below 1.)
    assert generator["requests_per_connection"] == pytest.approx(1.0, abs=0.1)


def test_interrupt_stops_everything_started(tmp_path):
    _require_stack()
    workdir = tmp_path / "run"
    harness = subprocess.Popen(
        [sys.executable, str(HARNESS), "--rounds", "1", "--duration", "20", "--warmup", "0",
         "--endpoints", "sync", "--configs", "article", "--no-idle-race", "--no-cli-latency",
         "--workdir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_files = [workdir / "article" / "gunicorn.pid", workdir / "article" / "nginx.pid"]
    try:
        deadline = time.monotonic() + 60
        # A pid file exists a moment before its pid is written: wait for the contents.
        while not all(p.exists() and p.read_text().strip() for p in pid_files) and time.monotonic() < deadline:
            assert harness.poll() is None, harness.stderr.read()
            time.sleep(0.1)
        assert all(p.exists() and p.read_text().strip() for p in pid_files), "the harness did not start gunicorn and nginx"
        # Masters are session leaders: their pids are the sessions holding their workers.
        sessions = {int(p.read_text().split()[0]) for p in pid_files}
        time.sleep(1)  # wrk is running now
        harness.send_signal(signal.SIGINT)
        _, stderr = harness.communicate(timeout=60)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
    assert harness.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr
    assert _processes_left(sessions, str(workdir)) == []
